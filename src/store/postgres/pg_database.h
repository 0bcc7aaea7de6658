#pragma once

// The PostgreSQL mechanics behind OpenPostgresStore (internal to
// store/postgres): libpq connections implementing sql::Connection, with
// `?` placeholders translated to `$n` and a per-connection cache of
// server-side prepared statements, and a sql::Database over a pool of them.
//
// Values travel in libpq's text format except blobs: an integer is sent as
// int8, text as a parameter of unknown type (so that the server reads it as
// the column's type: text, numeric, …), a blob as binary bytea, NULL as
// unknown. Results come back as text; bytea columns (hex output) are decoded.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/postgres/pg_store.h"
#include "store/sql/database.h"

struct pg_conn;
struct pg_result;

namespace stackbill::postgres {

// The first key of every advisory lock stackbill takes (the second names the
// schema): "SB" 0x0001.
inline constexpr std::int32_t kAdvisoryLockKey = 0x53420001;

// `sql` with its placeholders in PostgreSQL's form, numbered as SQLite
// numbers them: `?NNN` becomes $NNN, and a bare `?` the parameter after the
// largest numbered so far ($1, $2, … from the left when none is numbered). A
// `?` inside a quoted literal or identifier ('…', E'…', "…") or a comment
// stays.
struct TranslatedSql {
  std::string text;
  int parameters = 0;  // the largest parameter number
};
TranslatedSql TranslatePlaceholders(std::string_view sql);

// The status for a failed libpq call, per store.h's conventions:
//   23505 (unique_violation)                               AlreadyExists
//   other class 23 (integrity constraints), P0001 (RAISE
//     EXCEPTION of our triggers)                           FailedPrecondition
//   40001 (serialization), 40P01 (deadlock): the
//     transaction was ended; PgDatabase runs a WriteShared
//     body again, and returns Unavailable once it gives up  Aborted
//   55P03 (lock not available: lock_timeout), 57014 (canceled:
//     statement_timeout), 57P01-57P03 (shutdown, starting
//     up), class 08 (connection), class 53 (insufficient
//     resources, disk full), or no SQLSTATE on a lost
//     connection (`connection_bad`)                        Unavailable
//   class 22 (data exception)                              InvalidArgument
//   anything else                                          Internal
// The message is "postgres: <what>: <detail>", `detail` on one line.
absl::Status MapError(std::string_view sqlstate, bool connection_bad, std::string_view what,
                      std::string_view detail);

// What may be said about a DSN in a message: "host=… port=… dbname=…" (never
// its password or other options); "" when it does not parse.
std::string DescribeDsn(std::string_view dsn);

class PgStatement;

// One libpq connection. Used by one thread at a time. Owns its cached
// statements (a private copy, handed out while the cached one is in use, is
// owned by its sql::Statement); every sql::Statement from Prepare must be
// destroyed before the connection. Unlike SQLite, a statement that fails
// aborts the whole transaction: later statements fail and Commit reports it.
class PgConnection final : public sql::Connection {
 public:
  // Connects to options.dsn and prepares the session: time zone UTC, UTF8,
  // standard_conforming_strings, options' statement and lock timeouts.
  // InvalidArgument for a DSN that does not parse; Unavailable when the
  // server cannot be reached or refuses.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Open(const PostgresOptions& options);
  ~PgConnection() override;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  absl::StatusOr<sql::Statement> Prepare(std::string_view sql) override;
  absl::Status Exec(std::string_view sql) override;
  // Rows changed by the last INSERT/UPDATE/DELETE (or MERGE) run on this
  // connection; 0 before the first.
  std::int64_t changes() const override { return changes_; }
  // Every statement is a round trip to the server: the ingest writes many
  // rows per statement.
  bool batches_rows() const override { return true; }
  // Makes the month's partition of usage_records if there is none
  // (pg_schema.cc, version 2).
  absl::Status PrepareUsageMonth(YearMonth month) override;
  // pg_advisory_xact_lock on a hash of the schema and `key` (the one-key
  // space, apart from PgDatabase's two-key locks).
  absl::Status LockKey(std::string_view key) override;

  // Commits the current transaction. Internal when an earlier error of the
  // transaction aborted it (the server would answer COMMIT with ROLLBACK);
  // the mapped error when COMMIT fails.
  absl::Status Commit();
  // Rolls the current transaction back, if there is one; a failure (the
  // connection is lost) is left for the pool to find (Idle()).
  void Rollback();

  // Whether the connection is usable for a new transaction: connected, its
  // session set up, and outside any transaction.
  bool Idle() const;
  // Reconnects (PQreset) and prepares the session again; the server's
  // prepared statements are gone, so the cache is emptied. REQUIRES: no
  // statement of this connection is in use. Unavailable when it fails.
  absl::Status Reconnect();
  // hashtext(current_schema()) of this session: the second key of the
  // advisory locks on this schema.
  std::int32_t schema_key() const { return schema_key_; }

  // The status for `result` (null: the connection failed) with this
  // connection's error message, prefixed by `what` (MapError).
  absl::Status Error(const pg_result* result, std::string_view what) const;

 private:
  friend class PgStatement;
  struct Finish {
    void operator()(pg_conn* conn) const;
  };
  PgConnection(pg_conn* conn, const PostgresOptions& options);
  absl::Status SetUpSession();
  // Records the result of an executed command for changes().
  void NoteCommand(const pg_result* result);
  // A name for a new server-side prepared statement.
  std::string NextStatementName();

  std::unique_ptr<pg_conn, Finish> conn_;  // declared first: closed last
  PostgresOptions options_;
  std::int32_t schema_key_ = 0;
  // Whether SetUpSession succeeded on the current connection (a reconnect
  // whose set-up failed must not be used: no UTC, no timeouts).
  bool session_ready_ = false;
  std::int64_t changes_ = 0;
  std::int64_t statement_names_ = 0;
  absl::flat_hash_map<std::string, std::unique_ptr<PgStatement>> cache_;
};

// The database behind one PostgreSQL store: a pool of up to
// options.connections connections, opened as needed. Thread-safe.
//
// Write transactions are READ COMMITTED and start by taking the store's lock,
// (kAdvisoryLockKey, hashtext(current_schema())), in any process: Write
// takes it exclusively, so that it waits for every write before it to end,
// which gives the area stores SQLite's one-writer semantics (their
// check-then-write steps are not safe under concurrent writers); WriteShared
// takes it shared, so that such writes (the ingest) run side by side, and
// runs its body again, up to kSharedWriteAttempts times, when PostgreSQL
// ends it to break a deadlock (40P01) or a serialization failure (40001).
// The waits are bounded by the lock_timeout (then Unavailable). Stores in
// other schemas of the same database do not wait for each other. Read
// transactions are REPEATABLE READ READ ONLY: one snapshot, never waiting for
// a writer.
class PgDatabase final : public sql::Database {
 public:
  // Connects and applies `migrations` (Migrate). Errors as
  // OpenPostgresStore.
  static absl::StatusOr<std::unique_ptr<PgDatabase>> Open(
      const PostgresOptions& options, std::span<const std::string_view> migrations);

  absl::Status Write(absl::FunctionRef<absl::Status(sql::Connection&)> body) override;
  absl::Status WriteShared(absl::FunctionRef<absl::Status(sql::Connection&)> body) override;
  // Two (fewer with a smaller pool): while one ingest transaction waits on
  // the network, the other keeps a backend busy; more only contend.
  int shared_writers() const override { return std::min(options_.connections, 2); }
  absl::Status Read(absl::FunctionRef<absl::Status(sql::Connection&)> body) override;
  // The server's clock_timestamp(), to the microsecond.
  absl::StatusOr<Timestamp> ServerTime() override;

 private:
  explicit PgDatabase(const PostgresOptions& options) : options_(options) {}
  // An idle connection, reconnected if it was broken; waits while all are in
  // use. Unavailable when a new connection cannot be opened.
  absl::StatusOr<PgConnection*> Acquire();
  void Release(PgConnection* connection);
  enum class Kind { kWrite, kSharedWrite, kRead };
  // Runs body in a transaction of that kind on a pooled connection, once.
  absl::Status Transaction(Kind kind, absl::FunctionRef<absl::Status(sql::Connection&)> body);

  const PostgresOptions options_;
  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which would not see absl::Mutex synchronise.
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<PgConnection>> connections_;  // guarded by mu_
  std::vector<PgConnection*> idle_;                         // guarded by mu_
  int opening_ = 0;  // connections being opened outside mu_; guarded by mu_
};

// Applies `migrations[v…]` to the schema of `connection` at version v, in one
// transaction that holds the migration advisory lock (kAdvisoryLockKey,
// schema key + 1), so that processes opening one schema at once migrate it
// once; records each version in schema_version. FailedPrecondition /
// StoreSchemaTooNew when the schema is at a version beyond migrations.size().
// REQUIRES: `connection` is outside any transaction.
absl::Status Migrate(PgConnection& connection, std::span<const std::string_view> migrations);

// The version recorded in schema_version (0 for a new schema).
absl::StatusOr<std::int64_t> ReadSchemaVersion(PgConnection& connection);

}  // namespace stackbill::postgres
