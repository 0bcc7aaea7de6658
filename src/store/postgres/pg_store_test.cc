#include "store/postgres/pg_store.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/error.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/postgres/pg_database.h"
#include "store/postgres/pg_schema.h"
#include "store/postgres/testing/pg_test_database.h"
#include "store/testing/store_contract.h"

namespace stackbill {
namespace {

using store_testing::StoreBackend;
using store_testing::StoreBackendName;
using store_testing::StoreContract;
using ::testing::HasSubstr;
using ::testing::Not;

using postgres_testing::ConnectRaw;
using postgres_testing::QueryValue;
using postgres_testing::RawConn;
using postgres_testing::TestServerDsn;

absl::StatusOr<std::string> NewSchemaDsn() { return postgres_testing::NewTestSchema(); }

PostgresOptions Options(const std::string& dsn, int connections = 4) {
  PostgresOptions options;
  options.dsn = dsn;
  options.connections = connections;
  return options;
}

absl::StatusOr<std::unique_ptr<Store>> OpenAt(const std::string& dsn) {
  return OpenPostgresStore(Options(dsn));
}

StoreBackend PostgresBackend() {
  StoreBackend backend;
  backend.name = "Postgres";
  backend.new_database = NewSchemaDsn;
  backend.open = OpenAt;
  // The contract closes its stores before fork(); a child opens its own
  // connections.
  backend.supports_fork = true;
  return backend;
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContract, ::testing::Values(PostgresBackend()),
                         StoreBackendName);

// ---------------------------------------------------------------------------
// PostgreSQL-specific behaviour.

// A connection on a new, empty schema (no migrations).
std::unique_ptr<postgres::PgConnection> ConnectToNewSchema() {
  auto dsn = NewSchemaDsn();
  EXPECT_TRUE(dsn.ok()) << dsn.status();
  if (!dsn.ok()) return nullptr;
  auto connection = postgres::PgConnection::Open(Options(*dsn));
  EXPECT_TRUE(connection.ok()) << connection.status();
  return connection.ok() ? *std::move(connection) : nullptr;
}

// The rows of a one-column query, as text.
absl::StatusOr<std::vector<std::string>> Column(sql::Connection& c, std::string_view sql,
                                                const std::vector<sql::SqlValue>& values = {}) {
  STACKBILL_ASSIGN_OR_RETURN(sql::Statement stmt, c.Prepare(sql));
  stmt.BindValues(values);
  std::vector<std::string> rows;
  for (;;) {
    STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return rows;
    rows.push_back(stmt.ReadText());
  }
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

TEST(PostgresStoreTest, PlaceholdersAreNumberedOutsideQuotesAndComments) {
  const auto translated = postgres::TranslatePlaceholders(
      "SELECT '?', 'it''s ?', \"col?\", ? -- what?\n, E'\\'?', ? /* ? */ FROM t WHERE a = ?");
  EXPECT_EQ(translated.text,
            "SELECT '?', 'it''s ?', \"col?\", $1 -- what?\n, E'\\'?', $2 /* ? */ FROM t WHERE a = "
            "$3");
  EXPECT_EQ(translated.parameters, 3);
  EXPECT_EQ(postgres::TranslatePlaceholders("SELECT 1").parameters, 0);
  // SQLite's numbered placeholders: ?NNN, then a bare ? after the largest.
  const auto numbered =
      postgres::TranslatePlaceholders("WHERE (a, b) > (?1, ?2) OR a = ?1 OR c = ? OR d = ?12");
  EXPECT_EQ(numbered.text, "WHERE (a, b) > ($1, $2) OR a = $1 OR c = $3 OR d = $12");
  EXPECT_EQ(numbered.parameters, 12);
}

TEST(PostgresStoreTest, AQuestionMarkInAQuotedLiteralStaysOne) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  ASSERT_OK_AND_ASSIGN(sql::Statement stmt, c->Prepare("SELECT '?', CAST(? AS text), 'a?b'"));
  stmt.BindText("x");
  ASSERT_OK_AND_ASSIGN(bool row, stmt.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(stmt.ReadText(), "?");
  EXPECT_EQ(stmt.ReadText(), "x");
  EXPECT_EQ(stmt.ReadText(), "a?b");
}

TEST(PostgresStoreTest, ByteaRoundTripsEveryByteValue) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Exec("CREATE TABLE b (k bigint PRIMARY KEY, v bytea)"));
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  ASSERT_OK(c->Run("INSERT INTO b (k, v) VALUES (?, ?)", {std::int64_t{1}, sql::BlobValue(all)}));
  ASSERT_OK(c->Run("INSERT INTO b (k, v) VALUES (?, ?)", {std::int64_t{2}, sql::BlobValue("")}));
  ASSERT_OK(c->Run("INSERT INTO b (k, v) VALUES (?, ?)", {std::int64_t{3}, nullptr}));

  ASSERT_OK_AND_ASSIGN(sql::Statement stmt,
                       c->Prepare("SELECT v, length(v), encode(v, 'hex') FROM b WHERE k = ?"));
  stmt.BindInt(1);
  ASSERT_OK_AND_ASSIGN(bool row, stmt.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(stmt.ReadBlob(), all);
  EXPECT_EQ(stmt.ReadInt(), 256);
  EXPECT_EQ(stmt.ReadText(), Hex(all));  // what the server holds

  stmt.Reset();
  stmt.BindInt(2);
  ASSERT_OK_AND_ASSIGN(row, stmt.Step());
  ASSERT_TRUE(row);
  EXPECT_FALSE(stmt.IsNull());  // an empty blob is not NULL
  EXPECT_EQ(stmt.ReadBlob(), "");

  stmt.Reset();
  stmt.BindInt(3);
  ASSERT_OK_AND_ASSIGN(row, stmt.Step());
  ASSERT_TRUE(row);
  EXPECT_TRUE(stmt.IsNull());
  EXPECT_TRUE(stmt.read_status().ok());
}

TEST(PostgresStoreTest, UniqueViolationIsAlreadyExists) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Exec("CREATE TABLE u (k bigint PRIMARY KEY, note text)"));
  ASSERT_OK(
      c->Run("INSERT INTO u (k, note) VALUES (?, ?)", {std::int64_t{7}, sql::TextValue("a")}));
  const absl::Status again =
      c->Run("INSERT INTO u (k, note) VALUES (?, ?)", {std::int64_t{7}, sql::TextValue("b")});
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_THAT(Message(again), HasSubstr("postgres: execute \"INSERT INTO u"));
  // A NOT NULL violation is another integrity constraint.
  const absl::Status null_key = c->Run("INSERT INTO u (k) VALUES (?)", {nullptr});
  EXPECT_EQ(null_key.code(), absl::StatusCode::kFailedPrecondition) << null_key;
}

TEST(PostgresStoreTest, TriggerRaiseIsFailedPreconditionAndRollsTheWriteBack) {
  auto dsn = NewSchemaDsn();
  ASSERT_OK(dsn);
  const std::vector<std::string_view> migrations = {R"sql(
    CREATE TABLE r (k bigint PRIMARY KEY, v text NOT NULL);
    CREATE FUNCTION r_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'rows of r are immutable';
    END $$;
    CREATE TRIGGER r_immutable BEFORE UPDATE ON r
      FOR EACH ROW EXECUTE FUNCTION r_immutable();
  )sql"};
  ASSERT_OK_AND_ASSIGN(auto db, postgres::PgDatabase::Open(Options(*dsn), migrations));
  ASSERT_OK(db->Write(
      [](sql::Connection& c) { return c.Run("INSERT INTO r (k, v) VALUES (1, 'one')"); }));
  const absl::Status refused = db->Write([](sql::Connection& c) -> absl::Status {
    STACKBILL_RETURN_IF_ERROR(c.Run("INSERT INTO r (k, v) VALUES (2, 'two')"));
    return c.Run("UPDATE r SET v = ? WHERE k = ?", {sql::TextValue("uno"), std::int64_t{1}});
  });
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(Message(refused), HasSubstr("rows of r are immutable"));
  std::vector<std::string> rows;
  ASSERT_OK(db->Read([&](sql::Connection& c) -> absl::Status {
    STACKBILL_ASSIGN_OR_RETURN(rows, Column(c, "SELECT v FROM r ORDER BY k"));
    return absl::OkStatus();
  }));
  EXPECT_EQ(rows, std::vector<std::string>{"one"});  // the insert of 2 was rolled back
}

TEST(PostgresStoreTest, SqlStatesMapToCanonicalCodes) {
  using absl::StatusCode;
  const struct {
    std::string_view sqlstate;
    bool bad;
    StatusCode code;
  } cases[] = {
      {"23505", false, StatusCode::kAlreadyExists},
      {"23503", false, StatusCode::kFailedPrecondition},
      {"23514", false, StatusCode::kFailedPrecondition},
      {"P0001", false, StatusCode::kFailedPrecondition},
      {"40001", false, StatusCode::kAborted},
      {"40P01", false, StatusCode::kAborted},
      {"55P03", false, StatusCode::kUnavailable},
      {"57014", false, StatusCode::kUnavailable},
      {"57P01", false, StatusCode::kUnavailable},
      {"08006", false, StatusCode::kUnavailable},
      {"53100", false, StatusCode::kUnavailable},
      {"", true, StatusCode::kUnavailable},
      {"22P02", false, StatusCode::kInvalidArgument},
      {"22003", false, StatusCode::kInvalidArgument},
      {"42601", false, StatusCode::kInternal},
      {"42P01", false, StatusCode::kInternal},
      {"", false, StatusCode::kInternal},
  };
  for (const auto& c : cases) {
    const absl::Status status =
        postgres::MapError(c.sqlstate, c.bad, "execute \"X\"", "ERROR:  boom\nDETAIL:  why\n");
    EXPECT_EQ(status.code(), c.code) << c.sqlstate;
    EXPECT_EQ(Message(status), "postgres: execute \"X\": ERROR:  boom DETAIL:  why");
  }
}

TEST(PostgresStoreTest, UntypedParameterIsRetriedAsTextWithoutAbortingTheTransaction) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Exec("CREATE TABLE t (k bigint)"));
  ASSERT_OK(c->Exec("BEGIN"));
  ASSERT_OK(c->Run("INSERT INTO t (k) VALUES (1)"));
  {
    // Neither parameter's type can be inferred.
    ASSERT_OK_AND_ASSIGN(sql::Statement stmt, c->Prepare("SELECT ? IS NULL, ?"));
    stmt.BindNull().BindText("b");
    ASSERT_OK_AND_ASSIGN(bool row, stmt.Step());
    ASSERT_TRUE(row);
    EXPECT_TRUE(stmt.ReadBool());
    EXPECT_EQ(stmt.ReadText(), "b");
    stmt.Reset();
    stmt.BindText("a").BindText("c");
    ASSERT_OK_AND_ASSIGN(row, stmt.Step());
    ASSERT_TRUE(row);
    EXPECT_FALSE(stmt.ReadBool());
    EXPECT_EQ(stmt.ReadText(), "c");
  }
  ASSERT_OK(c->Run("INSERT INTO t (k) VALUES (2)"));
  ASSERT_OK(c->Commit());
  ASSERT_OK_AND_ASSIGN(auto rows, Column(*c, "SELECT k FROM t ORDER BY k"));
  EXPECT_EQ(rows, (std::vector<std::string>{"1", "2"}));
}

// Unlike SQLite, a failed statement aborts PostgreSQL's transaction: a body
// that goes on after an error cannot commit.
TEST(PostgresStoreTest, WriteThatSwallowsAnErrorDoesNotCommit) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(
      auto db,
      postgres::PgDatabase::Open(
          Options(dsn), std::vector<std::string_view>{"CREATE TABLE s (k bigint PRIMARY KEY)"}));
  const absl::Status status = db->Write([](sql::Connection& c) -> absl::Status {
    STACKBILL_RETURN_IF_ERROR(c.Run("INSERT INTO s (k) VALUES (1)"));
    (void)c.Run("INSERT INTO s (k) VALUES (1)");  // AlreadyExists, ignored
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(Message(status), HasSubstr("aborted by an earlier error"));
  std::vector<std::string> rows;
  ASSERT_OK(db->Read([&](sql::Connection& c) -> absl::Status {
    STACKBILL_ASSIGN_OR_RETURN(rows, Column(c, "SELECT k FROM s"));
    return absl::OkStatus();
  }));
  EXPECT_TRUE(rows.empty());
}

TEST(PostgresStoreTest, TextGoesIntoNumericColumnsAndNullsReuseThePreparedTypes) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Exec("CREATE TABLE q (k bigint, amount numeric, note text, id bytea)"));
  const std::string_view insert = "INSERT INTO q (k, amount, note, id) VALUES (?, ?, ?, ?)";
  ASSERT_OK(c->Run(insert, {std::int64_t{1}, sql::TextValue("12.50"), sql::TextValue("n"),
                            sql::BlobValue("\x01\x02")}));
  ASSERT_OK(c->Run(insert, {std::int64_t{2}, nullptr, nullptr, nullptr}));
  ASSERT_OK(
      c->Run(insert, {nullptr, sql::TextValue("-0.001"), sql::TextValue(""), sql::BlobValue("")}));
  ASSERT_OK_AND_ASSIGN(auto sums, Column(*c, "SELECT sum(amount) FROM q"));
  EXPECT_EQ(sums, std::vector<std::string>{"12.499"});
  ASSERT_OK_AND_ASSIGN(auto nulls,
                       Column(*c, "SELECT count(*) FROM q WHERE note IS NULL AND id IS NULL"));
  EXPECT_EQ(nulls, std::vector<std::string>{"1"});
  // An invalid number is the caller's error.
  const absl::Status bad = c->Run(insert, {std::int64_t{3}, sql::TextValue("x"), nullptr, nullptr});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument) << bad;
}

TEST(PostgresStoreTest, NestedUseOfACachedStatementGetsAPrivateCopy) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Exec("CREATE TABLE n (k bigint); INSERT INTO n VALUES (1), (2), (3)"));
  const std::string_view query = "SELECT k FROM n WHERE k >= ? ORDER BY k";
  for (int round = 0; round < 2; ++round) {  // the second with the cache warm
    ASSERT_OK_AND_ASSIGN(sql::Statement outer, c->Prepare(query));
    outer.BindInt(1);
    std::vector<std::string> pairs;
    for (;;) {
      ASSERT_OK_AND_ASSIGN(bool row, outer.Step());
      if (!row) break;
      const std::int64_t k = outer.ReadInt();
      ASSERT_OK_AND_ASSIGN(auto inner, Column(*c, query, {k + 1}));
      pairs.push_back(std::to_string(k) + ":" + std::to_string(inner.size()));
    }
    EXPECT_EQ(pairs, (std::vector<std::string>{"1:2", "2:1", "3:0"}));
  }
}

// The private copy of a statement whose parameter types are not known yet,
// inside a transaction (found under a savepoint, whose RELEASE replaces the
// unnamed statement): the ingest's first chunk of rollup keys did this.
TEST(PostgresStoreTest, APrivateCopyWithUnknownTypesRunsInsideATransaction) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Exec("CREATE TABLE u (k bigint, note text)"));
  ASSERT_OK(c->Exec("BEGIN"));
  const std::string_view insert = "INSERT INTO u (k, note) VALUES (?, ?)";
  {
    ASSERT_OK_AND_ASSIGN(sql::Statement held, c->Prepare(insert));
    ASSERT_OK_AND_ASSIGN(sql::Statement copy, c->Prepare(insert));
    copy.BindInt(1).BindText("first");
    ASSERT_OK(copy.Run());
    held.BindInt(2).BindNull();
    ASSERT_OK(held.Run());
  }
  ASSERT_OK(c->Commit());
  ASSERT_OK_AND_ASSIGN(auto rows,
                       Column(*c, "SELECT k || ':' || coalesce(note, '-') FROM u ORDER BY k"));
  EXPECT_EQ(rows, (std::vector<std::string>{"1:first", "2:-"}));
}

// The nodes of a store read one clock: the server's (issue 9). The test
// server runs on this machine, so the two clocks agree to within the
// round trip (a minute of slack for a loaded machine; not a speed check).
TEST(PostgresStoreTest, ServerTimeIsTheDatabaseServersClock) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenAt(dsn));
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const std::int64_t machine = std::chrono::duration_cast<std::chrono::seconds>(wall).count();
  ASSERT_OK_AND_ASSIGN(const Timestamp server, store->ServerTime());
  EXPECT_LT(std::abs(server.unix_seconds() - machine), 60);
  ASSERT_OK_AND_ASSIGN(const Timestamp later, store->ServerTime());
  EXPECT_FALSE(later < server);
}

TEST(PostgresStoreTest, ChangesCountsTheLastInsertUpdateOrDelete) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->changes(), 0);
  ASSERT_OK(c->Exec("CREATE TABLE ch (k bigint)"));
  ASSERT_OK(c->Run("INSERT INTO ch (k) VALUES (1), (2), (3)"));
  EXPECT_EQ(c->changes(), 3);
  ASSERT_OK(c->Run("SELECT k FROM ch"));
  EXPECT_EQ(c->changes(), 3);
  ASSERT_OK(c->Run("UPDATE ch SET k = k + 1 WHERE k >= ?", {std::int64_t{2}}));
  EXPECT_EQ(c->changes(), 2);
  ASSERT_OK(c->Run("DELETE FROM ch WHERE k > ?", {std::int64_t{100}}));
  EXPECT_EQ(c->changes(), 0);
}

// Polls `done` until it is true or 30 s have passed.
template <typename Predicate>
bool Eventually(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST(PostgresStoreTest, WriteTransactionsOfTwoStoresOnOneSchemaRunOneAtATime) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(const std::string other_dsn, NewSchemaDsn());
  const std::vector<std::string_view> migrations = {"CREATE TABLE w (k bigint)"};
  ASSERT_OK_AND_ASSIGN(auto first, postgres::PgDatabase::Open(Options(dsn), migrations));
  ASSERT_OK_AND_ASSIGN(auto second, postgres::PgDatabase::Open(Options(dsn), migrations));
  ASSERT_OK_AND_ASSIGN(auto other, postgres::PgDatabase::Open(Options(other_dsn), migrations));
  ASSERT_OK_AND_ASSIGN(RawConn observer, ConnectRaw(dsn));

  std::mutex mu;
  std::condition_variable cv;
  bool holding = false;  // guarded by mu
  bool release = false;  // guarded by mu
  std::atomic<bool> first_done{false};
  std::atomic<bool> second_ran{false};
  std::atomic<bool> second_saw_first_done{false};
  absl::Status first_status, second_status;

  std::thread a([&] {
    first_status = first->Write([&](sql::Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(c.Run("INSERT INTO w (k) VALUES (1)"));
      std::unique_lock<std::mutex> lock(mu);
      holding = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      first_done = true;
      return absl::OkStatus();
    });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return holding; });
  }
  std::thread b([&] {
    second_status = second->Write([&](sql::Connection& c) -> absl::Status {
      second_saw_first_done = first_done.load();
      second_ran = true;
      // The first's row is visible: it committed before this began.
      STACKBILL_ASSIGN_OR_RETURN(auto rows, Column(c, "SELECT count(*) FROM w"));
      return rows == std::vector<std::string>{"1"} ? absl::OkStatus()
                                                   : absl::InternalError("first row not seen");
    });
  });
  // The second writer waits for the schema's advisory lock.
  const bool waiting = Eventually([&] {
    auto n = QueryValue(observer.get(),
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT "
                        "granted AND classid = " +
                            std::to_string(postgres::kAdvisoryLockKey) +
                            " AND objid = (hashtext(current_schema())::bigint & 4294967295)::oid");
    return n.ok() && *n == "1";
  });
  EXPECT_TRUE(waiting);
  EXPECT_FALSE(second_ran.load());
  // A writer whose lock_timeout passes first gives up: Unavailable.
  PostgresOptions impatient = Options(dsn);
  impatient.lock_timeout = std::chrono::milliseconds(50);
  ASSERT_OK_AND_ASSIGN(auto third, postgres::PgDatabase::Open(impatient, migrations));
  const absl::Status timed_out = third->Write([](sql::Connection&) { return absl::OkStatus(); });
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kUnavailable) << timed_out;
  // A writer on another schema does not wait.
  EXPECT_OK(other->Write([](sql::Connection& c) { return c.Run("INSERT INTO w (k) VALUES (1)"); }));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  a.join();
  b.join();
  EXPECT_OK(first_status);
  EXPECT_OK(second_status);
  EXPECT_TRUE(second_ran.load());
  EXPECT_TRUE(second_saw_first_done.load());
}

// The ingest's writes (WriteShared) run side by side on one schema, each
// inside its transaction while the other is; an exclusive Write waits for
// both.
TEST(PostgresStoreTest, SharedWritesRunSideBySideAndAWriteWaitsForThem) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  const std::vector<std::string_view> migrations = {"CREATE TABLE w (k bigint)"};
  ASSERT_OK_AND_ASSIGN(auto first, postgres::PgDatabase::Open(Options(dsn), migrations));
  ASSERT_OK_AND_ASSIGN(auto second, postgres::PgDatabase::Open(Options(dsn), migrations));
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;        // guarded by mu
  bool release = false;  // guarded by mu
  auto shared_body = [&](int k) {
    return [&, k](sql::Connection& c) -> absl::Status {
      STACKBILL_RETURN_IF_ERROR(c.Run("INSERT INTO w (k) VALUES (?)", {std::int64_t{k}}));
      std::unique_lock<std::mutex> lock(mu);
      ++inside;
      cv.notify_all();
      // Both inside at once, or this times out: the writes did not overlap.
      if (!cv.wait_for(lock, std::chrono::seconds(30), [&] { return inside == 2 && release; })) {
        return absl::DeadlineExceededError("the other shared write never ran beside this one");
      }
      return absl::OkStatus();
    };
  };
  absl::Status a_status, b_status, exclusive_status;
  std::thread a([&] { a_status = first->WriteShared(shared_body(1)); });
  std::thread b([&] { b_status = second->WriteShared(shared_body(2)); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return inside == 2; }));
  }
  std::atomic<bool> exclusive_ran{false};
  std::thread x([&] {
    exclusive_status = first->Write([&](sql::Connection& c) -> absl::Status {
      exclusive_ran = true;
      STACKBILL_ASSIGN_OR_RETURN(auto rows, Column(c, "SELECT count(*) FROM w"));
      return rows == std::vector<std::string>{"2"} ? absl::OkStatus()
                                                   : absl::InternalError("a shared write unseen");
    });
  });
  ASSERT_OK_AND_ASSIGN(RawConn observer, ConnectRaw(dsn));
  EXPECT_TRUE(Eventually([&] {
    auto n = QueryValue(observer.get(),
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                        "AND mode = 'ExclusiveLock'");
    return n.ok() && *n == "1";
  }));
  EXPECT_FALSE(exclusive_ran.load());
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  a.join();
  b.join();
  x.join();
  EXPECT_OK(a_status);
  EXPECT_OK(b_status);
  EXPECT_OK(exclusive_status);
}

// Two shared writes that lock two rows in opposite orders deadlock;
// PostgreSQL ends one (40P01) and WriteShared runs its body again.
TEST(PostgresStoreTest, ASharedWriteEndedByADeadlockRunsAgain) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  const std::vector<std::string_view> migrations = {"CREATE TABLE d (k bigint PRIMARY KEY)"};
  ASSERT_OK_AND_ASSIGN(auto db, postgres::PgDatabase::Open(Options(dsn), migrations));
  std::atomic<int> runs{0};
  std::latch first_rows_in(2);
  auto body = [&](std::int64_t first_key, std::int64_t second_key) {
    return [&, first_key, second_key](sql::Connection& c) -> absl::Status {
      const bool first_run = runs.fetch_add(1) < 2;
      if (!first_run) {
        // The victim's second run waits for the survivor's commit. Without
        // this, it could insert a key before the survivor, woken by the
        // victim's rollback, does: a second deadlock and a fourth run
        // (legitimate, and retried too, but not what this test counts).
        for (int i = 0; i < 1000; ++i) {
          STACKBILL_ASSIGN_OR_RETURN(sql::Statement rows, c.Prepare("SELECT count(*) FROM d"));
          STACKBILL_ASSIGN_OR_RETURN(bool row, rows.Step());
          if (row && rows.ReadInt() == 2) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      constexpr std::string_view kInsert = "INSERT INTO d (k) VALUES (?) ON CONFLICT DO NOTHING";
      STACKBILL_RETURN_IF_ERROR(c.Run(kInsert, {first_key}));
      if (first_run) first_rows_in.arrive_and_wait();
      return c.Run(kInsert, {second_key});
    };
  };
  absl::Status a_status, b_status;
  std::thread a([&] { a_status = db->WriteShared(body(1, 2)); });
  std::thread b([&] { b_status = db->WriteShared(body(2, 1)); });
  a.join();
  b.join();
  EXPECT_OK(a_status);
  EXPECT_OK(b_status);
  EXPECT_EQ(runs.load(), 3);
  ASSERT_OK_AND_ASSIGN(RawConn conn, ConnectRaw(dsn));
  EXPECT_EQ(*QueryValue(conn.get(), "SELECT count(*) FROM d"), "2");
}

TEST(PostgresStoreTest, TheDsnPasswordNeverAppearsInAnError) {
  const std::string secret = "Sup3rSecretPw";
  ASSERT_OK_AND_ASSIGN(const std::string server, TestServerDsn());
  ASSERT_OK_AND_ASSIGN(RawConn conn, ConnectRaw(server));
  const std::string host = PQhost(conn.get());
  const std::string port = PQport(conn.get());
  const struct {
    std::string dsn;
    absl::StatusCode code;
  } cases[] = {
      // Refused: nothing listens on port 1.
      {"postgresql://stackbill:" + secret + "@127.0.0.1:1/stackbill_test",
       absl::StatusCode::kUnavailable},
      {"host=127.0.0.1 port=1 user=stackbill password=" + secret + " dbname=stackbill_test",
       absl::StatusCode::kUnavailable},
      // Refused by the server: no such database.
      {"host=" + host + " port=" + port + " user=stackbill password=" + secret +
           " dbname=no_such_database",
       absl::StatusCode::kUnavailable},
      // Does not parse (libpq's messages quote the text around the fault).
      {"host=127.0.0.1 password=" + secret + " " + secret + "x",
       absl::StatusCode::kInvalidArgument},
      {"postgresql://stackbill:" + secret + "@127.0.0.1:1/db?" + secret + "=1",
       absl::StatusCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    auto store = OpenPostgresStore(Options(c.dsn));
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), c.code) << store.status();
    EXPECT_THAT(Message(store.status()), Not(HasSubstr(secret)));
    if (c.code == absl::StatusCode::kUnavailable) {
      EXPECT_THAT(Message(store.status()), HasSubstr("host="));
    }
  }
}

TEST(PostgresStoreTest, LostConnectionIsUnavailableAndThenReplaced) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(auto db, postgres::PgDatabase::Open(Options(dsn, /*connections=*/1),
                                                           std::vector<std::string_view>{}));
  auto backend_pid = [&]() -> absl::StatusOr<std::string> {
    std::vector<std::string> rows;
    STACKBILL_RETURN_IF_ERROR(db->Read([&](sql::Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(rows, Column(c, "SELECT CAST(pg_backend_pid() AS bigint)"));
      return absl::OkStatus();
    }));
    return rows.at(0);
  };
  ASSERT_OK_AND_ASSIGN(const std::string pid, backend_pid());
  ASSERT_OK_AND_ASSIGN(RawConn admin, ConnectRaw(dsn));
  ASSERT_OK(QueryValue(admin.get(), "SELECT pg_terminate_backend(" + pid + ")"));
  EXPECT_TRUE(Eventually([&] {
    auto n = QueryValue(admin.get(), "SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid);
    return n.ok() && *n == "0";
  }));
  const auto lost = backend_pid();
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable) << lost.status();
  // The next transaction reconnects (and prepares its statements again).
  ASSERT_OK_AND_ASSIGN(const std::string again, backend_pid());
  EXPECT_NE(again, pid);
}

TEST(PostgresStoreTest, PreparedStatementsOutliveARolledBackTransaction) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(auto db, postgres::PgDatabase::Open(
                                    Options(dsn, /*connections=*/1),
                                    std::vector<std::string_view>{"CREATE TABLE p (k bigint)"}));
  const absl::Status failed = db->Write([](sql::Connection& c) -> absl::Status {
    STACKBILL_RETURN_IF_ERROR(c.Run("INSERT INTO p (k) VALUES (?)", {std::int64_t{1}}));
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted);
  ASSERT_OK(db->Write(
      [](sql::Connection& c) { return c.Run("INSERT INTO p (k) VALUES (?)", {std::int64_t{2}}); }));
  std::vector<std::string> rows;
  ASSERT_OK(db->Read([&](sql::Connection& c) -> absl::Status {
    STACKBILL_ASSIGN_OR_RETURN(rows, Column(c, "SELECT k FROM p"));
    return absl::OkStatus();
  }));
  EXPECT_EQ(rows, std::vector<std::string>{"2"});
}

TEST(PostgresStoreTest, ReadTransactionsAreReadOnly) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(
      auto db, postgres::PgDatabase::Open(
                   Options(dsn), std::vector<std::string_view>{"CREATE TABLE ro (k bigint)"}));
  const absl::Status write_in_read =
      db->Read([](sql::Connection& c) { return c.Run("INSERT INTO ro (k) VALUES (1)"); });
  EXPECT_EQ(write_in_read.code(), absl::StatusCode::kInternal) << write_in_read;  // 25006
}

TEST(PostgresStoreTest, NewSchemaIsAtTheCurrentVersionAndReopeningAppliesNothing) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK(OpenAt(dsn));
  ASSERT_OK(OpenAt(dsn));
  ASSERT_OK_AND_ASSIGN(RawConn conn, ConnectRaw(dsn));
  ASSERT_OK_AND_ASSIGN(auto version, QueryValue(conn.get(),
                                                "SELECT max(version) || '/' || count(*) FROM "
                                                "schema_version"));
  EXPECT_EQ(version, std::to_string(PostgresSchemaVersion()) + "/" +
                         std::to_string(PostgresSchemaVersion()));
}

TEST(PostgresStoreTest, MigrationsApplyOnlyThoseNotYetApplied) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  // Re-running the first migration would fail: the table exists.
  const std::vector<std::string_view> v1 = {"CREATE TABLE a (x bigint)"};
  const std::vector<std::string_view> v2 = {"CREATE TABLE a (x bigint)",
                                            "CREATE TABLE b (y bigint); CREATE TABLE c (z text)"};
  ASSERT_OK(postgres::Migrate(*c, v1));
  EXPECT_EQ(*postgres::ReadSchemaVersion(*c), 1);
  ASSERT_OK(postgres::Migrate(*c, v2));
  EXPECT_EQ(*postgres::ReadSchemaVersion(*c), 2);
  // A failing migration leaves nothing behind.
  const std::vector<std::string_view> v3 = {v2[0], v2[1], "CREATE TABLE d (w bigint); SELECT 1/0"};
  EXPECT_EQ(postgres::Migrate(*c, v3).code(), absl::StatusCode::kInvalidArgument);  // 22012
  EXPECT_EQ(*postgres::ReadSchemaVersion(*c), 2);
  ASSERT_OK_AND_ASSIGN(auto d, Column(*c, "SELECT CAST(to_regclass('d') IS NULL AS text)"));
  EXPECT_EQ(d, std::vector<std::string>{"true"});
}

TEST(PostgresStoreTest, SchemaWrittenByANewerBinaryIsRefused) {
  auto c = ConnectToNewSchema();
  ASSERT_NE(c, nullptr);
  const std::vector<std::string_view> v1 = {"CREATE TABLE a (x bigint)"};
  ASSERT_OK(postgres::Migrate(*c, v1));
  ASSERT_OK(c->Exec("INSERT INTO schema_version (version) VALUES (2)"));
  testing::ExpectError(postgres::Migrate(*c, v1), absl::StatusCode::kFailedPrecondition,
                       "StoreSchemaTooNew");
}

// ---------------------------------------------------------------------------
// Usage partitioned by month (pg_schema.cc, version 2).

const Timestamp kNovember = Timestamp::FromUnixSeconds(1793491200);  // 2026-11-01T00:00:00Z
const Timestamp kDecember = kNovember.AddDays(30);

Guid Cloud() {
  std::array<std::uint8_t, 16> bytes{};
  bytes[0] = 3;
  bytes[15] = 1;
  return Guid(bytes);  // 03000000000000000000000000000001
}

UsageRecord UsageAt(const std::string& name, Timestamp start) {
  UsageRecord r;
  r.cloud_id = Cloud();
  r.record_id = "record-" + name;
  r.identity = "identity-" + name;
  r.content_hash = "hash-" + name;
  r.quantity = *Quantity::FromInteger(2);
  r.usage_start = start;
  r.usage_end = start.AddHours(1);
  r.resource_uri = "/subscriptions/x/virtualMachines/" + name;
  r.instance_data = "{}";
  r.routing.bill_to = BillTo{BillTo::Kind::kPartner, "contoso", Guid()};
  r.reported_time = start.AddHours(2);
  return r;
}

TEST(PostgresStoreTest, UsageLivesInThePartitionOfItsMonth) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(auto store, OpenAt(dsn));
  ASSERT_OK(store->usage().WriteUsage(
      std::vector<UsageRecord>{UsageAt("a", kNovember), UsageAt("b", kDecember.AddSeconds(-3600)),
                               UsageAt("c", kDecember)}));
  ASSERT_OK_AND_ASSIGN(RawConn conn, ConnectRaw(dsn));
  EXPECT_EQ(*QueryValue(conn.get(),
                        "SELECT relkind FROM pg_class "
                        "WHERE oid = 'usage_records'::regclass"),
            "p");
  EXPECT_EQ(*QueryValue(conn.get(),
                        "SELECT string_agg(c.relname, ',' ORDER BY c.relname) "
                        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'usage_records'::regclass"),
            "usage_records_2026_11,usage_records_2026_12");
  EXPECT_EQ(*QueryValue(conn.get(), "SELECT count(*) FROM usage_records_2026_11"), "2");
  EXPECT_EQ(*QueryValue(conn.get(), "SELECT count(*) FROM usage_records_2026_12"), "1");
  EXPECT_EQ(*QueryValue(conn.get(), "SELECT count(*) FROM usage_identities"), "3");
}

// Retention drops a month's partition; its identities stay (R11), so a late
// resend of a dropped record is counted no second time.
TEST(PostgresStoreTest, AResendAfterItsMonthWasDroppedIsStillADuplicate) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(auto store, OpenAt(dsn));
  const std::vector<UsageRecord> records = {UsageAt("a", kNovember), UsageAt("b", kDecember)};
  ASSERT_OK(store->usage().WriteUsage(records));
  ASSERT_OK_AND_ASSIGN(RawConn conn, ConnectRaw(dsn));
  ASSERT_OK(QueryValue(conn.get(), "DROP TABLE usage_records_2026_11; SELECT 1"));
  ASSERT_OK_AND_ASSIGN(std::vector<UsageOutcome> outcomes, store->usage().WriteUsage(records));
  EXPECT_EQ(outcomes, std::vector<UsageOutcome>(2, UsageOutcome::kDuplicate));
  EXPECT_EQ(*store->usage().CountUsage({}), 1);
}

// Ingest writes beside each other (WriteShared), from two stores, on the
// same identities in opposite orders — which deadlocks, and is written
// again —: each identity accepted once overall, and every record stored
// with the claim of its identity (its seq).
TEST(PostgresStoreTest, SharedIngestWritesStoreEachIdentityOnceWithItsClaim) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  ASSERT_OK_AND_ASSIGN(auto first, OpenAt(dsn));
  ASSERT_OK_AND_ASSIGN(auto second, OpenAt(dsn));
  constexpr int kRecords = 400;
  constexpr int kChunk = 40;
  std::vector<UsageRecord> records;
  records.reserve(kRecords);
  for (int i = 0; i < kRecords; ++i) {
    records.push_back(UsageAt(std::to_string(i), kNovember.AddHours(i % 48)));
  }
  const std::vector<std::string_view> raw_texts(kChunk, "{}");
  std::atomic<std::int64_t> accepted{0};
  std::mutex mu;
  std::vector<absl::Status> errors;
  auto writer = [&](Store& store, bool reversed) {
    for (int c = 0; c < kRecords / kChunk; ++c) {
      const int chunk = reversed ? kRecords / kChunk - 1 - c : c;
      IngestWrite write;
      write.records = std::span(records).subspan(
          static_cast<std::size_t>(chunk) * static_cast<std::size_t>(kChunk), kChunk);
      write.raw_texts = raw_texts;
      write.received_at = kDecember;
      absl::StatusOr<IngestWriteResult> result = store.usage().WriteIngest(write);
      if (!result.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        errors.push_back(result.status());
        continue;
      }
      for (UsageOutcome o : result->outcomes) accepted += o == UsageOutcome::kAccepted ? 1 : 0;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back(writer, std::ref(*first), t == 1);
    threads.emplace_back(writer, std::ref(*second), t == 0);
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& error : errors) ADD_FAILURE() << error;
  EXPECT_EQ(accepted.load(), kRecords);
  ASSERT_OK_AND_ASSIGN(RawConn conn, ConnectRaw(dsn));
  EXPECT_EQ(*QueryValue(conn.get(),
                        "SELECT count(*) || '/' || count(DISTINCT (cloud_id, identity)) || '/' || "
                        "(SELECT count(*) FROM usage_identities) || '/' || "
                        "(SELECT count(*) FROM usage_records r JOIN usage_identities i "
                        "USING (cloud_id, identity, seq)) FROM usage_records"),
            absl::StrCat(kRecords, "/", kRecords, "/", kRecords, "/", kRecords));
}

TEST(PostgresStoreTest, MigrationTwoMovesStoredUsageIntoMonthlyPartitions) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, NewSchemaDsn());
  {
    ASSERT_OK_AND_ASSIGN(auto c, postgres::PgConnection::Open(Options(dsn)));
    ASSERT_OK(postgres::Migrate(*c, postgres::PostgresSchemaMigrations().first(1)));
    // Two records stored at version 1, November's and December's.
    ASSERT_OK(c->Exec(absl::StrCat(
        "INSERT INTO usage_records (seq, cloud_id, identity, content_hash, record_id, tenant_id, "
        "local_subscription_id, meter_id, quantity, usage_start_s, usage_start_ns, usage_end_s, "
        "usage_end_ns, resource_uri, instance_data, billed_subscription_id, bill_to_kind, "
        "bill_to_partner_id, bill_to_subscription_id, routing_reason, reported_s, reported_ns) "
        "SELECT seq, '\\x03000000000000000000000000000001', convert_to('identity-' || n, 'UTF8'), "
        "convert_to('hash-' || n, 'UTF8'), 'record-' || n, '\\x00', '\\x00', '\\x00', 2, s, 0, "
        "s + 3600, 0, '/r', '{}', '\\x00', 'partner', 'contoso', '\\x00', 'default', s, 0 "
        "FROM (VALUES (5, 'a', ",
        kNovember.unix_seconds(), "), (9, 'b', ", kDecember.unix_seconds(),
        ")) AS v (seq, n, s)")));
    ASSERT_OK(postgres::Migrate(*c, postgres::PostgresSchemaMigrations()));
  }
  ASSERT_OK_AND_ASSIGN(RawConn conn, ConnectRaw(dsn));
  EXPECT_EQ(*QueryValue(conn.get(), "SELECT count(*) FROM usage_records_2026_11"), "1");
  EXPECT_EQ(*QueryValue(conn.get(), "SELECT count(*) FROM usage_records_2026_12"), "1");
  EXPECT_EQ(*QueryValue(conn.get(),
                        "SELECT string_agg(seq::text, ',' ORDER BY seq) "
                        "FROM usage_identities"),
            "5,9");
  EXPECT_EQ(*QueryValue(conn.get(), "SELECT CAST(to_regclass('usage_records_v1') IS NULL AS text)"),
            "true");

  // The migrated records are duplicates; a new one is stored after them.
  ASSERT_OK_AND_ASSIGN(auto store, OpenAt(dsn));
  ASSERT_OK_AND_ASSIGN(
      std::vector<UsageOutcome> outcomes,
      store->usage().WriteUsage(std::vector<UsageRecord>{
          UsageAt("a", kNovember), UsageAt("b", kDecember), UsageAt("c", kNovember)}));
  EXPECT_EQ(outcomes, (std::vector<UsageOutcome>{UsageOutcome::kDuplicate, UsageOutcome::kDuplicate,
                                                 UsageOutcome::kAccepted}));
  EXPECT_EQ(*QueryValue(conn.get(),
                        "SELECT string_agg(convert_from(identity, 'UTF8'), ',' "
                        "ORDER BY seq) FROM usage_records"),
            "identity-a,identity-b,identity-c");
  EXPECT_EQ(*QueryValue(conn.get(),
                        "SELECT CAST(min(seq) > 9 AS text) FROM usage_records "
                        "WHERE identity = convert_to('identity-c', 'UTF8')"),
            "true");
}

TEST(PostgresStoreTest, BadOptionsAreInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(const std::string dsn, TestServerDsn());
  EXPECT_EQ(OpenPostgresStore({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenPostgresStore(Options(dsn, 0)).status().code(), absl::StatusCode::kInvalidArgument);
  PostgresOptions negative = Options(dsn);
  negative.lock_timeout = std::chrono::milliseconds(-1);
  EXPECT_EQ(OpenPostgresStore(negative).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PostgresStoreTest, PostgresLocationsAreUris) {
  EXPECT_TRUE(IsPostgresLocation("postgresql://u@h/db"));
  EXPECT_TRUE(IsPostgresLocation("postgres://h/db"));
  EXPECT_FALSE(IsPostgresLocation("/var/lib/stackbill/store.db"));
  EXPECT_FALSE(IsPostgresLocation("host=h dbname=db"));
  EXPECT_FALSE(IsPostgresLocation("postgresql.db"));
}

TEST(PostgresStoreTest, DescribedDsnNamesHostPortAndDatabaseOnly) {
  EXPECT_EQ(postgres::DescribeDsn("postgresql://u:pw@db.example:6543/billing?sslmode=require"),
            "host=db.example port=6543 dbname=billing");
  EXPECT_EQ(postgres::DescribeDsn("host=h password=pw dbname=d"), "host=h dbname=d");
  EXPECT_EQ(postgres::DescribeDsn("host=h password"), "");
}

}  // namespace
}  // namespace stackbill
