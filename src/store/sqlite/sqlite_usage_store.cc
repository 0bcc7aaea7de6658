#include "core/error.h"
#include "store/sqlite/sqlite_area_stores.h"
#include "store/sqlite/sqlite_codec.h"

namespace stackbill::sqlite {
namespace {

constexpr std::string_view kUsageColumns =
    "cloud_id, record_id, identity, content_hash, tenant_id, local_subscription_id, meter_id, "
    "quantity, usage_start_s, usage_start_ns, usage_end_s, usage_end_ns, resource_uri, "
    "instance_data, billed_subscription_id, bill_to_kind, bill_to_partner_id, "
    "bill_to_subscription_id, routing_reason, reported_s, reported_ns";

UsageRecord ReadUsage(Statement& stmt) {
  UsageRecord r;
  r.cloud_id = stmt.ReadGuid();
  r.record_id = stmt.ReadText();
  r.identity = stmt.ReadBlob();
  r.content_hash = stmt.ReadBlob();
  r.tenant_id = stmt.ReadGuid();
  r.local_subscription_id = stmt.ReadGuid();
  r.meter_id = stmt.ReadGuid();
  r.quantity = stmt.ReadDecimal<QuantityTraits>();
  r.usage_start = stmt.ReadTime();
  r.usage_end = stmt.ReadTime();
  r.resource_uri = stmt.ReadText();
  r.instance_data = stmt.ReadText();
  r.routing.billed_subscription_id = stmt.ReadGuid();
  r.routing.bill_to = ReadBillTo(stmt);
  r.routing.reason = ReadEnum<RoutingReason>(stmt);
  r.reported_time = stmt.ReadTime();
  return r;
}

void BindUsage(Statement& stmt, const UsageRecord& r) {
  stmt.BindGuid(r.cloud_id)
      .BindText(r.record_id)
      .BindBlob(r.identity)
      .BindBlob(r.content_hash)
      .BindGuid(r.tenant_id)
      .BindGuid(r.local_subscription_id)
      .BindGuid(r.meter_id)
      .BindDecimal(r.quantity)
      .BindTime(r.usage_start)
      .BindTime(r.usage_end)
      .BindText(r.resource_uri)
      .BindText(r.instance_data)
      .BindGuid(r.routing.billed_subscription_id);
  BindBillTo(stmt, r.routing.bill_to);
  BindEnum(stmt, r.routing.reason);
  stmt.BindTime(r.reported_time);
}

std::vector<SqlValue> TimeValues(Timestamp t) {
  return {std::int64_t{t.unix_seconds()}, std::int64_t{t.nanos()}};
}

Where FilterWhere(const UsageFilter& filter) {
  Where where;
  if (filter.cloud_id) where.Add("cloud_id = ?", {GuidValue(*filter.cloud_id)});
  if (filter.billed_subscription_id) {
    where.Add("billed_subscription_id = ?", {GuidValue(*filter.billed_subscription_id)});
  }
  if (filter.usage_start_from) {
    where.Add("(usage_start_s, usage_start_ns) >= (?, ?)", TimeValues(*filter.usage_start_from));
  }
  if (filter.usage_start_to) {
    where.Add("(usage_start_s, usage_start_ns) < (?, ?)", TimeValues(*filter.usage_start_to));
  }
  if (filter.reported_from) {
    where.Add("(reported_s, reported_ns) >= (?, ?)", TimeValues(*filter.reported_from));
  }
  if (filter.reported_to) {
    where.Add("(reported_s, reported_ns) < (?, ?)", TimeValues(*filter.reported_to));
  }
  return where;
}

class SqliteUsageStore final : public UsageStore {
 public:
  explicit SqliteUsageStore(Database& database) : db_(database) {}

  // One transaction per batch: the INSERT … ON CONFLICT DO NOTHING on the
  // UNIQUE (cloud_id, identity) key decides acceptance inside the database,
  // so two writers (threads, stores, processes) racing on one identity cannot
  // both accept it; the loser reads the winner's content_hash to tell a
  // duplicate from a conflicting one. Within the batch a repeated identity
  // conflicts with the row its first occurrence just inserted.
  absl::StatusOr<std::vector<UsageOutcome>> WriteUsage(
      std::span<const UsageRecord> batch) override {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].identity.empty() || batch[i].content_hash.empty()) {
        return absl::InvalidArgumentError(
            Cat("usage record ", i, " of the batch has no identity or content hash"));
      }
    }
    std::vector<UsageOutcome> outcomes;
    if (batch.empty()) return outcomes;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      outcomes.clear();
      outcomes.reserve(batch.size());
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare(Cat("INSERT INTO usage_records (", kUsageColumns,
                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        "?, ?, ?) ON CONFLICT (cloud_id, identity) DO NOTHING")));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stored,
          c.Prepare("SELECT content_hash FROM usage_records WHERE cloud_id = ? AND identity = ?"));
      for (const UsageRecord& record : batch) {
        insert.Reset();
        BindUsage(insert, record);
        STACKBILL_RETURN_IF_ERROR(insert.Run());
        if (c.changes() == 1) {
          outcomes.push_back(UsageOutcome::kAccepted);
          continue;
        }
        stored.Reset();
        stored.BindGuid(record.cloud_id).BindBlob(record.identity);
        STACKBILL_ASSIGN_OR_RETURN(bool row, stored.Step());
        if (!row) return absl::InternalError("usage record conflicted but is not stored");
        outcomes.push_back(stored.ReadBlob() == record.content_hash
                               ? UsageOutcome::kDuplicate
                               : UsageOutcome::kConflictingDuplicate);
      }
      return absl::OkStatus();
    }));
    return outcomes;
  }

  absl::StatusOr<UsageRecord> GetUsage(const Guid& cloud_id, std::string_view identity) override {
    std::optional<UsageRecord> record;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare(Cat("SELECT ", kUsageColumns,
                        " FROM usage_records WHERE cloud_id = ? AND identity = ?")));
      stmt.BindGuid(cloud_id).BindBlob(identity);
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      record = ReadUsage(stmt);
      return stmt.read_status();
    }));
    if (!record) {
      return NotFoundError("UsageNotFound", Cat("cloud ", cloud_id.ToString(),
                                                ": no usage record has that identity"));
    }
    return *record;
  }

  absl::StatusOr<Page<UsageRecord>> ListUsage(const UsageFilter& filter,
                                              const PageRequest& page) override {
    STACKBILL_ASSIGN_OR_RETURN(std::optional<std::int64_t> after, ParsePage(page));
    Where where = FilterWhere(filter);
    if (after) where.Add("seq > ?", {*after});
    Page<UsageRecord> result;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare(Cat("SELECT seq, ", kUsageColumns, " FROM usage_records",
                                               where.Sql(), " ORDER BY seq LIMIT ?")));
      stmt.BindValues(where.values()).BindInt(page.limit + 1);
      std::int64_t last = 0;
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        if (static_cast<int>(result.items.size()) == page.limit) {
          result.next_cursor = CursorAfter(last);
          return absl::OkStatus();
        }
        last = stmt.ReadInt();
        result.items.push_back(ReadUsage(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return result;
  }

  absl::StatusOr<std::int64_t> CountUsage(const UsageFilter& filter) override {
    Where where = FilterWhere(filter);
    std::int64_t count = 0;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare(Cat("SELECT count(*) FROM usage_records", where.Sql())));
      stmt.BindValues(where.values());
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) count = stmt.ReadInt();
      return absl::OkStatus();
    }));
    return count;
  }

  absl::Status UpdateRouting(std::span<const RoutingUpdate> updates) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement update,
          c.Prepare("UPDATE usage_records SET billed_subscription_id = ?, bill_to_kind = ?, "
                    "bill_to_partner_id = ?, bill_to_subscription_id = ?, routing_reason = ?, "
                    "reported_s = ?, reported_ns = ? WHERE cloud_id = ? AND identity = ?"));
      for (const RoutingUpdate& u : updates) {
        update.Reset();
        update.BindGuid(u.routing.billed_subscription_id);
        BindBillTo(update, u.routing.bill_to);
        BindEnum(update, u.routing.reason);
        update.BindTime(u.reported_time).BindGuid(u.cloud_id).BindBlob(u.identity);
        STACKBILL_RETURN_IF_ERROR(update.Run());
        if (c.changes() == 0) {
          return NotFoundError("UsageNotFound",
                               Cat("cloud ", u.cloud_id.ToString(),
                                   ": no usage record has the identity to re-route"));
        }
      }
      return absl::OkStatus();
    });
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<UsageStore> NewSqliteUsageStore(Database& database) {
  return std::make_unique<SqliteUsageStore>(database);
}

}  // namespace stackbill::sqlite
