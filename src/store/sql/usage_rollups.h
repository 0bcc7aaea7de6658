#pragma once

// The usage rollups of the SQL stores (internal to store/sql): three
// tables that sum usage_records per
//   usage_rollup_hours            reported hour, usage hour, billed subscription, meter, stack,
//                                 tenant, stack-local subscription
//   usage_rollup_days             … the same per reported day and usage day
//   usage_rollup_resource_days    … per day and per resource (with its latest instanceData)
//   usage_rollup_months           … per reported and usage calendar month (UTC), for the
//                                 month granularity over whole months
// keyed in that order, time first, so that an ingest writes where the newest
// buckets are whatever the number of subscriptions (schema 7), and
// usage_rollup_buckets, the (reported, usage) bucket pairs that hold rows of
// each: a query reads the pairs in its window and seeks (reported, usage,
// subscription…) in each. Per resource by the hour, the hourly records are
// their own rollup: they are read through the (billed subscription, reported
// time) and (billed subscription, usage time) indexes of usage_records.
// Kept in the transaction that writes the records (ingest, re-route,
// supersede), so that UsageStore::AggregateUsage never scans raw records and
// is exact under all of them. Quantities are canonical decimal text, added in
// C++ (R14): in the rollup code, or in SQL by stackbill_quantity_add, a C++
// function (sqlite_database.cc), or PostgreSQL's exact numeric sum
// (pg_schema.cc); never by floating-point arithmetic.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/entities.h"
#include "store/sql/database.h"
#include "store/store.h"

namespace stackbill::sql {

// The change that one write transaction makes to the rollups: records added
// (+1) and taken away (-1), summed per rollup key in memory, then written
// with one UPSERT per key that only gained records (ingest) and one
// read-modify-write per key that lost some (re-route, supersede), and the
// keys' bucket pairs listed in usage_rollup_buckets. Thread-compatible.
class UsageRollupDelta {
 public:
  // REQUIRES: sign is +1 or -1. OutOfRange when a sum exceeds a quantity's
  // bound.
  absl::Status Add(const UsageRecord& record, int sign);
  // Writes the delta inside the caller's write transaction; the delta stays
  // as it was, so that a transaction run again (Database::WriteShared)
  // writes it again. DataLoss when a rollup would fall below zero records, or
  // reach zero records with a quantity left (the rollups no longer match the
  // records).
  absl::Status Apply(Connection& c) const;
  void Clear();
  bool empty() const;

  // The rollup tables, in the order of sums_.
  static constexpr std::size_t kTableCount = 4;

 private:
  // In the rollup tables' primary-key order, so that keys sorted by <=>
  // are written in B-tree order (Apply).
  struct Key {
    std::int64_t reported = 0;  // hour, day or month number since the epoch
    std::int64_t usage = 0;
    Guid subscription;
    Guid meter;
    std::string resource;  // per-resource tables only
    Guid cloud;
    Guid tenant;
    Guid local_subscription;
    friend bool operator==(const Key&, const Key&) = default;
    friend auto operator<=>(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.reported, k.usage, k.subscription, k.meter, k.resource,
                        k.cloud, k.tenant, k.local_subscription);
    }
  };
  struct Sum {
    Quantity quantity;
    std::int64_t records = 0;
    // The latest added record's (per-resource tables); none when only
    // records were taken away.
    std::optional<std::string> instance_data;
    bool taken = false;  // a record was taken away: read-modify-write
  };
  using Sums = absl::flat_hash_map<Key, Sum>;

  std::array<Sums, kTableCount> sums_;
};

// Builds the rollups from usage_records when schema migration 6 created them
// on a database that already held usage (usage_rollup_state.built = 0), in
// one write transaction; nothing to do otherwise.
absl::Status BuildUsageRollupsIfNeeded(Database& db);

// UsageStore::AggregateUsage over the rollups, in the caller's read
// transaction.
absl::StatusOr<std::vector<UsageAggregate>> AggregateUsageRollups(
    Connection& c, const UsageAggregateFilter& filter);

}  // namespace stackbill::sql
