#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"

namespace stackbill::sql {
namespace {

constexpr std::string_view kAuditColumns =
    "id, at_s, at_ns, actor_principal_id, actor_directory_id, action, resource, partner_id, "
    "before_json, after_json";

AuditEntry ReadEntry(Statement& stmt) {
  AuditEntry entry;
  entry.id = stmt.ReadInt();
  entry.at = stmt.ReadTime();
  entry.actor_principal_id = stmt.ReadGuid();
  entry.actor_directory_id = stmt.ReadGuid();
  entry.action = stmt.ReadText();
  entry.resource = stmt.ReadText();
  entry.partner_id = stmt.ReadOptionalText();
  entry.before_json = stmt.ReadText();
  entry.after_json = stmt.ReadText();
  return entry;
}

class SqlAuditLog final : public AuditLog {
 public:
  explicit SqlAuditLog(Database& database) : db_(database) {}

  absl::StatusOr<std::int64_t> Append(const AuditEntry& entry) override {
    if (entry.action.empty()) return absl::InvalidArgumentError("an audit entry needs an action");
    std::int64_t id = 0;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare("INSERT INTO audit_log (at_s, at_ns, actor_principal_id, actor_directory_id, "
                    "action, resource, partner_id, before_json, after_json) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"));
      insert.BindTime(entry.at)
          .BindGuid(entry.actor_principal_id)
          .BindGuid(entry.actor_directory_id)
          .BindText(entry.action)
          .BindText(entry.resource)
          .BindOptionalText(entry.partner_id)
          .BindText(entry.before_json)
          .BindText(entry.after_json);
      STACKBILL_ASSIGN_OR_RETURN(id, RunReturningId(insert));
      return absl::OkStatus();
    }));
    return id;
  }

  absl::StatusOr<Page<AuditEntry>> ListAudit(const AuditFilter& filter,
                                             const PageRequest& page) override {
    STACKBILL_ASSIGN_OR_RETURN(std::optional<std::int64_t> after, ParsePage(page));
    Page<AuditEntry> result;
    if (filter.partner_ids && filter.partner_ids->empty()) return result;
    Where where;
    if (filter.partner_ids) {
      std::string placeholders;
      std::vector<SqlValue> values;
      for (const auto& id : *filter.partner_ids) {
        placeholders += placeholders.empty() ? "?" : ", ?";
        values.push_back(id);
      }
      where.Add(Cat("partner_id IN (", placeholders, ")"), std::move(values));
    }
    // A prefix test that, unlike LIKE, has no wildcards (in the SQL of both
    // SQLite and PostgreSQL).
    if (filter.resource_prefix) {
      where.Add("substr(resource, 1, length(CAST(? AS TEXT))) = ?",
                {*filter.resource_prefix, *filter.resource_prefix});
    }
    if (after) where.Add("id < ?", {*after});
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt, c.Prepare(Cat("SELECT ", kAuditColumns, " FROM audit_log", where.Sql(),
                                        " ORDER BY id DESC LIMIT ?")));
      stmt.BindValues(where.values()).BindInt(page.limit + 1);
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        if (static_cast<int>(result.items.size()) == page.limit) {
          result.next_cursor = CursorAfter(result.items.back().id);
          return absl::OkStatus();
        }
        result.items.push_back(ReadEntry(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return result;
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<AuditLog> NewSqlAuditLog(Database& database) {
  return std::make_unique<SqlAuditLog>(database);
}

}  // namespace stackbill::sql
