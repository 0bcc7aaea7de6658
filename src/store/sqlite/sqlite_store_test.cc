#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "store/sql/sql_store.h"
#include "store/sql/usage_rollups.h"
#include "store/sqlite/sqlite_database.h"
#include "store/testing/store_contract.h"

namespace stackbill {
namespace {

using store_testing::StoreBackend;
using store_testing::StoreBackendName;
using store_testing::StoreContract;

// A fresh directory for this test process, removed when it ends.
class TempDirectory : public ::testing::Environment {
 public:
  static const std::string& Path() { return path_; }

  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "stackbill-store-XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

 private:
  static inline std::string path_;
};

const auto* const kTempDirectory = ::testing::AddGlobalTestEnvironment(new TempDirectory);

std::string NewDatabasePath() {
  static std::atomic<int> counter{0};
  return TempDirectory::Path() + "/store-" + std::to_string(counter++) + ".db";
}

absl::StatusOr<std::unique_ptr<Store>> OpenAt(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  options.reader_connections = 2;
  // Generous: under ThreadSanitizer several processes contend for the lock.
  options.busy_timeout = std::chrono::milliseconds(60000);
  return OpenSqliteStore(options);
}

StoreBackend SqliteBackend() {
  StoreBackend backend;
  backend.name = "Sqlite";
  backend.new_database = []() -> absl::StatusOr<std::string> { return NewDatabasePath(); };
  backend.open = OpenAt;
  return backend;
}

// A SQLite database on which every WriteShared body runs twice: its first
// run is rolled back, as PostgreSQL ends a shared write to break a deadlock
// (postgres::PgDatabase), and the second commits. The contract holds on it
// only if every WriteShared body starts afresh on each run.
class RetryingDatabase final : public sql::Database {
 public:
  explicit RetryingDatabase(std::unique_ptr<sql::Database> inner) : inner_(std::move(inner)) {}

  absl::Status Write(absl::FunctionRef<absl::Status(sql::Connection&)> body) override {
    return inner_->Write(body);
  }
  absl::Status WriteShared(absl::FunctionRef<absl::Status(sql::Connection&)> body) override {
    absl::Status first = inner_->Write([&](sql::Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(body(c));
      return absl::AbortedError("deadlock (simulated)");
    });
    if (!absl::IsAborted(first)) return first;
    return inner_->Write(body);
  }
  absl::Status Read(absl::FunctionRef<absl::Status(sql::Connection&)> body) override {
    return inner_->Read(body);
  }

 private:
  std::unique_ptr<sql::Database> inner_;
};

absl::StatusOr<std::unique_ptr<Store>> OpenRetryingAt(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  options.reader_connections = 2;
  options.busy_timeout = std::chrono::milliseconds(60000);
  STACKBILL_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Database> database,
                             sqlite::Database::Open(options));
  auto retrying = std::make_unique<RetryingDatabase>(std::move(database));
  STACKBILL_RETURN_IF_ERROR(sql::BuildUsageRollupsIfNeeded(*retrying));
  return sql::NewSqlStore(std::move(retrying));
}

StoreBackend RetriedSharedWritesBackend() {
  StoreBackend backend = SqliteBackend();
  backend.name = "SqliteRetriedSharedWrites";
  backend.open = OpenRetryingAt;
  return backend;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract,
                         ::testing::Values(SqliteBackend(), RetriedSharedWritesBackend()),
                         StoreBackendName);

// ---------------------------------------------------------------------------
// SQLite-specific behaviour, checked by looking into the file directly.

struct CloseSqlite {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using RawDb = std::unique_ptr<sqlite3, CloseSqlite>;

RawDb OpenRaw(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open(path.c_str(), &db);
  RawDb owned(db);
  EXPECT_EQ(rc, SQLITE_OK);
  return owned;
}

// The first column of the first row of `sql`, as text.
std::string QueryText(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr), SQLITE_OK) << sql;
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
  if (stmt == nullptr || sqlite3_step(stmt.get()) != SQLITE_ROW) return "";
  const auto* text = sqlite3_column_text(stmt.get(), 0);
  return text == nullptr ? "" : reinterpret_cast<const char*>(text);
}

AuditEntry Action(std::string action) {
  AuditEntry entry;
  entry.action = std::move(action);
  return entry;
}

int Exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

// An embedded store has no clock of its own: serve reads the machine's.
TEST(SqliteStoreTest, HasNoServerTime) {
  auto store = OpenAt(NewDatabasePath());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->ServerTime().status().code(), absl::StatusCode::kUnimplemented);
}

TEST(SqliteStoreTest, NewDatabaseIsAtTheCurrentSchemaVersion) {
  const std::string path = NewDatabasePath();
  ASSERT_TRUE(OpenAt(path).ok());
  RawDb db = OpenRaw(path);
  EXPECT_EQ(QueryText(db.get(), "SELECT max(version) FROM schema_version"),
            std::to_string(SqliteSchemaVersion()));
  // Reopening applies nothing again.
  ASSERT_TRUE(OpenAt(path).ok());
  EXPECT_EQ(QueryText(db.get(), "SELECT count(*) FROM schema_version"),
            std::to_string(SqliteSchemaVersion()));
}

TEST(SqliteStoreTest, MigrationsApplyOnlyThoseNotYetApplied) {
  const std::string path = NewDatabasePath();
  auto connection = sqlite::Connection::Open(path, {});
  ASSERT_TRUE(connection.ok()) << connection.status();
  // Re-running the first migration would fail: the table exists.
  const std::vector<std::string_view> v1 = {"CREATE TABLE a (x INTEGER)"};
  const std::vector<std::string_view> v2 = {"CREATE TABLE a (x INTEGER)",
                                            "CREATE TABLE b (y INTEGER)"};
  ASSERT_TRUE(sqlite::Migrate(**connection, v1).ok());
  EXPECT_EQ(*sqlite::ReadSchemaVersion(**connection), 1);
  absl::Status upgraded = sqlite::Migrate(**connection, v2);
  ASSERT_TRUE(upgraded.ok()) << upgraded;
  EXPECT_EQ(*sqlite::ReadSchemaVersion(**connection), 2);
}

// Schema 5 (core/usage_identity.h): a natural-key identity stored before
// leads with its usage hour afterwards, keeping its other 12 bytes, as does
// the supersession that names it; an identity from a record's id is kept.
TEST(SqliteStoreTest, Migration5StampsNaturalKeyIdentitiesWithTheirUsageHour) {
  const std::string path = NewDatabasePath();
  {
    auto connection = sqlite::Connection::Open(path, {});
    ASSERT_TRUE(connection.ok()) << connection.status();
    ASSERT_TRUE(sqlite::Migrate(**connection, sqlite::SchemaMigrations().first(4)).ok());
    auto row = [](std::string_view record_id, std::string_view identity_hex) {
      return std::string(
                 "INSERT INTO usage_records (cloud_id, identity, content_hash, record_id, "
                 "tenant_id, local_subscription_id, meter_id, quantity, usage_start_s, "
                 "usage_start_ns, usage_end_s, usage_end_ns, resource_uri, instance_data, "
                 "billed_subscription_id, bill_to_kind, bill_to_partner_id, "
                 "bill_to_subscription_id, routing_reason, reported_s, reported_ns) "
                 "VALUES (x'01', x'") +
             std::string(identity_hex) + "', x'02', '" + std::string(record_id) +
             "', x'03', x'04', x'05', '1', 1793498400, 0, 1793502000, 0, '/r', '{}', x'06', "
             "'partner', 'p', x'07', 'registered', 1793502000, 0);";
    };
    // 1793498400 s is 2026-11-01T02:00Z: hour 498194 = 0x00079A12.
    const std::string sql =
        row("", "00112233445566778899AABBCCDDEEFF") +
        row("stack-record-7", "FFEEDDCCBBAA99887766554433221100") +
        "INSERT INTO usage_supersessions (cloud_id, identity, at_s, at_ns, actor_principal_id, "
        "reason, old_meter_id, old_quantity, old_usage_start_s, old_usage_start_ns, "
        "old_billed_subscription_id, old_content_hash, new_quantity) VALUES (x'01', "
        "x'00112233445566778899AABBCCDDEEFF', 1, 0, x'08', 'fix', x'05', '2', 1793498400, 0, "
        "x'06', x'09', '1');";
    ASSERT_TRUE((*connection)->Exec(sql).ok());
    absl::Status upgraded = sqlite::Migrate(**connection, sqlite::SchemaMigrations());
    ASSERT_TRUE(upgraded.ok()) << upgraded;
  }
  RawDb db = OpenRaw(path);
  EXPECT_EQ(QueryText(db.get(), "SELECT hex(identity) FROM usage_records WHERE record_id = ''"),
            "00079A12445566778899AABBCCDDEEFF");
  EXPECT_EQ(QueryText(db.get(), "SELECT hex(identity) FROM usage_records WHERE record_id != ''"),
            "FFEEDDCCBBAA99887766554433221100");
  EXPECT_EQ(QueryText(db.get(), "SELECT hex(identity) FROM usage_supersessions"),
            "00079A12445566778899AABBCCDDEEFF");
}

// Schema 6: a database that held usage before the rollups existed has them
// built from usage_records when it is next opened, once.
TEST(SqliteStoreTest, RollupsAreBuiltFromTheRecordsOfAnOlderDatabase) {
  const std::string path = NewDatabasePath();
  const Timestamp t0 = Timestamp::FromUnixSeconds(1793491200);  // 2026-11-01T00:00:00Z
  std::vector<UsageRecord> records;
  for (int n = 0; n < 30; ++n) {
    UsageRecord r;
    r.cloud_id = *Guid::Parse("30000000-0000-0000-0000-000000000001");
    r.identity = "identity-" + std::to_string(n);
    r.content_hash = "hash";
    r.tenant_id = *Guid::Parse("10000000-0000-0000-0000-000000000001");
    r.local_subscription_id = *Guid::Parse("40000000-0000-0000-0000-000000000001");
    r.meter_id = *Guid::Parse(n % 2 == 0 ? "50000000-0000-0000-0000-000000000001"
                                         : "50000000-0000-0000-0000-000000000002");
    r.quantity = *Quantity::Parse(std::to_string(n) + ".5");
    r.usage_start = t0.AddHours(n * 2);
    r.usage_end = r.usage_start.AddHours(1);
    r.resource_uri = "/vm" + std::to_string(n % 3);
    r.instance_data = "{}";
    r.routing.billed_subscription_id = *Guid::Parse("20000000-0000-0000-0000-000000000001");
    r.reported_time = r.usage_start.AddHours(3);
    records.push_back(r);
  }
  const UsageAggregateFilter filter{.basis = UsageTimeBasis::kUsage,
                                    .from = t0,
                                    .to = t0.AddDays(5),
                                    .by_meter = true,
                                    .by_resource = true};
  std::vector<UsageAggregate> expected;
  {
    auto store = OpenAt(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->usage().WriteUsage(records).ok());
    auto got = (*store)->usage().AggregateUsage(filter);
    ASSERT_TRUE(got.ok()) << got.status();
    expected = *got;
  }
  ASSERT_EQ(expected.size(), 18u);  // 3 days × 2 meters × 3 resources
  {
    // As a database from before schema 6 would be: records, no rollups.
    RawDb db = OpenRaw(path);
    ASSERT_EQ(Exec(db.get(),
                   "DELETE FROM usage_rollup_hours; DELETE FROM usage_rollup_days; "
                   "DELETE FROM usage_rollup_resource_days; DELETE FROM usage_rollup_months; "
                   "DELETE FROM usage_rollup_buckets; "
                   "UPDATE usage_rollup_state SET built = 0"),
              SQLITE_OK);
  }
  auto reopened = OpenAt(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto rebuilt = (*reopened)->usage().AggregateUsage(filter);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(*rebuilt, expected);
  RawDb db = OpenRaw(path);
  EXPECT_EQ(QueryText(db.get(), "SELECT built FROM usage_rollup_state"), "1");
}

// Schema 7: the rollups of schema 6 (keyed by subscription first) are
// dropped and built again, keyed time first, from the records.
TEST(SqliteStoreTest, Migration7BuildsTheRollupsAgainKeyedTimeFirst) {
  const std::string path = NewDatabasePath();
  const std::string sub = "20000000000000000000000000000001";
  {
    auto connection = sqlite::Connection::Open(path, {});
    ASSERT_TRUE(connection.ok()) << connection.status();
    ASSERT_TRUE(sqlite::Migrate(**connection, sqlite::SchemaMigrations().first(6)).ok());
    // One record of 2026-11-01T02:00Z reported an hour later, and its
    // schema-6 rollup rows (built).
    const std::string sql =
        "INSERT INTO usage_records (cloud_id, identity, content_hash, record_id, tenant_id, "
        "local_subscription_id, meter_id, quantity, usage_start_s, usage_start_ns, usage_end_s, "
        "usage_end_ns, resource_uri, instance_data, billed_subscription_id, bill_to_kind, "
        "bill_to_partner_id, bill_to_subscription_id, routing_reason, reported_s, reported_ns) "
        "VALUES (x'30000000000000000000000000000001', x'00112233', x'02', '', "
        "x'10000000000000000000000000000001', x'40000000000000000000000000000001', "
        "x'50000000000000000000000000000001', '2.5', 1793498400, 0, 1793502000, 0, '/vm', '{}', "
        "x'" +
        sub + "', 'partner', 'p', x'" + sub +
        "', 'registered', 1793502000, 0);"
        "INSERT INTO usage_rollup_days VALUES (x'" +
        sub +
        "', 20758, 20758, "
        "x'50000000000000000000000000000001', x'30000000000000000000000000000001', "
        "x'10000000000000000000000000000001', x'40000000000000000000000000000001', '2.5', 1);"
        "UPDATE usage_rollup_state SET built = 1;";
    ASSERT_TRUE((*connection)->Exec(sql).ok());
  }
  auto store = OpenAt(path);
  ASSERT_TRUE(store.ok()) << store.status();
  const Timestamp t0 = Timestamp::FromUnixSeconds(1793491200);  // 2026-11-01T00:00:00Z
  for (UsageGranularity granularity :
       {UsageGranularity::kHour, UsageGranularity::kDay, UsageGranularity::kMonth}) {
    for (bool by_resource : {false, true}) {
      auto got = (*store)->usage().AggregateUsage({.basis = UsageTimeBasis::kReported,
                                                   .from = t0,
                                                   .to = t0.AddDays(30),
                                                   .granularity = granularity,
                                                   .by_meter = true,
                                                   .by_resource = by_resource});
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), 1u);
      EXPECT_EQ((*got)[0].quantity, *Quantity::Parse("2.5"));
      EXPECT_EQ((*got)[0].records, 1);
    }
  }
  RawDb db = OpenRaw(path);
  EXPECT_EQ(QueryText(db.get(), "SELECT count(*) FROM usage_rollup_buckets"), "4");
  EXPECT_EQ(QueryText(db.get(),
                      "SELECT reported_bucket || '/' || usage_bucket || '/' || "
                      "hex(billed_subscription_id) FROM usage_rollup_days"),
            "20758/20758/" + sub);
}

// Record n of batch `batch`: one hour of one meter on Nov 1 2026, reported a
// day later.
UsageRecord HourlyRecord(int batch, int n) {
  const Timestamp t0 = Timestamp::FromUnixSeconds(1793491200);
  UsageRecord r;
  r.cloud_id = *Guid::Parse("30000000-0000-0000-0000-000000000001");
  r.identity = "identity-" + std::to_string(batch) + "-" + std::to_string(n);
  r.content_hash = "hash";
  r.meter_id = *Guid::Parse("50000000-0000-0000-0000-000000000001");
  r.quantity = *Quantity::Parse("1");
  r.usage_start = t0.AddHours(n % 24);
  r.usage_end = r.usage_start.AddHours(1);
  r.reported_time = t0.AddDays(1);
  return r;
}

// A stream of commits faster than the background checkpoints does not grow
// the WAL without bound (SqliteOptions::wal_limit_bytes).
TEST(SqliteStoreTest, TheWalStaysNearItsLimitUnderAStreamOfCommits) {
  const std::string path = NewDatabasePath();
  SqliteOptions options;
  options.path = path;
  options.reader_connections = 1;
  options.wal_limit_bytes = 1024 * 1024;
  auto store = OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::uintmax_t largest = 0;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<UsageRecord> records;
    for (int n = 0; n < 500; ++n) {
      UsageRecord r = HourlyRecord(batch, n);
      r.resource_uri = "/vm" + std::to_string(batch * 500 + n) + std::string(200, 'x');
      r.instance_data = std::string(300, 'y');
      records.push_back(r);
    }
    ASSERT_TRUE((*store)->usage().WriteUsage(records).ok());
    std::error_code error;
    largest = std::max(largest, std::filesystem::file_size(path + "-wal", error));
  }
  // ~14 MiB were written; the WAL holds about one limit plus a transaction.
  EXPECT_LT(largest, std::uintmax_t{6} * 1024 * 1024);
}

// Issue 9: an online backup taken while another thread keeps committing is
// the database as of one commit — whole batches only — checked, mode 0600,
// and opens as a store; an existing destination or a missing source is
// refused and leaves nothing behind.
TEST(SqliteStoreTest, AnOnlineBackupIsOneCommitsDatabaseWhileWritesGoOn) {
  const std::string path = NewDatabasePath();
  SqliteOptions options;
  options.path = path;
  auto store = OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  constexpr int kBatch = 200;
  auto batch_of = [&](int batch) {
    std::vector<UsageRecord> records;
    for (int n = 0; n < kBatch; ++n) records.push_back(HourlyRecord(batch, n));
    return records;
  };
  ASSERT_TRUE((*store)->usage().WriteUsage(batch_of(0)).ok());
  std::atomic<bool> stop = false;
  std::atomic<int> written = 1;
  std::thread writer([&] {
    for (int batch = 1; !stop && batch < 400; ++batch) {
      ASSERT_TRUE((*store)->usage().WriteUsage(batch_of(batch)).ok());
      written = batch + 1;
    }
  });
  const std::string copy = path + ".backup";
  absl::StatusOr<SqliteBackupResult> backup = BackupSqliteStore(path, copy);
  stop = true;
  writer.join();
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(backup->schema_version, SqliteSchemaVersion());
  EXPECT_GT(backup->pages, 0);
  EXPECT_EQ(std::filesystem::status(copy).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(copy).parent_path())) {
    EXPECT_EQ(entry.path().string().find(".partial"), std::string::npos) << entry.path();
  }

  SqliteOptions copied;
  copied.path = copy;
  auto restored = OpenSqliteStore(copied);
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_OK_AND_ASSIGN(std::int64_t records, (*restored)->usage().CountUsage({}));
  EXPECT_EQ(records % kBatch, 0) << "a batch is in the copy whole or not at all";
  EXPECT_GE(records, kBatch);
  EXPECT_LE(records, std::int64_t{written} * kBatch);

  EXPECT_TRUE(absl::IsAlreadyExists(BackupSqliteStore(path, copy).status()));
  EXPECT_TRUE(absl::IsNotFound(BackupSqliteStore(path + ".absent", path + ".other").status()));
  EXPECT_FALSE(std::filesystem::exists(path + ".other"));
  EXPECT_FALSE(std::filesystem::exists(path + ".absent"));
}

// The records of a subscription in a window — reported or used — are found
// through an index, never by scanning usage_records: the Commerce API's
// hourly per-resource aggregates (AggregateUsageRollups) read them so. Issue
// 8 once dropped these indexes for a faster ingest and made that a scan.
TEST(SqliteStoreTest, ASubscriptionsRecordsInAWindowAreFoundThroughAnIndex) {
  const std::string path = NewDatabasePath();
  ASSERT_TRUE(OpenAt(path).ok());
  RawDb db = OpenRaw(path);
  for (const std::string basis : {"reported_s", "usage_start_s"}) {
    const std::string sql = "EXPLAIN QUERY PLAN SELECT quantity FROM usage_records WHERE " + basis +
                            " >= 1764547200 AND " + basis +
                            " < 1764633600 AND billed_subscription_id IN (x'00', x'01')";
    sqlite3_stmt* raw = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw, nullptr), SQLITE_OK) << sql;
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
    std::string plan;  // the plan's detail column, row by row
    while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 3));
      plan += "; ";
    }
    EXPECT_NE(plan.find("USING INDEX usage_by_billed_"), std::string::npos)
        << basis << ": " << plan;
    EXPECT_EQ(plan.find("SCAN"), std::string::npos) << basis << ": " << plan;
  }
}

TEST(SqliteStoreTest, FailedMigrationChangesNothing) {
  const std::string path = NewDatabasePath();
  auto connection = sqlite::Connection::Open(path, {});
  ASSERT_TRUE(connection.ok()) << connection.status();
  const std::vector<std::string_view> broken = {"CREATE TABLE a (x INTEGER)", "NOT SQL AT ALL"};
  EXPECT_FALSE(sqlite::Migrate(**connection, broken).ok());
  EXPECT_EQ(*sqlite::ReadSchemaVersion(**connection), 0);
  RawDb db = OpenRaw(path);
  EXPECT_EQ(QueryText(db.get(), "SELECT count(*) FROM sqlite_master WHERE name = 'a'"), "0");
}

TEST(SqliteStoreTest, RefusesADatabaseWrittenByANewerBinary) {
  const std::string path = NewDatabasePath();
  ASSERT_TRUE(OpenAt(path).ok());
  {
    RawDb db = OpenRaw(path);
    ASSERT_EQ(Exec(db.get(), "INSERT INTO schema_version (version) VALUES (" +
                                 std::to_string(SqliteSchemaVersion() + 1) + ")"),
              SQLITE_OK);
  }
  auto store = OpenAt(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(store.status()), "StoreSchemaTooNew");
}

TEST(SqliteStoreTest, CreatesItsFilesWithMode0600) {
  const std::string path = NewDatabasePath();
  const mode_t old_umask = umask(0);  // SQLite would otherwise create 0644 files
  auto store = OpenAt(path);
  umask(old_umask);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->audit().Append(Action("x")).ok());
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat info {};
    ASSERT_EQ(stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

TEST(SqliteStoreTest, UsesWriteAheadLogging) {
  const std::string path = NewDatabasePath();
  ASSERT_TRUE(OpenAt(path).ok());
  RawDb db = OpenRaw(path);
  EXPECT_EQ(QueryText(db.get(), "PRAGMA journal_mode"), "wal");
}

TEST(SqliteStoreTest, FullDurabilityStoresAndReadsBack) {
  SqliteOptions options;
  options.path = NewDatabasePath();
  options.durability = SqliteOptions::Durability::kFull;
  auto store = OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->audit().Append(Action("x")).ok());
  auto listed = (*store)->audit().ListAudit({}, PageRequest{});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), 1u);
}

TEST(SqliteStoreTest, InMemoryStoreWorksOnOneConnection) {
  auto store = OpenSqliteStore({.path = ":memory:"});
  ASSERT_TRUE(store.ok()) << store.status();
  Directory directory{Guid(), "Memory", {"memory.example.com"}, std::nullopt};
  ASSERT_TRUE((*store)->identity().CreateDirectory(directory).ok());
  auto read = (*store)->identity().GetDirectory(Guid());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, directory);
}

TEST(SqliteStoreTest, AuditLogAndInvoicesCannotBeChangedInTheFile) {
  const std::string path = NewDatabasePath();
  auto store = OpenAt(path);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->audit().Append(Action("x")).ok());
  RawDb db = OpenRaw(path);
  EXPECT_EQ(Exec(db.get(), "UPDATE audit_log SET action = 'y'"), SQLITE_CONSTRAINT);
  EXPECT_EQ(Exec(db.get(), "DELETE FROM audit_log"), SQLITE_CONSTRAINT);
  EXPECT_EQ(QueryText(db.get(), "SELECT action FROM audit_log"), "x");
}

TEST(SqliteStoreTest, FileThatIsNotADatabaseIsDataLoss) {
  const std::string path = NewDatabasePath();
  {
    std::ofstream out(path);
    out << std::string(4096, 'x');
  }
  auto store = OpenAt(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

TEST(SqliteStoreTest, BadOptionsAreInvalidArgument) {
  EXPECT_EQ(OpenSqliteStore({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenSqliteStore({.path = NewDatabasePath(), .reader_connections = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenSqliteStore({.path = TempDirectory::Path() + "/missing/dir/x.db"}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace stackbill
