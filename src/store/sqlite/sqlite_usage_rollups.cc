#include "store/sqlite/sqlite_usage_rollups.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "core/error.h"
#include "store/sqlite/sqlite_codec.h"

namespace stackbill::sqlite {
namespace {

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;

// One rollup table: its bucket length and whether it is per resource.
struct Table {
  std::string_view name;
  std::int64_t unit;
  bool resource;
};
constexpr Table kHours{"usage_rollup_hours", kHour, false};
constexpr Table kDays{"usage_rollup_days", kDay, false};
constexpr Table kResourceDays{"usage_rollup_resource_days", kDay, true};

std::int64_t Bucket(Timestamp t, std::int64_t unit) {
  const std::int64_t s = t.unix_seconds();
  return s / unit - (s % unit < 0 ? 1 : 0);
}

// The key columns of a rollup table, in primary-key order.
std::string_view KeyColumns(const Table& table) {
  return table.resource ? "billed_subscription_id, reported_bucket, usage_bucket, meter_id, "
                          "resource_uri, cloud_id, tenant_id, local_subscription_id"
                        : "billed_subscription_id, reported_bucket, usage_bucket, meter_id, "
                          "cloud_id, tenant_id, local_subscription_id";
}

std::string_view KeyCondition(const Table& table) {
  return table.resource
             ? "billed_subscription_id = ? AND reported_bucket = ? AND usage_bucket = ? AND "
               "meter_id = ? AND resource_uri = ? AND cloud_id = ? AND tenant_id = ? AND "
               "local_subscription_id = ?"
             : "billed_subscription_id = ? AND reported_bucket = ? AND usage_bucket = ? AND "
               "meter_id = ? AND cloud_id = ? AND tenant_id = ? AND local_subscription_id = ?";
}

constexpr std::array<Table, UsageRollupDelta::kTableCount> kTables = {kHours, kDays, kResourceDays};

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
    Key key{r.routing.billed_subscription_id,
            Bucket(r.reported_time, table.unit),
            Bucket(r.usage_start, table.unit),
            r.meter_id,
            table.resource ? r.resource_uri : std::string(),
            r.cloud_id,
            r.tenant_id,
            r.local_subscription_id};
    Sum& sum = sums_[t][std::move(key)];
    STACKBILL_ASSIGN_OR_RETURN(
        sum.quantity, sign > 0 ? sum.quantity.Add(r.quantity) : sum.quantity.Subtract(r.quantity));
    sum.records += sign;
    if (sign > 0 && table.resource) sum.instance_data = r.instance_data;
  }
  return absl::OkStatus();
}

absl::Status UsageRollupDelta::Apply(Connection& c) {
  for (std::size_t t = 0; t < kTables.size(); ++t) {
    const Table& table = kTables[t];
    const bool resource = table.resource;
    // Each key is read, added to and written back — inserted when new,
    // deleted when no record is left in it.
    STACKBILL_ASSIGN_OR_RETURN(
        Statement get, c.Prepare(Cat("SELECT quantity, records FROM ", table.name, " WHERE ",
                                     KeyCondition(table))));
    STACKBILL_ASSIGN_OR_RETURN(
        Statement insert,
        c.Prepare(Cat("INSERT INTO ", table.name, " (", KeyColumns(table), ", quantity, records",
                      resource ? ", instance_data" : "", ") VALUES (",
                      resource ? "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" : "?, ?, ?, ?, ?, ?, ?, ?, ?",
                      ")")));
    STACKBILL_ASSIGN_OR_RETURN(
        Statement update,
        c.Prepare(Cat("UPDATE ", table.name, " SET quantity = ?, records = ?",
                      resource ? ", instance_data = coalesce(?, instance_data)" : "", " WHERE ",
                      KeyCondition(table))));
    STACKBILL_ASSIGN_OR_RETURN(
        Statement drop, c.Prepare(Cat("DELETE FROM ", table.name, " WHERE ", KeyCondition(table))));
    auto bind_key = [resource](Statement& stmt, const Key& k) {
      stmt.BindGuid(k.subscription).BindInt(k.reported).BindInt(k.usage).BindGuid(k.meter);
      if (resource) stmt.BindText(k.resource);
      stmt.BindGuid(k.cloud).BindGuid(k.tenant).BindGuid(k.local_subscription);
    };
    for (const auto& [key, sum] : sums_[t]) {
      if (sum.records == 0 && sum.quantity.IsZero()) continue;  // what came in went out
      get.Reset();
      bind_key(get, key);
      STACKBILL_ASSIGN_OR_RETURN(bool row, get.Step());
      Quantity quantity;
      std::int64_t records = 0;
      if (row) {
        quantity = get.ReadDecimal<QuantityTraits>();
        records = get.ReadInt();
        STACKBILL_RETURN_IF_ERROR(get.read_status());
      }
      STACKBILL_ASSIGN_OR_RETURN(quantity, quantity.Add(sum.quantity));
      records += sum.records;
      if (records < 0 || (records == 0 && !quantity.IsZero())) {
        return absl::DataLossError(Cat("sqlite: ", table.name, " would hold ", records,
                                       " records with quantity ", quantity.ToString(),
                                       ": the rollups no longer match usage_records"));
      }
      Statement& write = !row ? insert : records == 0 ? drop : update;
      write.Reset();
      if (&write == &drop) {
        bind_key(drop, key);
        STACKBILL_RETURN_IF_ERROR(drop.Run());
        continue;
      }
      if (&write == &insert) bind_key(insert, key);
      write.BindDecimal(quantity).BindInt(records);
      if (resource) {
        if (sum.instance_data) {
          write.BindText(*sum.instance_data);
        } else if (&write == &insert) {
          write.BindText("");  // unreachable: a new key has an added record
        } else {
          write.BindValues(std::vector<SqlValue>{nullptr});  // keep the stored one
        }
      }
      if (&write == &update) bind_key(update, key);
      STACKBILL_RETURN_IF_ERROR(write.Run());
    }
    sums_[t].clear();
  }
  return absl::OkStatus();
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
        pending = 0;
      }
    }
    STACKBILL_RETURN_IF_ERROR(delta.Apply(c));
    return c.Run("INSERT OR REPLACE INTO usage_rollup_state (id, built) VALUES (1, 1)");
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

// One reported day's rows of a subscription in item order — (usage day,
// meter, resource) — for the merge below.
struct DayCursor {
  DayCursor(Statement s, std::int64_t day) : stmt(std::move(s)), reported(day) {}
  Statement stmt;
  std::int64_t reported;
  bool valid = false;
  std::int64_t usage = 0;
  Guid meter;
  std::string resource;
  Quantity quantity;
  std::int64_t records = 0;
  std::string instance_data;

  absl::Status Advance() {
    STACKBILL_ASSIGN_OR_RETURN(valid, stmt.Step());
    if (!valid) return absl::OkStatus();
    usage = stmt.ReadInt();
    meter = stmt.ReadGuid();
    resource.assign(stmt.ReadTextView());
    quantity = stmt.ReadDecimal<QuantityTraits>();
    records = stmt.ReadInt();
    instance_data.assign(stmt.ReadTextView());
    return stmt.read_status();
  }
  auto Key() const { return std::tie(usage, meter, resource); }
};

// One page of a subscription's per-resource Daily usage — the Commerce API's
// page — without summing the whole window: the subscription's rows of each
// reported day in the window (by usage time: from the day before the window
// to its latest report) are read in item order and merged until the page is
// full, so a page reads about its own items' rows whatever the window holds.
// The same result as the general path, page by page.
absl::StatusOr<std::vector<UsageAggregate>> PageOfResourceDays(Connection& c,
                                                               const UsageAggregateFilter& f) {
  const Guid subscription = f.billed_subscription_ids->front();
  const std::int64_t from_day = Bucket(f.from, kDay);
  const std::int64_t to_day = Bucket(f.to, kDay);
  const bool by_usage = f.basis == UsageTimeBasis::kUsage;
  std::int64_t first = from_day;
  std::int64_t last = to_day - 1;
  if (by_usage) {
    // A record is reported after its usage (at most a day before, with the
    // ingest's future skew), so its reported day is from the day before.
    STACKBILL_ASSIGN_OR_RETURN(
        Statement latest,
        c.Prepare("SELECT reported_bucket FROM usage_rollup_resource_days "
                  "WHERE billed_subscription_id = ? ORDER BY reported_bucket DESC LIMIT 1"));
    latest.BindGuid(subscription);
    STACKBILL_ASSIGN_OR_RETURN(bool row, latest.Step());
    if (!row) return std::vector<UsageAggregate>{};
    first = from_day - 1;
    last = latest.ReadInt();
  }
  std::vector<UsageAggregate> page;
  if (last < first) return page;
  std::string sql =
      "SELECT usage_bucket, meter_id, resource_uri, quantity, records, instance_data "
      "FROM usage_rollup_resource_days WHERE billed_subscription_id = ? AND reported_bucket = ?";
  if (by_usage) sql += " AND usage_bucket >= ? AND usage_bucket < ?";
  if (f.after) sql += " AND (usage_bucket, meter_id, resource_uri) > (?, ?, ?)";
  sql += " ORDER BY usage_bucket, meter_id, resource_uri";
  std::vector<DayCursor> cursors;
  cursors.reserve(static_cast<std::size_t>(last - first + 1));
  for (std::int64_t day = first; day <= last; ++day) {
    STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(sql));
    stmt.BindGuid(subscription).BindInt(day);
    if (by_usage) stmt.BindInt(from_day).BindInt(to_day);
    if (f.after) {
      stmt.BindInt(Bucket(f.after->start, kDay))
          .BindGuid(f.after->meter_id.value_or(Guid()))
          .BindText(f.after->resource_uri.value_or(""));
    }
    DayCursor& cursor = cursors.emplace_back(std::move(stmt), day);
    STACKBILL_RETURN_IF_ERROR(cursor.Advance());
  }
  // The cursor with the smallest current item, the latest day on ties.
  auto next = [&]() -> DayCursor* {
    DayCursor* best = nullptr;
    for (DayCursor& cursor : cursors) {
      if (cursor.valid && (best == nullptr || cursor.Key() < best->Key())) best = &cursor;
    }
    return best;
  };
  while (page.size() < f.limit) {
    DayCursor* head = next();
    if (head == nullptr) break;
    UsageAggregate& a = page.emplace_back();
    a.start = Timestamp::FromUnixSeconds(head->usage * kDay);
    a.end = a.start.AddDays(1);
    if (f.by_subscription) a.billed_subscription_id = subscription;
    a.meter_id = head->meter;
    a.resource_uri = head->resource;
    std::int64_t latest_report = head->reported;
    a.instance_data = head->instance_data;
    const std::int64_t usage = head->usage;
    const Guid meter = head->meter;
    const std::string resource = head->resource;
    for (DayCursor& cursor : cursors) {
      while (cursor.valid && cursor.usage == usage && cursor.meter == meter &&
             cursor.resource == resource) {
        STACKBILL_ASSIGN_OR_RETURN(a.quantity, a.quantity.Add(cursor.quantity));
        a.records += cursor.records;
        if (cursor.reported >= latest_report) {
          latest_report = cursor.reported;
          a.instance_data = cursor.instance_data;
        }
        STACKBILL_RETURN_IF_ERROR(cursor.Advance());
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
  const Table& table = f.by_resource ? kResourceDays : (days ? kDays : kHours);
  const std::int64_t unit = records ? 1 : table.unit;
  const std::string_view name = records ? "usage_records" : table.name;

  Where where;
  const std::string_view basis = f.basis == UsageTimeBasis::kReported
                                     ? (records ? "reported_s" : "reported_bucket")
                                     : (records ? "usage_start_s" : "usage_bucket");
  where.Add(Cat(basis, " >= ?"), {Bucket(f.from, unit)});
  where.Add(Cat(basis, " < ?"), {Bucket(f.to, unit)});
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
  STACKBILL_ASSIGN_OR_RETURN(
      Statement stmt,
      c.Prepare(Cat("SELECT billed_subscription_id, ",
                    records ? "reported_s, usage_start_s" : "reported_bucket, usage_bucket",
                    ", meter_id, cloud_id, tenant_id, local_subscription_id, ",
                    f.by_resource ? "resource_uri, instance_data, " : "", "quantity, ",
                    records ? "1" : "records", " FROM ", name, where.Sql())));
  stmt.BindValues(where.values());
  absl::flat_hash_map<OutKey, std::size_t> index;
  std::vector<Summed> out;
  OutKey key;
  for (;;) {
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    const Guid subscription = stmt.ReadGuid();
    const std::int64_t reported = stmt.ReadInt();
    const Timestamp usage = Timestamp::FromUnixSeconds(stmt.ReadInt() * unit);
    const Guid meter = stmt.ReadGuid();
    const Guid cloud = stmt.ReadGuid();
    const Guid tenant = stmt.ReadGuid();
    const Guid local_subscription = stmt.ReadGuid();
    std::string_view resource;
    std::string_view instance_data;
    if (f.by_resource) {
      resource = stmt.ReadTextView();
      instance_data = stmt.ReadTextView();
    }
    const Quantity quantity = stmt.ReadDecimal<QuantityTraits>();
    const std::int64_t count = stmt.ReadInt();
    STACKBILL_RETURN_IF_ERROR(stmt.read_status());

    Timestamp start = usage.TruncateToHour();
    if (f.granularity == UsageGranularity::kMonth) {
      start = YearMonth::Of(usage).Start();
    } else if (f.granularity == UsageGranularity::kDay) {
      start = usage.TruncateToDay();
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
      a.end = f.granularity == UsageGranularity::kMonth ? YearMonth::Of(usage).End()
              : f.granularity == UsageGranularity::kDay ? start.AddDays(1)
                                                        : start.AddHours(1);
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

}  // namespace stackbill::sqlite
