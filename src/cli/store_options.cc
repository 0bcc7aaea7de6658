#include "cli/store_options.h"

#include <chrono>
#include <filesystem>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& location,
                                                 bool durability_full) {
  if (IsPostgresStore(location)) return OpenPostgresStore(PostgresOptions{.dsn = location});
  SqliteOptions options{.path = location};
  if (durability_full) options.durability = SqliteOptions::Durability::kFull;
  return OpenSqliteStore(options);
}

bool IsPostgresStore(const std::string& location) { return IsPostgresLocation(location); }

absl::Status CheckStoreLocation(const std::string& location) {
  if (IsPostgresStore(location)) return absl::OkStatus();
  if (location.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(
        "the store is a URL of an unknown kind: give a SQLite file or a postgresql:// URL");
  }
  if (location.find('=') != std::string::npos && location.find(' ') != std::string::npos) {
    return absl::InvalidArgumentError(
        "the store looks like a libpq connection string: give PostgreSQL as a "
        "postgresql://user@host:port/dbname URL");
  }
  return absl::OkStatus();
}

absl::Status CheckNewStore(const std::string& location) {
  if (!IsPostgresStore(location)) {
    if (std::filesystem::exists(location)) {
      return absl::AlreadyExistsError(location + " already exists; init only creates a new store");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<bool> empty = PostgresSchemaIsEmpty(PostgresOptions{.dsn = location});
  if (!empty.ok()) return empty.status();
  if (!*empty) {
    return absl::AlreadyExistsError(
        DescribeStore(location) +
        " is not empty (its schema holds tables); init fills an empty database, and serve "
        "opens one that holds a store");
  }
  return absl::OkStatus();
}

std::string DescribeStore(const std::string& location) {
  if (!IsPostgresStore(location)) return location;
  // postgresql://user:password@host/db?password=…: both passwords go.
  std::string described = location;
  const std::size_t authority = described.find("://") + 3;
  const std::size_t at = described.find('@', authority);
  const std::size_t colon = described.find(':', authority);
  if (at != std::string::npos && colon != std::string::npos && colon < at) {
    described.replace(colon + 1, at - colon - 1, "***");
  }
  for (std::size_t key = described.find("password="); key != std::string::npos;
       key = described.find("password=", key + 1)) {
    const std::size_t value = key + 9;
    const std::size_t end = described.find('&', value);
    described.replace(value, (end == std::string::npos ? described.size() : end) - value, "***");
  }
  return described;
}

namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

std::int64_t NanosOf(Timestamp t) { return t.unix_seconds() * kNanosPerSecond + t.nanos(); }

Timestamp FromNanos(std::int64_t nanos) {
  const std::int64_t seconds = nanos / kNanosPerSecond - (nanos % kNanosPerSecond < 0 ? 1 : 0);
  return Timestamp::FromUnixSeconds(seconds,
                                    static_cast<std::int32_t>(nanos - seconds * kNanosPerSecond));
}

}  // namespace

absl::Status StoreClock::Sync() {
  // Three readings; the one with the shortest round trip (the least time
  // spent waiting for a pooled connection or the network) gives the offset.
  std::int64_t best_round_trip = -1;
  std::int64_t offset = 0;
  for (int sample = 0; sample < 3; ++sample) {
    const std::int64_t before = NanosOf(WallClockNow());
    absl::StatusOr<Timestamp> server = store_.ServerTime();
    const std::int64_t after = NanosOf(WallClockNow());
    if (!server.ok()) return server.status();
    if (best_round_trip < 0 || after - before < best_round_trip) {
      best_round_trip = after - before;
      offset = NanosOf(*server) - (before + (after - before) / 2);
    }
  }
  offset_nanos_.store(offset, std::memory_order_relaxed);
  return absl::OkStatus();
}

Timestamp StoreClock::Now() const { return FromNanos(NanosOf(WallClockNow()) + offset_nanos()); }

Timestamp WallClockNow() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
  return Timestamp::FromUnixSeconds(seconds.count(), static_cast<std::int32_t>(nanos.count()));
}

}  // namespace stackbill
