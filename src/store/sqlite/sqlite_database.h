#pragma once

// The SQLite mechanics behind SqliteStore (internal to store/sqlite), the
// SQLite implementation of store/sql/database.h: RAII connections with a
// per-connection prepared-statement cache, and a Database with one writer
// connection (BEGIN IMMEDIATE transactions under a mutex; the busy timeout
// serialises writers of other processes) and a pool of reader connections.
// The forwarder's spool (forward/spool.h) uses a Connection on its own.

#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/decimal.h"
#include "core/guid.h"
#include "core/status_macros.h"
#include "core/time.h"
#include "store/sql/database.h"
#include "store/sqlite/sqlite_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace stackbill::sqlite {

// The shared SQL mechanics (store/sql/database.h), as this backend's names.
using sql::Blob;
using sql::Cat;
using sql::GuidValue;
using sql::SqlValue;
using sql::Statement;
using sql::TextValue;
using sql::Where;

struct ConnectionOptions {
  bool query_only = false;
  SqliteOptions::Durability durability = SqliteOptions::Durability::kNormal;
  std::chrono::milliseconds busy_timeout{0};
  // Page cache of this connection in KiB (SQLite's default is 2,000). The
  // writer's must hold the hot part of the usage indexes: a natural-key
  // identity sorts by usage hour (core/usage_identity.h), an id's identity
  // and a duplicate probe land anywhere, so a small cache turns inserts into
  // reads.
  std::int64_t cache_kib = 2000;
  // Whether commits of this connection checkpoint the WAL themselves
  // (SQLite's default). The Database's writer does not: a background
  // connection checkpoints, so no commit waits for a checkpoint's writes and
  // fsyncs.
  bool auto_checkpoint = true;
};

// One sqlite3 connection. Used by one thread at a time.
class Connection final : public sql::Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                          const ConnectionOptions& options);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The cached prepared statement for `sql` (prepared on first use). If it is
  // already in use (a nested query), a private copy is prepared instead.
  absl::StatusOr<Statement> Prepare(std::string_view sql) override;
  // Runs one or more statements without caching (schema, pragmas, BEGIN).
  absl::Status Exec(std::string_view sql) override;
  using sql::Connection::Run;

  // Rows changed by the last INSERT/UPDATE/DELETE.
  std::int64_t changes() const override;
  // A status for SQLite result code `rc` (mapped per store.h's conventions)
  // with this connection's error message, prefixed by `what`.
  absl::Status Error(int rc, std::string_view what) const;
  sqlite3* handle() const { return db_.get(); }

 private:
  class SqliteStatement;
  struct CloseDatabase {
    void operator()(sqlite3* db) const;
  };
  explicit Connection(sqlite3* db);

  std::unique_ptr<sqlite3, CloseDatabase> db_;  // declared first: closed last
  absl::flat_hash_map<std::string, std::unique_ptr<SqliteStatement>> cache_;
};

// The database behind one SqliteStore. Thread-safe.
class Database final : public sql::Database {
 public:
  // Opens (creating mode 0600 when missing) and migrates the database, then
  // opens the reader pool.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const SqliteOptions& options);
  ~Database() override;

  // Runs `body` in a write transaction (BEGIN IMMEDIATE … COMMIT) on the
  // writer connection, rolling back when `body` or the commit fails. Returns
  // Unavailable when another process held the database past the busy
  // timeout. `body` must not call Read or Write.
  absl::Status Write(absl::FunctionRef<absl::Status(sql::Connection&)> body) override;
  // Runs `body` in a read transaction (one consistent snapshot) on a pooled
  // reader connection (on the writer, for an in-memory database). `body` must
  // not call Read or Write.
  absl::Status Read(absl::FunctionRef<absl::Status(sql::Connection&)> body) override;

 private:
  Database() = default;
  Connection* AcquireReader();
  void ReleaseReader(Connection* reader);

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which would not see absl::Mutex synchronise.
  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;  // guarded by writer_mu_
  // Frames in the WAL after the writer's last commit (its WAL hook), and the
  // count past which Write checkpoints it whole (SqliteOptions::wal_limit_bytes).
  std::atomic<int> wal_frames_{0};
  int wal_limit_frames_ = 0;                          // 0: no bound (in-memory)
  int busy_timeout_ms_ = 0;                           // the writer's, restored after a RESTART
  std::vector<std::unique_ptr<Connection>> readers_;  // fixed after Open
  std::mutex pool_mu_;
  std::condition_variable reader_released_;
  std::vector<Connection*> idle_readers_;  // guarded by pool_mu_

  // The WAL checkpointer: its own connection and thread, PASSIVE checkpoints
  // (never blocking readers or the writer) every kCheckpointInterval.
  void CheckpointLoop();
  std::unique_ptr<Connection> checkpointer_;  // used by checkpoint_thread_ only
  std::thread checkpoint_thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
};

// The schema: migration i (0-based) takes the database from version i to i+1.
std::span<const std::string_view> SchemaMigrations();

// Applies `migrations[v…]` to a database at version v, in one write
// transaction, and records the new version in schema_version.
// FailedPrecondition / StoreSchemaTooNew when the database is at a version
// beyond migrations.size() (written by a newer binary).
absl::Status Migrate(Connection& connection, std::span<const std::string_view> migrations);

// The version recorded in schema_version (0 for a new database).
absl::StatusOr<std::int64_t> ReadSchemaVersion(Connection& connection);

}  // namespace stackbill::sqlite
