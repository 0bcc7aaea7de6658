#include <algorithm>
#include <map>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"
#include "store/sql/usage_rollups.h"

namespace stackbill::sql {
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

// Binds `r`'s fields without copies (Statement::BindTextRef): `r` must
// outlive the statement's next Reset.
void BindUsage(Statement& stmt, const UsageRecord& r) {
  stmt.BindGuidRef(r.cloud_id)
      .BindTextRef(r.record_id)
      .BindBlobRef(r.identity)
      .BindBlobRef(r.content_hash)
      .BindGuidRef(r.tenant_id)
      .BindGuidRef(r.local_subscription_id)
      .BindGuidRef(r.meter_id)
      .BindDecimal(r.quantity)
      .BindTime(r.usage_start)
      .BindTime(r.usage_end)
      .BindTextRef(r.resource_uri)
      .BindTextRef(r.instance_data)
      .BindGuidRef(r.routing.billed_subscription_id);
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

absl::Status CheckIdentities(std::span<const UsageRecord> batch) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].identity.empty() || batch[i].content_hash.empty()) {
      return absl::InvalidArgumentError(
          Cat("usage record ", i, " of the batch has no identity or content hash"));
    }
  }
  return absl::OkStatus();
}

// The core of the ingest contract, inside the caller's write transaction:
// the INSERT … ON CONFLICT DO NOTHING on the unique (cloud_id, identity) key
// (on PostgreSQL usage_identities' key: InsertRecordsInChunks) decides
// acceptance inside the database, so two writers (threads, stores, processes) racing on one
// identity cannot both accept it; the loser reads the winner's content_hash to tell a duplicate
// from a conflicting one. Within the batch a repeated identity conflicts with the row its first
// occurrence just inserted.
// The SQL backends' PreparedIngest: the rollup delta of every record of the write,
// summed by the request's own thread as if all were accepted — as all are,
// but for resends. WriteRecords applies it when they are, and sums the
// accepted ones itself when not. A 1M-record ingest spent 9 % of serve's CPU
// summing inside the write (docs/PERFORMANCE.md).
class SqlPreparedIngest final : public PreparedIngest {
 public:
  UsageRollupDelta rollups;
};

// The accepted records' rollups, in the write's transaction: `prepared`'s
// delta when every record was accepted, else the accepted ones summed here.
absl::Status ApplyRollups(Connection& c, std::span<const UsageRecord> batch,
                          const std::vector<UsageOutcome>& outcomes, PreparedIngest* prepared) {
  auto* summed = dynamic_cast<SqlPreparedIngest*>(prepared);
  if (summed != nullptr && std::all_of(outcomes.begin(), outcomes.end(), [](UsageOutcome o) {
        return o == UsageOutcome::kAccepted;
      })) {
    return summed->rollups.Apply(c);
  }
  UsageRollupDelta rollups;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (outcomes[i] == UsageOutcome::kAccepted) {
      STACKBILL_RETURN_IF_ERROR(rollups.Add(batch[i], +1));
    }
  }
  return rollups.Apply(c);
}

// The stored content hashes of `records` (by cloud and identity; none for
// an identity not stored), read with one SELECT per 64 of them.
absl::StatusOr<absl::flat_hash_map<std::pair<Guid, std::string>, std::string>> StoredHashes(
    Connection& c, const std::vector<const UsageRecord*>& records) {
  absl::flat_hash_map<std::pair<Guid, std::string>, std::string> hashes;
  std::size_t start = 0;
  for (const std::size_t n : RowChunks(records.size(), 64)) {
    std::string keys;
    for (std::size_t i = 0; i < n; ++i) {
      keys += i == 0 ? "(cloud_id = ? AND identity = ?)" : " OR (cloud_id = ? AND identity = ?)";
    }
    STACKBILL_ASSIGN_OR_RETURN(
        Statement select,
        c.Prepare(Cat("SELECT cloud_id, identity, content_hash FROM usage_records WHERE ", keys)));
    for (std::size_t i = start; i < start + n; ++i) {
      select.BindGuid(records[i]->cloud_id).BindBlob(records[i]->identity);
    }
    start += n;
    for (;;) {
      STACKBILL_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      Guid cloud = select.ReadGuid();
      std::string identity = select.ReadBlob();
      std::string hash = select.ReadBlob();
      STACKBILL_RETURN_IF_ERROR(select.read_status());
      hashes.emplace(std::pair<Guid, std::string>(cloud, std::move(identity)), std::move(hash));
    }
  }
  return hashes;
}

// Makes ready each month that `batch`'s usage is dated in
// (Connection::PrepareUsageMonth), once per run of records in one month.
absl::Status PrepareUsageMonths(Connection& c, std::span<const UsageRecord> batch) {
  Timestamp start;
  Timestamp end;  // [start, end): the month made ready last; empty at first
  for (const UsageRecord& record : batch) {
    if (start <= record.usage_start && record.usage_start < end) continue;
    const YearMonth month = YearMonth::Of(record.usage_start);
    STACKBILL_RETURN_IF_ERROR(c.PrepareUsageMonth(month));
    start = month.Start();
    end = month.End();
  }
  return absl::OkStatus();
}

// WriteRecords for a server engine (Connection::batches_rows), where every
// statement is a round trip and usage_records is partitioned by month, with
// R11's unique key in usage_identities (PostgreSQL: pg_schema.cc, version 2).
// Per chunk: a multi-row INSERT … ON CONFLICT DO NOTHING claims the new
// identities, drawing their seq, and returns them — it waits for a writer
// beside it that claimed one first, and sees the claim once that commits —;
// a multi-row INSERT stores the records claimed, each record whose identity
// came back (its first occurrence) being accepted; the stored hashes of the
// rest — a resend is all of them — are read for the chunk at once
// (StoredHashes).
absl::Status InsertRecordsInChunks(Connection& c, std::span<const UsageRecord> batch,
                                   std::vector<UsageOutcome>& outcomes) {
  constexpr std::size_t kColumns = 22;  // seq, then kUsageColumns
  std::size_t start = 0;
  for (const std::size_t n : RowChunks(batch.size(), 256)) {
    const std::span<const UsageRecord> chunk = batch.subspan(start, n);
    start += n;
    STACKBILL_ASSIGN_OR_RETURN(
        Statement claim,
        c.Prepare(Cat("INSERT INTO usage_identities (cloud_id, identity, usage_start_s, seq) "
                      "VALUES ",
                      ValuesRows(n, std::string_view("(?, ?, ?, nextval('usage_records_seq'))")),
                      " ON CONFLICT DO NOTHING RETURNING cloud_id, identity, seq")));
    for (const UsageRecord& record : chunk) {
      claim.BindGuid(record.cloud_id)
          .BindBlob(record.identity)
          .BindInt(record.usage_start.unix_seconds());
    }
    absl::flat_hash_map<std::pair<Guid, std::string>, std::int64_t> claimed;
    for (;;) {
      STACKBILL_ASSIGN_OR_RETURN(bool row, claim.Step());
      if (!row) break;
      Guid cloud = claim.ReadGuid();
      std::string identity = claim.ReadBlob();
      const std::int64_t seq = claim.ReadInt();
      STACKBILL_RETURN_IF_ERROR(claim.read_status());
      claimed.emplace(std::pair<Guid, std::string>(cloud, std::move(identity)), seq);
    }
    // Accepted: the first occurrence of each identity claimed. The others
    // were stored before (a resend, or a repeat within the batch).
    const std::size_t first = outcomes.size();
    std::vector<std::pair<std::int64_t, const UsageRecord*>> accepted;
    std::vector<const UsageRecord*> stored_before;
    for (const UsageRecord& record : chunk) {
      auto it = claimed.find(std::pair<Guid, std::string>(record.cloud_id, record.identity));
      if (it != claimed.end()) {
        accepted.emplace_back(it->second, &record);
        claimed.erase(it);
        outcomes.push_back(UsageOutcome::kAccepted);
      } else {
        stored_before.push_back(&record);
        outcomes.push_back(UsageOutcome::kDuplicate);
      }
    }
    std::size_t next = 0;
    for (const std::size_t rows : RowChunks(accepted.size(), 256)) {
      STACKBILL_ASSIGN_OR_RETURN(Statement insert,
                                 c.Prepare(Cat("INSERT INTO usage_records (seq, ", kUsageColumns,
                                               ") VALUES ", ValuesRows(rows, kColumns))));
      for (const auto& [seq, record] : std::span(accepted).subspan(next, rows)) {
        insert.BindInt(seq);
        BindUsage(insert, *record);
      }
      next += rows;
      STACKBILL_RETURN_IF_ERROR(insert.Run());
    }
    if (stored_before.empty()) continue;
    STACKBILL_ASSIGN_OR_RETURN(auto hashes, StoredHashes(c, stored_before));
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      if (outcomes[first + i] == UsageOutcome::kAccepted) continue;
      const UsageRecord& record = chunk[i];
      auto it = hashes.find(std::pair<Guid, std::string>(record.cloud_id, record.identity));
      // Its identity is held but its row is gone: its month's partition was
      // dropped (usage_identities outlive them; OPERATIONS.md, Retention).
      // Still a duplicate; its content can no longer be compared.
      if (it == hashes.end()) continue;
      outcomes[first + i] = it->second == record.content_hash ? UsageOutcome::kDuplicate
                                                              : UsageOutcome::kConflictingDuplicate;
    }
  }
  return absl::OkStatus();
}

// Stores the batch's records (R11): each accepted (new), or a duplicate of a
// stored record, or conflicting with one; their rollups in the same
// transaction. `prepared`, when given, holds the rollup delta of the whole
// batch (PrepareIngest).
absl::Status WriteRecords(Connection& c, std::span<const UsageRecord> batch,
                          std::vector<UsageOutcome>& outcomes, PreparedIngest* prepared = nullptr) {
  outcomes.clear();
  outcomes.reserve(batch.size());
  STACKBILL_RETURN_IF_ERROR(PrepareUsageMonths(c, batch));
  if (c.batches_rows()) {
    STACKBILL_RETURN_IF_ERROR(InsertRecordsInChunks(c, batch, outcomes));
    return ApplyRollups(c, batch, outcomes, prepared);
  }
  STACKBILL_ASSIGN_OR_RETURN(
      Statement insert, c.Prepare(Cat("INSERT INTO usage_records (", kUsageColumns,
                                      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                      "?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")));
  STACKBILL_ASSIGN_OR_RETURN(
      Statement stored,
      c.Prepare("SELECT content_hash FROM usage_records WHERE cloud_id = ? AND identity = ?"));
  // A resent batch is mostly duplicates and a new one mostly new records:
  // probe the identity first while the previous record was a duplicate (one
  // index probe, no row built and refused), insert first otherwise (ON
  // CONFLICT probes once). Either order is exact: this runs inside the write
  // transaction, which Database::Write gives one writer at a time.
  bool expect_duplicate = false;
  for (const UsageRecord& record : batch) {
    bool stored_before = expect_duplicate;
    if (!expect_duplicate) {
      insert.Reset();
      BindUsage(insert, record);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
      stored_before = c.changes() != 1;
    }
    std::optional<std::string> stored_hash;
    if (stored_before || expect_duplicate) {
      stored.Reset();
      stored.BindGuidRef(record.cloud_id).BindBlobRef(record.identity);
      STACKBILL_ASSIGN_OR_RETURN(bool row, stored.Step());
      if (row) stored_hash = stored.ReadBlob();
    }
    if (expect_duplicate && !stored_hash) {
      insert.Reset();
      BindUsage(insert, record);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
      if (c.changes() != 1) return absl::InternalError("usage record neither stored nor inserted");
    } else if (stored_before && !stored_hash) {
      return absl::InternalError("usage record conflicted but is not stored");
    }
    if (!stored_hash) {
      outcomes.push_back(UsageOutcome::kAccepted);
      expect_duplicate = false;
      continue;
    }
    outcomes.push_back(*stored_hash == record.content_hash ? UsageOutcome::kDuplicate
                                                           : UsageOutcome::kConflictingDuplicate);
    expect_duplicate = true;
  }
  return ApplyRollups(c, batch, outcomes, prepared);
}

// One write of an ingest group, inside its transaction (WriteIngestGroup):
// the records, their conflicts and the validation failures quarantined,
// replays marked; counts each stack's accepted records into `accepted`.
absl::Status WriteOne(Connection& c, const IngestWrite& write, IngestWriteResult& result,
                      std::map<Guid, StackIngestStats>& accepted) {
  STACKBILL_RETURN_IF_ERROR(WriteRecords(c, write.records, result.outcomes, write.prepared));
  result.conflict_ids.assign(write.records.size(), 0);
  std::vector<QuarantineEntry> conflicts;
  std::vector<std::size_t> conflict_index;
  std::vector<std::int64_t> replayed;
  for (std::size_t i = 0; i < write.records.size(); ++i) {
    const UsageRecord& record = write.records[i];
    const std::int64_t replay = write.replay_of.empty() ? 0 : write.replay_of[i];
    if (result.outcomes[i] == UsageOutcome::kAccepted) {
      // Only accepted usage counts: a stack that sent nothing new keeps its
      // last time (and is not listed until it has accepted usage).
      StackIngestStats& stats = accepted[record.cloud_id];
      ++stats.accepted;
      stats.last_received_at = std::max(stats.last_received_at, write.received_at);
    }
    if (result.outcomes[i] != UsageOutcome::kConflictingDuplicate) {
      if (replay != 0) replayed.push_back(replay);
      continue;
    }
    if (replay != 0) continue;  // still conflicting: its entry stays pending
    QuarantineEntry& entry = conflicts.emplace_back();
    entry.cloud_id = record.cloud_id;
    entry.received_at = write.received_at;
    entry.code = "ConflictingDuplicate";
    entry.message =
        "a record with this identity was accepted before with other content "
        "(a PlatformAdmin may supersede it)";
    entry.raw_text = std::string(write.raw_texts[i]);
    entry.record_id = record.record_id;
    conflict_index.push_back(i);
  }
  STACKBILL_ASSIGN_OR_RETURN(std::vector<std::int64_t> conflict_ids,
                             InsertQuarantine(c, conflicts));
  for (std::size_t k = 0; k < conflict_ids.size(); ++k) {
    result.conflict_ids[conflict_index[k]] = conflict_ids[k];
  }
  STACKBILL_ASSIGN_OR_RETURN(result.quarantine_ids, InsertQuarantine(c, write.quarantine));
  if (!replayed.empty()) {
    STACKBILL_ASSIGN_OR_RETURN(Statement mark,
                               c.Prepare("UPDATE quarantine SET replayed_s = ?, replayed_ns = ? "
                                         "WHERE id = ? AND replayed_s IS NULL"));
    for (std::int64_t id : replayed) {
      mark.Reset();
      mark.BindTime(write.received_at).BindInt(id);
      STACKBILL_RETURN_IF_ERROR(mark.Run());
    }
  }
  return absl::OkStatus();
}

constexpr std::string_view kSupersessionColumns =
    "id, cloud_id, identity, at_s, at_ns, actor_principal_id, reason, old_meter_id, "
    "old_quantity, old_usage_start_s, old_usage_start_ns, old_billed_subscription_id, "
    "old_content_hash, new_quantity";

UsageSupersession ReadSupersession(Statement& stmt) {
  UsageSupersession s;
  s.id = stmt.ReadInt();
  s.cloud_id = stmt.ReadGuid();
  s.identity = stmt.ReadBlob();
  s.at = stmt.ReadTime();
  s.actor_principal_id = stmt.ReadGuid();
  s.reason = stmt.ReadText();
  s.old_meter_id = stmt.ReadGuid();
  s.old_quantity = stmt.ReadDecimal<QuantityTraits>();
  s.old_usage_start = stmt.ReadTime();
  s.old_billed_subscription_id = stmt.ReadGuid();
  s.old_content_hash = stmt.ReadBlob();
  s.new_quantity = stmt.ReadDecimal<QuantityTraits>();
  return s;
}

class SqlUsageStore final : public UsageStore {
 public:
  explicit SqlUsageStore(Database& database) : db_(database) {}

  // One transaction per batch (WriteRecords).
  absl::StatusOr<std::vector<UsageOutcome>> WriteUsage(
      std::span<const UsageRecord> batch) override {
    STACKBILL_RETURN_IF_ERROR(CheckIdentities(batch));
    std::vector<UsageOutcome> outcomes;
    if (batch.empty()) return outcomes;
    STACKBILL_RETURN_IF_ERROR(
        db_.Write([&](Connection& c) { return WriteRecords(c, batch, outcomes); }));
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

  absl::StatusOr<std::vector<UsageTotal>> SumUsage(const UsageFilter& filter) override {
    Where where = FilterWhere(filter);
    std::map<std::pair<Guid, Guid>, UsageTotal> totals;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      // Summed here, not by SQL: quantities are exact decimals stored as text.
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare(Cat("SELECT billed_subscription_id, meter_id, quantity FROM usage_records",
                        where.Sql())));
      stmt.BindValues(where.values());
      for (;;) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        const Guid subscription = stmt.ReadGuid();
        const Guid meter = stmt.ReadGuid();
        const Quantity quantity = stmt.ReadDecimal<QuantityTraits>();
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
        UsageTotal& total = totals[{subscription, meter}];
        total.billed_subscription_id = subscription;
        total.meter_id = meter;
        ++total.records;
        STACKBILL_ASSIGN_OR_RETURN(total.quantity, total.quantity.Add(quantity));
      }
      return absl::OkStatus();
    }));
    std::vector<UsageTotal> out;
    out.reserve(totals.size());
    for (auto& [key, total] : totals) out.push_back(total);
    return out;
  }

  absl::Status UpdateRouting(std::span<const RoutingUpdate> updates) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement update,
          c.Prepare("UPDATE usage_records SET billed_subscription_id = ?, bill_to_kind = ?, "
                    "bill_to_partner_id = ?, bill_to_subscription_id = ?, routing_reason = ?, "
                    "reported_s = ?, reported_ns = ? WHERE cloud_id = ? AND identity = ?"));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement get, c.Prepare(Cat("SELECT ", kUsageColumns,
                                       " FROM usage_records WHERE cloud_id = ? AND identity = ?")));
      // The record moves in the rollups: out of its old routing and reported
      // time, into the new.
      UsageRollupDelta rollups;
      for (const RoutingUpdate& u : updates) {
        get.Reset();
        get.BindGuid(u.cloud_id).BindBlob(u.identity);
        STACKBILL_ASSIGN_OR_RETURN(bool found, get.Step());
        if (found) {
          UsageRecord record = ReadUsage(get);
          STACKBILL_RETURN_IF_ERROR(get.read_status());
          STACKBILL_RETURN_IF_ERROR(rollups.Add(record, -1));
          record.routing = u.routing;
          record.reported_time = u.reported_time;
          STACKBILL_RETURN_IF_ERROR(rollups.Add(record, +1));
        }
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
      return rollups.Apply(c);
    });
  }

  absl::StatusOr<std::vector<UsageAggregate>> AggregateUsage(
      const UsageAggregateFilter& filter) override {
    std::vector<UsageAggregate> result;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(result, AggregateUsageRollups(c, filter));
      return absl::OkStatus();
    }));
    return result;
  }

  int IngestGroupsAtOnce() const override { return db_.shared_writers(); }

  std::unique_ptr<PreparedIngest> PrepareIngest(std::span<const UsageRecord> records) override {
    auto prepared = std::make_unique<SqlPreparedIngest>();
    for (const UsageRecord& record : records) {
      // A sum out of range: the write sums again and reports it.
      if (!prepared->rollups.Add(record, +1).ok()) return nullptr;
    }
    return prepared;
  }

  absl::StatusOr<std::vector<IngestWriteResult>> WriteIngestGroup(
      std::span<const IngestWrite* const> writes) override {
    if (writes.empty()) return absl::InvalidArgumentError("an empty ingest group");
    for (const IngestWrite* write : writes) {
      STACKBILL_RETURN_IF_ERROR(CheckIdentities(write->records));
      if (write->raw_texts.size() != write->records.size() ||
          (!write->replay_of.empty() && write->replay_of.size() != write->records.size())) {
        return absl::InvalidArgumentError("raw_texts and replay_of must be parallel to records");
      }
      if (write->history_version != writes.front()->history_version) {
        return absl::InvalidArgumentError("an ingest group routed with two history versions");
      }
    }
    std::vector<IngestWriteResult> results;
    // Beside other ingest writes (on a server engine, from other requests
    // and nodes): the records are claimed through their unique key, the
    // rollups and the stacks' counts are commutative UPSERTs written in key
    // order, the quarantine's pending-text check runs under LockKey, and
    // the history version cannot change meanwhile (its writers use Write).
    STACKBILL_RETURN_IF_ERROR(db_.WriteShared([&](Connection& c) -> absl::Status {
      results.assign(writes.size(), {});
      if (const auto& expected = writes.front()->history_version) {
        STACKBILL_ASSIGN_OR_RETURN(std::int64_t version, ReadHistoryVersion(c));
        if (version != *expected) {
          return FailedPreconditionError(
              store_errors::kHistoryChanged,
              Cat("the history changed (version ", version, ", routed with ", *expected, ")"));
        }
      }
      std::map<Guid, StackIngestStats> accepted;  // in key order
      for (std::size_t i = 0; i < writes.size(); ++i) {
        STACKBILL_RETURN_IF_ERROR(WriteOne(c, *writes[i], results[i], accepted));
      }
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stats,
          c.Prepare("INSERT INTO stack_ingest_stats (cloud_id, last_s, last_ns, accepted) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (cloud_id) DO UPDATE SET "
                    // The latest receipt, whichever writer commits last.
                    "last_s = CASE WHEN (excluded.last_s, excluded.last_ns) > "
                    "(stack_ingest_stats.last_s, stack_ingest_stats.last_ns) THEN excluded.last_s "
                    "ELSE stack_ingest_stats.last_s END, "
                    "last_ns = CASE WHEN (excluded.last_s, excluded.last_ns) > "
                    "(stack_ingest_stats.last_s, stack_ingest_stats.last_ns) THEN excluded.last_ns "
                    "ELSE stack_ingest_stats.last_ns END, "
                    "accepted = stack_ingest_stats.accepted + excluded.accepted"));
      for (const auto& [cloud, counted] : accepted) {
        stats.Reset();
        stats.BindGuid(cloud).BindTime(counted.last_received_at).BindInt(counted.accepted);
        STACKBILL_RETURN_IF_ERROR(stats.Run());
      }
      return absl::OkStatus();
    }));
    return results;
  }

  absl::StatusOr<std::vector<RerouteMarker>> ListRerouteMarkers() override {
    std::vector<RerouteMarker> markers;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT id, cloud_id, from_s FROM reroute_markers ORDER BY id"));
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return stmt.read_status();
        RerouteMarker& m = markers.emplace_back();
        m.id = stmt.ReadInt();
        m.cloud_id = stmt.ReadOptionalGuid();
        m.from = Timestamp::FromUnixSeconds(stmt.ReadInt());
      }
    }));
    return markers;
  }

  absl::Status DeleteRerouteMarkers(std::span<const std::int64_t> ids) override {
    if (ids.empty()) return absl::OkStatus();
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                                 c.Prepare("DELETE FROM reroute_markers WHERE id = ?"));
      for (std::int64_t id : ids) {
        stmt.Reset();
        stmt.BindInt(id);
        STACKBILL_RETURN_IF_ERROR(stmt.Run());
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<UsageRecord> SupersedeUsage(const UsageRecord& replacement,
                                             const UsageSupersession& supersession) override {
    STACKBILL_RETURN_IF_ERROR(CheckIdentities({&replacement, 1}));
    std::optional<UsageRecord> old;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      old.reset();
      STACKBILL_ASSIGN_OR_RETURN(
          Statement get, c.Prepare(Cat("SELECT ", kUsageColumns,
                                       " FROM usage_records WHERE cloud_id = ? AND identity = ?")));
      get.BindGuid(replacement.cloud_id).BindBlob(replacement.identity);
      STACKBILL_ASSIGN_OR_RETURN(bool row, get.Step());
      if (!row) {
        return NotFoundError(
            store_errors::kUsageNotFound,
            Cat("cloud ", replacement.cloud_id.ToString(), ": no usage record has that identity"));
      }
      old = ReadUsage(get);
      STACKBILL_RETURN_IF_ERROR(get.read_status());
      STACKBILL_RETURN_IF_ERROR(PrepareUsageMonths(c, {&replacement, 1}));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement update,
          c.Prepare("UPDATE usage_records SET record_id = ?, content_hash = ?, tenant_id = ?, "
                    "local_subscription_id = ?, meter_id = ?, quantity = ?, usage_start_s = ?, "
                    "usage_start_ns = ?, usage_end_s = ?, usage_end_ns = ?, resource_uri = ?, "
                    "instance_data = ?, billed_subscription_id = ?, bill_to_kind = ?, "
                    "bill_to_partner_id = ?, bill_to_subscription_id = ?, routing_reason = ?, "
                    "reported_s = ?, reported_ns = ? WHERE cloud_id = ? AND identity = ?"));
      const UsageRecord& r = replacement;
      update.BindText(r.record_id)
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
      BindBillTo(update, r.routing.bill_to);
      BindEnum(update, r.routing.reason);
      update.BindTime(r.reported_time).BindGuid(r.cloud_id).BindBlob(r.identity);
      STACKBILL_RETURN_IF_ERROR(update.Run());
      UsageRollupDelta rollups;
      STACKBILL_RETURN_IF_ERROR(rollups.Add(*old, -1));
      STACKBILL_RETURN_IF_ERROR(rollups.Add(r, +1));
      STACKBILL_RETURN_IF_ERROR(rollups.Apply(c));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare("INSERT INTO usage_supersessions (cloud_id, identity, at_s, at_ns, "
                    "actor_principal_id, reason, old_meter_id, old_quantity, old_usage_start_s, "
                    "old_usage_start_ns, old_billed_subscription_id, old_content_hash, "
                    "new_quantity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      insert.BindGuid(r.cloud_id)
          .BindBlob(r.identity)
          .BindTime(supersession.at)
          .BindGuid(supersession.actor_principal_id)
          .BindText(supersession.reason)
          .BindGuid(old->meter_id)
          .BindDecimal(old->quantity)
          .BindTime(old->usage_start)
          .BindGuid(old->routing.billed_subscription_id)
          .BindBlob(old->content_hash)
          .BindDecimal(r.quantity);
      return insert.Run();
    }));
    return *old;
  }

  absl::StatusOr<std::vector<UsageSupersession>> ListSupersessions(
      const std::optional<Guid>& cloud_id) override {
    std::vector<UsageSupersession> out;
    Where where;
    if (cloud_id) where.Add("cloud_id = ?", {GuidValue(*cloud_id)});
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt, c.Prepare(Cat("SELECT ", kSupersessionColumns,
                                        " FROM usage_supersessions", where.Sql(), " ORDER BY id")));
      stmt.BindValues(where.values());
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        out.push_back(ReadSupersession(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return out;
  }

  absl::StatusOr<std::map<Guid, StackIngestStats>> ListStackIngestStats() override {
    std::map<Guid, StackIngestStats> out;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare("SELECT cloud_id, last_s, last_ns, accepted FROM stack_ingest_stats"));
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return stmt.read_status();
        const Guid cloud = stmt.ReadGuid();
        StackIngestStats& stats = out[cloud];
        stats.last_received_at = stmt.ReadTime();
        stats.accepted = stmt.ReadInt();
      }
    }));
    return out;
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<UsageStore> NewSqlUsageStore(Database& database) {
  return std::make_unique<SqlUsageStore>(database);
}

}  // namespace stackbill::sql
