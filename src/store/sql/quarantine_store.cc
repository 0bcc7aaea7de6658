#include <optional>

#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"

namespace stackbill::sql {
namespace {

constexpr std::string_view kQuarantineColumns =
    "id, cloud_id, received_s, received_ns, code, message, raw_text, record_id, replayed_s, "
    "replayed_ns";

QuarantineEntry ReadEntry(Statement& stmt) {
  QuarantineEntry entry;
  entry.id = stmt.ReadInt();
  entry.cloud_id = stmt.ReadGuid();
  entry.received_at = stmt.ReadTime();
  entry.code = stmt.ReadText();
  entry.message = stmt.ReadText();
  entry.raw_text = stmt.ReadBlob();
  entry.record_id = stmt.ReadText();
  entry.replayed_at = stmt.ReadOptionalTime();
  return entry;
}

Where FilterWhere(const QuarantineFilter& filter) {
  Where where;
  if (filter.cloud_id) where.Add("cloud_id = ?", {GuidValue(*filter.cloud_id)});
  if (filter.code) where.Add("code = ?", {*filter.code});
  if (filter.received_from) {
    where.Add("(received_s, received_ns) >= (?, ?)",
              {std::int64_t{filter.received_from->unix_seconds()},
               std::int64_t{filter.received_from->nanos()}});
  }
  if (filter.received_to) {
    where.Add("(received_s, received_ns) < (?, ?)",
              {std::int64_t{filter.received_to->unix_seconds()},
               std::int64_t{filter.received_to->nanos()}});
  }
  if (filter.cloud_ids) {
    std::vector<SqlValue> values;
    for (const Guid& id : *filter.cloud_ids) values.push_back(GuidValue(id));
    // The condition first: the order in which arguments are evaluated is
    // unspecified, and std::move(values) may empty `values` before it is read.
    std::string condition =
        values.empty() ? "1 = 0" : Cat("cloud_id IN (", Placeholders(values.size()), ")");
    where.Add(std::move(condition), std::move(values));
  }
  if (filter.ids) {
    std::vector<SqlValue> values(filter.ids->begin(), filter.ids->end());
    std::string condition =
        values.empty() ? "1 = 0" : Cat("id IN (", Placeholders(values.size()), ")");
    where.Add(std::move(condition), std::move(values));
  }
  if (!filter.include_replayed) where.Add("replayed_s IS NULL");
  return where;
}

}  // namespace

absl::StatusOr<std::vector<std::int64_t>> InsertQuarantine(
    Connection& c, std::span<const QuarantineEntry> entries) {
  std::vector<std::int64_t> ids;
  ids.reserve(entries.size());
  if (entries.empty()) return ids;
  STACKBILL_ASSIGN_OR_RETURN(
      Statement insert,
      c.Prepare("INSERT INTO quarantine (cloud_id, received_s, received_ns, code, message, "
                "raw_text, record_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"));
  STACKBILL_ASSIGN_OR_RETURN(Statement pending,
                             c.Prepare("SELECT id FROM quarantine WHERE cloud_id = ? AND "
                                       "raw_text = ? AND replayed_s IS NULL"));
  STACKBILL_ASSIGN_OR_RETURN(Statement refresh,
                             c.Prepare("UPDATE quarantine SET code = ?, message = ? WHERE id = ?"));
  std::optional<Guid> locked;
  for (const auto& entry : entries) {
    // The same text already pending for the stack (a resend): that entry,
    // with the latest reason, instead of a second one. No unique key can say
    // so (a whole bad record is too long for one), hence the stack's lock,
    // for writers beside each other (Database::WriteShared).
    if (locked != entry.cloud_id) {
      STACKBILL_RETURN_IF_ERROR(c.LockKey(Cat("quarantine ", entry.cloud_id.ToString())));
      locked = entry.cloud_id;
    }
    pending.Reset();
    pending.BindGuid(entry.cloud_id).BindBlob(entry.raw_text);
    STACKBILL_ASSIGN_OR_RETURN(const bool found, pending.Step());
    if (found) {
      const std::int64_t id = pending.ReadInt();
      refresh.Reset();
      refresh.BindText(entry.code).BindText(entry.message).BindInt(id);
      STACKBILL_RETURN_IF_ERROR(refresh.Run());
      ids.push_back(id);
      continue;
    }
    insert.Reset();
    insert.BindGuid(entry.cloud_id)
        .BindTime(entry.received_at)
        .BindText(entry.code)
        .BindText(entry.message)
        .BindBlob(entry.raw_text)
        .BindText(entry.record_id);
    STACKBILL_ASSIGN_OR_RETURN(std::int64_t id, RunReturningId(insert));
    ids.push_back(id);
  }
  return ids;
}

std::string Placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.append(i == 0 ? "?" : ", ?");
  return out;
}

namespace {

class SqlQuarantineStore final : public QuarantineStore {
 public:
  explicit SqlQuarantineStore(Database& database) : db_(database) {}

  absl::StatusOr<std::vector<std::int64_t>> AddQuarantine(
      std::span<const QuarantineEntry> entries) override {
    for (const auto& entry : entries) {
      if (entry.code.empty() || entry.replayed_at) {
        return absl::InvalidArgumentError(
            "a quarantine entry needs a code and cannot be replayed already");
      }
    }
    std::vector<std::int64_t> ids;
    if (entries.empty()) return ids;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(ids, InsertQuarantine(c, entries));
      return absl::OkStatus();
    }));
    return ids;
  }

  absl::StatusOr<QuarantineEntry> GetQuarantine(std::int64_t id) override {
    std::optional<QuarantineEntry> entry;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(Cat("SELECT ", kQuarantineColumns,
                                                               " FROM quarantine WHERE id = ?")));
      stmt.BindInt(id);
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      entry = ReadEntry(stmt);
      return stmt.read_status();
    }));
    if (!entry) return NotFound(id);
    return *entry;
  }

  absl::StatusOr<Page<QuarantineEntry>> ListQuarantine(const QuarantineFilter& filter,
                                                       const PageRequest& page) override {
    STACKBILL_ASSIGN_OR_RETURN(std::optional<std::int64_t> after, ParsePage(page));
    Where where = FilterWhere(filter);
    if (after) where.Add("id > ?", {*after});
    Page<QuarantineEntry> result;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare(Cat("SELECT ", kQuarantineColumns, " FROM quarantine",
                                               where.Sql(), " ORDER BY id LIMIT ?")));
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

  absl::StatusOr<std::int64_t> CountQuarantine(const QuarantineFilter& filter) override {
    Where where = FilterWhere(filter);
    std::int64_t count = 0;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare(Cat("SELECT count(*) FROM quarantine", where.Sql())));
      stmt.BindValues(where.values());
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) count = stmt.ReadInt();
      return absl::OkStatus();
    }));
    return count;
  }

  absl::StatusOr<std::map<Guid, std::int64_t>> CountPendingQuarantineByStack() override {
    std::map<Guid, std::int64_t> counts;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare("SELECT cloud_id, count(*) FROM quarantine "
                                           "WHERE replayed_s IS NULL GROUP BY cloud_id"));
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        const Guid cloud_id = stmt.ReadGuid();
        const std::int64_t count = stmt.ReadInt();
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        counts[cloud_id] = count;
      }
    }));
    return counts;
  }

  absl::Status MarkReplayed(std::span<const std::int64_t> ids, Timestamp at) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement exists,
                                 c.Prepare("SELECT 1 FROM quarantine WHERE id = ?"));
      STACKBILL_ASSIGN_OR_RETURN(Statement mark,
                                 c.Prepare("UPDATE quarantine SET replayed_s = ?, replayed_ns = ? "
                                           "WHERE id = ? AND replayed_s IS NULL"));
      for (std::int64_t id : ids) {
        exists.Reset();
        exists.BindInt(id);
        STACKBILL_ASSIGN_OR_RETURN(bool known, exists.Step());
        if (!known) return NotFound(id);
        mark.Reset();
        mark.BindTime(at).BindInt(id);
        STACKBILL_RETURN_IF_ERROR(mark.Run());
      }
      return absl::OkStatus();
    });
  }

 private:
  static absl::Status NotFound(std::int64_t id) {
    return NotFoundError("QuarantineEntryNotFound", Cat("quarantine entry ", id, " not found"));
  }

  Database& db_;
};

}  // namespace

std::unique_ptr<QuarantineStore> NewSqlQuarantineStore(Database& database) {
  return std::make_unique<SqlQuarantineStore>(database);
}

}  // namespace stackbill::sql
