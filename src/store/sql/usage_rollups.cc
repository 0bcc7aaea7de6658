#include "store/sql/usage_rollups.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/error.h"
#include "store/sql/codec.h"

namespace stackbill::sql {
namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kMonth = 0;  // calendar months (UTC): no fixed length

// One rollup table: its bucket length, whether it is per resource, and its
// number in usage_rollup_buckets.
struct Table {
  std::string_view name;
  std::int64_t unit;
  bool resource;
  std::int64_t id;
};
constexpr Table kHours{"usage_rollup_hours", kHour, false, 0};
constexpr Table kDays{"usage_rollup_days", kDay, false, 1};
constexpr Table kResourceDays{"usage_rollup_resource_days", kDay, true, 2};
constexpr Table kMonths{"usage_rollup_months", kMonth, false, 3};

// The bucket that holds `t`: hours, days or months since the epoch.
std::int64_t Bucket(Timestamp t, std::int64_t unit) {
  if (unit == kMonth) {
    const YearMonth m = YearMonth::Of(t);
    return (std::int64_t{m.year()} - 1970) * 12 + (m.month() - 1);
  }
  const std::int64_t s = t.unix_seconds();
  return s / unit - (s % unit < 0 ? 1 : 0);
}

// The first instant of a bucket.
Timestamp BucketStart(std::int64_t bucket, std::int64_t unit) {
  if (unit == kMonth) {
    const std::int64_t year = 1970 + (bucket >= 0 ? bucket / 12 : (bucket - 11) / 12);
    const std::int64_t month = bucket - (year - 1970) * 12 + 1;
    return YearMonth(static_cast<int>(year), static_cast<int>(month)).Start();
  }
  return Timestamp::FromUnixSeconds(bucket * unit);
}

// The key columns of a rollup table, in primary-key order (time first:
// schema 7).
std::string_view KeyColumns(const Table& table) {
  return table.resource ? "reported_bucket, usage_bucket, billed_subscription_id, meter_id, "
                          "resource_uri, cloud_id, tenant_id, local_subscription_id"
                        : "reported_bucket, usage_bucket, billed_subscription_id, meter_id, "
                          "cloud_id, tenant_id, local_subscription_id";
}

std::string_view KeyCondition(const Table& table) {
  return table.resource
             ? "reported_bucket = ? AND usage_bucket = ? AND billed_subscription_id = ? AND "
               "meter_id = ? AND resource_uri = ? AND cloud_id = ? AND tenant_id = ? AND "
               "local_subscription_id = ?"
             : "reported_bucket = ? AND usage_bucket = ? AND billed_subscription_id = ? AND "
               "meter_id = ? AND cloud_id = ? AND tenant_id = ? AND local_subscription_id = ?";
}

constexpr std::array<Table, UsageRollupDelta::kTableCount> kTables = {kHours, kDays, kResourceDays,
                                                                      kMonths};

// A (reported, usage) bucket pair of one rollup.
struct BucketPair {
  std::int64_t reported = 0;
  std::int64_t usage = 0;
};

// The bucket pairs of `table` that hold rows (or did) whose reported or
// usage bucket — per `basis` — is in [from, to).
absl::StatusOr<std::vector<BucketPair>> BucketPairs(Connection& c, const Table& table,
                                                    UsageTimeBasis basis, std::int64_t from,
                                                    std::int64_t to) {
  STACKBILL_ASSIGN_OR_RETURN(
      Statement stmt,
      c.Prepare(basis == UsageTimeBasis::kReported
                    ? "SELECT reported_bucket, usage_bucket FROM usage_rollup_buckets "
                      "WHERE rollup = ? AND reported_bucket >= ? AND reported_bucket < ?"
                    : "SELECT reported_bucket, usage_bucket FROM usage_rollup_buckets "
                      "WHERE rollup = ? AND usage_bucket >= ? AND usage_bucket < ?"));
  stmt.BindInt(table.id).BindInt(from).BindInt(to);
  std::vector<BucketPair> pairs;
  for (;;) {
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    BucketPair& pair = pairs.emplace_back();
    pair.reported = stmt.ReadInt();
    pair.usage = stmt.ReadInt();
  }
  return pairs;
}

}  // namespace

bool UsageRollupDelta::empty() const {
  for (const Sums& sums : sums_) {
    if (!sums.empty()) return false;
  }
  return true;
}

absl::Status UsageRollupDelta::Add(const UsageRecord& r, int sign) {
  for (std::size_t t = 0; t < kTables.size(); ++t) {
    const Table& table = kTables[t];
    Key key{Bucket(r.reported_time, table.unit),
            Bucket(r.usage_start, table.unit),
            r.routing.billed_subscription_id,
            r.meter_id,
            table.resource ? r.resource_uri : std::string(),
            r.cloud_id,
            r.tenant_id,
            r.local_subscription_id};
    Sum& sum = sums_[t][std::move(key)];
    STACKBILL_ASSIGN_OR_RETURN(
        sum.quantity, sign > 0 ? sum.quantity.Add(r.quantity) : sum.quantity.Subtract(r.quantity));
    sum.records += sign;
    if (sign < 0) sum.taken = true;
    if (sign > 0 && table.resource) sum.instance_data = r.instance_data;
  }
  return absl::OkStatus();
}

absl::Status UsageRollupDelta::Apply(Connection& c) const {
  STACKBILL_ASSIGN_OR_RETURN(Statement add_pair,
                             c.Prepare("INSERT INTO usage_rollup_buckets (rollup, reported_bucket, "
                                       "usage_bucket) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"));
  for (std::size_t t = 0; t < kTables.size(); ++t) {
    const Table& table = kTables[t];
    const bool resource = table.resource;
    // Without copies (Statement::BindTextRef): the keys live in sums_, which
    // outlives every statement here.
    auto bind_key = [resource](Statement& stmt, const Key& k) {
      stmt.BindInt(k.reported).BindInt(k.usage).BindGuidRef(k.subscription).BindGuidRef(k.meter);
      if (resource) stmt.BindTextRef(k.resource);
      stmt.BindGuidRef(k.cloud).BindGuidRef(k.tenant).BindGuidRef(k.local_subscription);
    };
    const std::size_t columns = resource ? 11 : 9;
    // Records only added (ingest, the new side of a re-route): one UPSERT
    // per key (or, on a server engine, per chunk of keys: the keys of a
    // delta are distinct), the quantities added by stackbill_quantity_add
    // (exact: R14).
    auto upsert_sql = [&](std::size_t rows) {
      return Cat("INSERT INTO ", table.name, " (", KeyColumns(table), ", quantity, records",
                 resource ? ", instance_data" : "", ") VALUES ", ValuesRows(rows, columns),
                 " ON CONFLICT (", KeyColumns(table),
                 ") DO UPDATE SET quantity = ", "stackbill_quantity_add(", table.name,
                 ".quantity, excluded.quantity), ", "records = ", table.name,
                 ".records + excluded.records",
                 resource ? ", instance_data = excluded.instance_data" : "");
    };
    // Prepared at its first use: on a server engine the chunks below may
    // need the one-row text too, and a statement held here would make them
    // prepare a private copy.
    std::optional<Statement> upsert;
    const bool batch_adds = c.batches_rows();
    std::vector<std::pair<const Key*, const Sum*>> adds;
    // Records taken away: each key is read, added to and written back —
    // deleted when no record is left in it.
    std::optional<Statement> get;
    std::optional<Statement> update;
    std::optional<Statement> drop;
    absl::flat_hash_set<std::pair<std::int64_t, std::int64_t>> pairs;
    // Adds `quantity` and `records` to the key (creating it), and lists its
    // bucket pair.
    auto add = [&](const Key& key, const Sum& sum, Quantity quantity,
                   std::int64_t records) -> absl::Status {
      if (!upsert) {
        STACKBILL_ASSIGN_OR_RETURN(Statement prepared, c.Prepare(upsert_sql(1)));
        upsert.emplace(std::move(prepared));
      }
      upsert->Reset();
      bind_key(*upsert, key);
      upsert->BindDecimal(quantity).BindInt(records);
      if (resource) upsert->BindText(sum.instance_data.value_or(""));
      pairs.emplace(key.reported, key.usage);
      return upsert->Run();
    };
    for (const auto& [key, sum] : sums_[t]) {
      if (sum.records == 0 && sum.quantity.IsZero()) continue;  // what came in went out
      if (!sum.taken) {
        adds.emplace_back(&key, &sum);
        continue;
      }
      if (!get) {
        STACKBILL_ASSIGN_OR_RETURN(
            Statement g, c.Prepare(Cat("SELECT quantity, records FROM ", table.name, " WHERE ",
                                       KeyCondition(table))));
        get.emplace(std::move(g));
        STACKBILL_ASSIGN_OR_RETURN(
            Statement u,
            c.Prepare(Cat("UPDATE ", table.name, " SET quantity = ?, records = ?",
                          resource ? ", instance_data = coalesce(?, instance_data)" : "", " WHERE ",
                          KeyCondition(table))));
        update.emplace(std::move(u));
        STACKBILL_ASSIGN_OR_RETURN(Statement d, c.Prepare(Cat("DELETE FROM ", table.name, " WHERE ",
                                                              KeyCondition(table))));
        drop.emplace(std::move(d));
      }
      get->Reset();
      bind_key(*get, key);
      STACKBILL_ASSIGN_OR_RETURN(bool row, get->Step());
      Quantity quantity;
      std::int64_t records = 0;
      if (row) {
        quantity = get->ReadDecimal<QuantityTraits>();
        records = get->ReadInt();
        STACKBILL_RETURN_IF_ERROR(get->read_status());
      }
      STACKBILL_ASSIGN_OR_RETURN(quantity, quantity.Add(sum.quantity));
      records += sum.records;
      if (records < 0 || (records == 0 && !quantity.IsZero())) {
        return absl::DataLossError(Cat("store: ", table.name, " would hold ", records,
                                       " records with quantity ", quantity.ToString(),
                                       ": the rollups no longer match usage_records"));
      }
      if (!row) {  // records added and taken in this transaction, some left
        STACKBILL_RETURN_IF_ERROR(add(key, sum, quantity, records));
        continue;
      }
      if (records == 0) {
        drop->Reset();
        bind_key(*drop, key);
        STACKBILL_RETURN_IF_ERROR(drop->Run());
        continue;
      }
      update->Reset();
      update->BindDecimal(quantity).BindInt(records);
      if (resource) {
        if (sum.instance_data) {
          update->BindText(*sum.instance_data);
        } else {
          update->BindNull();  // keep the stored one
        }
      }
      bind_key(*update, key);
      STACKBILL_RETURN_IF_ERROR(update->Run());
    }
    // In key order, as the bucket pairs below: writers beside each other
    // (Database::WriteShared) then lock shared rows in one order, not into a
    // deadlock; and one at a time, each UPSERT lands next to the last one in
    // the B-tree instead of anywhere.
    std::sort(adds.begin(), adds.end(),
              [](const auto& x, const auto& y) { return *x.first < *y.first; });
    if (!batch_adds) {
      for (const auto& [key, sum] : adds) {
        STACKBILL_RETURN_IF_ERROR(add(*key, *sum, sum->quantity, sum->records));
      }
    } else {
      std::size_t next = 0;
      for (const std::size_t n : RowChunks(adds.size(), 128)) {
        STACKBILL_ASSIGN_OR_RETURN(Statement chunk, c.Prepare(upsert_sql(n)));
        for (const auto& [key, sum] : std::span(adds).subspan(next, n)) {
          bind_key(chunk, *key);
          chunk.BindDecimal(sum->quantity).BindInt(sum->records);
          if (resource) chunk.BindText(sum->instance_data.value_or(""));
          pairs.emplace(key->reported, key->usage);
        }
        next += n;
        STACKBILL_RETURN_IF_ERROR(chunk.Run());
      }
    }
    std::vector<std::pair<std::int64_t, std::int64_t>> ordered(pairs.begin(), pairs.end());
    std::sort(ordered.begin(), ordered.end());
    for (const auto& [reported, usage] : ordered) {
      add_pair.Reset();
      add_pair.BindInt(table.id).BindInt(reported).BindInt(usage);
      STACKBILL_RETURN_IF_ERROR(add_pair.Run());
    }
  }
  return absl::OkStatus();
}

void UsageRollupDelta::Clear() {
  for (Sums& sums : sums_) sums.clear();
}

absl::Status BuildUsageRollupsIfNeeded(Database& db) {
  return db.Write([](Connection& c) -> absl::Status {
    STACKBILL_ASSIGN_OR_RETURN(Statement state,
                               c.Prepare("SELECT built FROM usage_rollup_state WHERE id = 1"));
    STACKBILL_ASSIGN_OR_RETURN(bool row, state.Step());
    if (row && state.ReadInt() == 1) return absl::OkStatus();
    STACKBILL_ASSIGN_OR_RETURN(
        Statement records,
        c.Prepare(
            "SELECT billed_subscription_id, reported_s, reported_ns, usage_start_s, "
            "usage_start_ns, meter_id, resource_uri, cloud_id, tenant_id, "
            "local_subscription_id, quantity, instance_data FROM usage_records ORDER BY seq"));
    UsageRollupDelta delta;
    std::int64_t pending = 0;
    UsageRecord r;
    for (;;) {
      STACKBILL_ASSIGN_OR_RETURN(bool more, records.Step());
      if (!more) break;
      r.routing.billed_subscription_id = records.ReadGuid();
      r.reported_time = records.ReadTime();
      r.usage_start = records.ReadTime();
      r.meter_id = records.ReadGuid();
      r.resource_uri = records.ReadText();
      r.cloud_id = records.ReadGuid();
      r.tenant_id = records.ReadGuid();
      r.local_subscription_id = records.ReadGuid();
      r.quantity = records.ReadDecimal<QuantityTraits>();
      r.instance_data = records.ReadText();
      STACKBILL_RETURN_IF_ERROR(records.read_status());
      STACKBILL_RETURN_IF_ERROR(delta.Add(r, +1));
      // Bounded memory on a large store: write every 100,000 records.
      if (++pending == 100000) {
        STACKBILL_RETURN_IF_ERROR(delta.Apply(c));
        delta.Clear();
        pending = 0;
      }
    }
    STACKBILL_RETURN_IF_ERROR(delta.Apply(c));
    return c.Run(
        "INSERT INTO usage_rollup_state (id, built) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET built = 1");
  });
}

namespace {

// The dimensions an aggregate is per (unset: not asked for), hashable while
// rows are summed; the result is sorted once at the end.
struct OutKey {
  std::int64_t start = 0;  // unix seconds of the bucket
  std::optional<Guid> subscription;
  std::optional<Guid> tenant;
  std::optional<Guid> meter;
  std::optional<Guid> cloud;
  std::optional<Guid> local_subscription;
  std::optional<std::string> resource;
  friend bool operator==(const OutKey&, const OutKey&) = default;
  friend auto operator<=>(const OutKey&, const OutKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const OutKey& k) {
    return H::combine(std::move(h), k.start, k.subscription, k.tenant, k.meter, k.cloud,
                      k.local_subscription, k.resource);
  }
};

struct Summed {
  OutKey key;
  UsageAggregate aggregate;
  std::int64_t latest_report = 0;  // per resource: whose instanceData is shown
};

std::string InList(std::string_view column, std::size_t n) {
  std::string sql = Cat(column, " IN (");
  for (std::size_t i = 0; i < n; ++i) sql += i == 0 ? "?" : ", ?";
  return sql + ")";
}

}  // namespace

namespace {

// The rows of one (reported day, usage day) pair of a subscription in item
// order — (meter, resource) within the usage day — for the merge below.
struct PairCursor {
  PairCursor(Statement s, BucketPair p) : stmt(std::move(s)), pair(p) {}
  Statement stmt;
  BucketPair pair;
  bool valid = false;
  Guid meter;
  std::string resource;
  Quantity quantity;
  std::int64_t records = 0;
  std::string instance_data;

  absl::Status Advance() {
    STACKBILL_ASSIGN_OR_RETURN(valid, stmt.Step());
    if (!valid) return absl::OkStatus();
    meter = stmt.ReadGuid();
    resource.assign(stmt.ReadTextView());
    quantity = stmt.ReadDecimal<QuantityTraits>();
    records = stmt.ReadInt();
    instance_data.assign(stmt.ReadTextView());
    return stmt.read_status();
  }
  auto Key() const { return std::tie(meter, resource); }
};

// One page of a subscription's per-resource Daily usage — the Commerce API's
// page — without summing the whole window: the subscription's rows of each
// bucket pair in the window are read in item order, one seek per pair on the
// primary key, and merged until the page is full, so a page reads about its
// own items' rows whatever the window or the store holds. The same result as
// the general path, page by page.
absl::StatusOr<std::vector<UsageAggregate>> PageOfResourceDays(Connection& c,
                                                               const UsageAggregateFilter& f) {
  const Guid subscription = f.billed_subscription_ids->front();
  STACKBILL_ASSIGN_OR_RETURN(
      std::vector<BucketPair> pairs,
      BucketPairs(c, kResourceDays, f.basis, Bucket(f.from, kDay), Bucket(f.to, kDay)));
  const std::int64_t after_day = f.after ? Bucket(f.after->start, kDay) : 0;
  constexpr std::string_view kSql =
      "SELECT meter_id, resource_uri, quantity, records, instance_data "
      "FROM usage_rollup_resource_days "
      "WHERE reported_bucket = ? AND usage_bucket = ? AND billed_subscription_id = ?";
  constexpr std::string_view kOrder = " ORDER BY meter_id, resource_uri";
  // Items are in (usage day, meter, resource) order, so the pairs are taken
  // one usage day at a time, from the page's first day: a page opens the
  // cursors of its own days only.
  if (f.after) {
    std::erase_if(pairs, [after_day](const BucketPair& p) { return p.usage < after_day; });
  }
  std::sort(pairs.begin(), pairs.end(), [](const BucketPair& x, const BucketPair& y) {
    return std::tie(x.usage, x.reported) < std::tie(y.usage, y.reported);
  });
  std::vector<UsageAggregate> page;
  std::vector<PairCursor> cursors;
  for (std::size_t p = 0; p < pairs.size() && page.size() < f.limit;) {
    const std::int64_t usage = pairs[p].usage;
    const bool resume = f.after && usage == after_day;
    cursors.clear();
    for (; p < pairs.size() && pairs[p].usage == usage; ++p) {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement stmt,
          c.Prepare(Cat(kSql, resume ? " AND (meter_id, resource_uri) > (?, ?)" : "", kOrder)));
      stmt.BindInt(pairs[p].reported).BindInt(usage).BindGuid(subscription);
      if (resume) {
        stmt.BindGuid(f.after->meter_id.value_or(Guid()))
            .BindText(f.after->resource_uri.value_or(""));
      }
      PairCursor& cursor = cursors.emplace_back(std::move(stmt), pairs[p]);
      STACKBILL_RETURN_IF_ERROR(cursor.Advance());
    }
    // The day's items: the cursor with the smallest current item, merged
    // with the others' rows of that item.
    while (page.size() < f.limit) {
      PairCursor* head = nullptr;
      for (PairCursor& cursor : cursors) {
        if (cursor.valid && (head == nullptr || cursor.Key() < head->Key())) head = &cursor;
      }
      if (head == nullptr) break;
      UsageAggregate& a = page.emplace_back();
      a.start = Timestamp::FromUnixSeconds(usage * kDay);
      a.end = a.start.AddDays(1);
      if (f.by_subscription) a.billed_subscription_id = subscription;
      a.meter_id = head->meter;
      a.resource_uri = head->resource;
      std::int64_t latest_report = head->pair.reported;
      a.instance_data = head->instance_data;
      const Guid meter = head->meter;
      const std::string resource = head->resource;
      for (PairCursor& cursor : cursors) {
        while (cursor.valid && cursor.meter == meter && cursor.resource == resource) {
          STACKBILL_ASSIGN_OR_RETURN(a.quantity, a.quantity.Add(cursor.quantity));
          a.records += cursor.records;
          if (cursor.pair.reported >= latest_report) {
            latest_report = cursor.pair.reported;
            a.instance_data = cursor.instance_data;
          }
          STACKBILL_RETURN_IF_ERROR(cursor.Advance());
        }
      }
    }
  }
  return page;
}

}  // namespace

absl::StatusOr<std::vector<UsageAggregate>> AggregateUsageRollups(Connection& c,
                                                                  const UsageAggregateFilter& f) {
  if (f.from >= f.to || !f.from.IsHourAligned() || !f.to.IsHourAligned()) {
    return InvalidArgumentError(
        "InvalidTimeWindow",
        Cat("the window must be whole UTC hours with its start before its end (got ",
            f.from.ToString(), " to ", f.to.ToString(), ")"));
  }
  const bool day_aligned = f.from == f.from.TruncateToDay() && f.to == f.to.TruncateToDay();
  const bool days = day_aligned && f.granularity != UsageGranularity::kHour;
  if (days && f.granularity == UsageGranularity::kDay && f.limit > 0 && f.by_resource &&
      f.by_meter && !f.by_tenant && !f.by_stack && !f.by_local_subscription && !f.cloud_ids &&
      !f.local_subscription_ids && f.billed_subscription_ids &&
      f.billed_subscription_ids->size() == 1) {
    return PageOfResourceDays(c, f);
  }
  // The source: a rollup table, or — per resource by the hour — the records
  // themselves, read through the (subscription, reported time) and
  // (subscription, usage time) indexes: hourly records are that rollup.
  const bool records = f.by_resource && !days;
  const bool months = f.granularity == UsageGranularity::kMonth && !f.by_resource &&
                      f.from == f.from.TruncateToMonth() && f.to == f.to.TruncateToMonth();
  const Table& table = f.by_resource ? kResourceDays : (months ? kMonths : (days ? kDays : kHours));
  const std::int64_t unit = records ? 1 : table.unit;
  const std::string_view name = records ? "usage_records" : table.name;

  // The filters; the window is the pairs' (rollups) or a range (records).
  Where where;
  if (records) {
    const std::string_view basis =
        f.basis == UsageTimeBasis::kReported ? "reported_s" : "usage_start_s";
    where.Add(Cat(basis, " >= ?"), {Bucket(f.from, unit)});
    where.Add(Cat(basis, " < ?"), {Bucket(f.to, unit)});
  } else {
    where.Add("reported_bucket = ?").Add("usage_bucket = ?");  // bound per pair
  }
  for (const auto& [column, ids] :
       {std::pair{"billed_subscription_id", &f.billed_subscription_ids},
        std::pair{"cloud_id", &f.cloud_ids},
        std::pair{"local_subscription_id", &f.local_subscription_ids}}) {
    if (!ids->has_value()) continue;
    if ((*ids)->empty()) return std::vector<UsageAggregate>{};
    std::vector<SqlValue> values;
    for (const Guid& id : **ids) values.push_back(GuidValue(id));
    std::string condition = InList(column, values.size());  // before `values` moves
    where.Add(std::move(condition), std::move(values));
  }
  std::vector<BucketPair> pairs;
  if (!records) {
    STACKBILL_ASSIGN_OR_RETURN(
        pairs, BucketPairs(c, table, f.basis, Bucket(f.from, unit), Bucket(f.to, unit)));
  } else {
    pairs.emplace_back();  // one run of the statement
  }
  STACKBILL_ASSIGN_OR_RETURN(
      Statement stmt,
      c.Prepare(Cat("SELECT billed_subscription_id, ",
                    records ? "reported_s, usage_start_s" : "reported_bucket, usage_bucket",
                    ", meter_id, cloud_id, tenant_id, local_subscription_id, ",
                    f.by_resource ? "resource_uri, instance_data, " : "", "quantity, ",
                    records ? "1" : "records", " FROM ", name, where.Sql())));
  absl::flat_hash_map<OutKey, std::size_t> index;
  std::vector<Summed> out;
  OutKey key;
  std::optional<std::int64_t> last_usage_bucket;
  Timestamp start;
  Timestamp end;
  for (const BucketPair& pair : pairs) {
    stmt.Reset();
    if (!records) stmt.BindInt(pair.reported).BindInt(pair.usage);
    stmt.BindValues(where.values());
    for (;;) {
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      // Only the columns asked for are decoded.
      auto guid = [&stmt](bool wanted) {
        if (wanted) return stmt.ReadGuid();
        stmt.Skip();
        return Guid();
      };
      const Guid subscription = guid(f.by_subscription);
      const std::int64_t reported = stmt.ReadInt();
      const std::int64_t usage_bucket = stmt.ReadInt();
      const Guid meter = guid(f.by_meter);
      const Guid cloud = guid(f.by_stack);
      const Guid tenant = guid(f.by_tenant);
      const Guid local_subscription = guid(f.by_local_subscription);
      std::string_view resource;
      std::string_view instance_data;
      if (f.by_resource) {
        resource = stmt.ReadTextView();
        instance_data = stmt.ReadTextView();
      }
      const Quantity quantity = stmt.ReadDecimal<QuantityTraits>();
      const std::int64_t count = stmt.ReadInt();
      STACKBILL_RETURN_IF_ERROR(stmt.read_status());

      // The output bucket, computed again only when the usage bucket changes
      // (rows come a bucket pair at a time).
      if (usage_bucket != last_usage_bucket) {
        last_usage_bucket = usage_bucket;
        const Timestamp usage = BucketStart(usage_bucket, unit);
        start = usage.TruncateToHour();
        end = start.AddHours(1);
        if (f.granularity == UsageGranularity::kMonth) {
          start = YearMonth::Of(usage).Start();
          end = YearMonth::Of(usage).End();
        } else if (f.granularity == UsageGranularity::kDay) {
          start = usage.TruncateToDay();
          end = start.AddDays(1);
        }
      }
      key.start = start.unix_seconds();
      key.subscription = f.by_subscription ? std::optional(subscription) : std::nullopt;
      key.tenant = f.by_tenant ? std::optional(tenant) : std::nullopt;
      key.meter = f.by_meter ? std::optional(meter) : std::nullopt;
      key.cloud = f.by_stack ? std::optional(cloud) : std::nullopt;
      key.local_subscription =
          f.by_local_subscription ? std::optional(local_subscription) : std::nullopt;
      if (f.by_resource) {
        if (!key.resource) key.resource.emplace();
        key.resource->assign(resource);
      }
      auto [it, inserted] = index.try_emplace(key, out.size());
      if (inserted) {
        Summed& s = out.emplace_back();
        s.key = key;
        UsageAggregate& a = s.aggregate;
        a.start = start;
        a.end = end;
        a.billed_subscription_id = key.subscription;
        a.tenant_id = key.tenant;
        a.meter_id = key.meter;
        a.cloud_id = key.cloud;
        a.local_subscription_id = key.local_subscription;
        a.resource_uri = key.resource;
      }
      Summed& s = out[it->second];
      STACKBILL_ASSIGN_OR_RETURN(s.aggregate.quantity, s.aggregate.quantity.Add(quantity));
      s.aggregate.records += count;
      if (f.by_resource && (inserted || reported >= s.latest_report)) {
        s.latest_report = reported;
        s.aggregate.instance_data.assign(instance_data);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Summed& a, const Summed& b) { return a.key < b.key; });
  std::vector<UsageAggregate> result;
  result.reserve(out.size());
  for (Summed& s : out) {
    if (f.after && !(UsageAggregateKey::Of(s.aggregate) > *f.after)) continue;
    if (f.limit > 0 && result.size() == f.limit) break;
    result.push_back(std::move(s.aggregate));
  }
  return result;
}

}  // namespace stackbill::sql
