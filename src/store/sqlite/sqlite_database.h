#pragma once

// The SQLite mechanics behind SqliteStore (internal to store/sqlite): RAII
// connections with a per-connection prepared-statement cache, statements that
// bind and read columns left to right, and a Database with one writer
// connection (BEGIN IMMEDIATE transactions under a mutex; the busy timeout
// serialises writers of other processes) and a pool of reader connections.
//
// Column encodings used by every table:
//   Guid       16-byte BLOB
//   Timestamp  two INTEGER columns: seconds since the epoch, nanoseconds
//   decimals   canonical decimal TEXT (never summed in SQL: R14)
//   enums      stable TEXT codes (sqlite_codec.h)
//   bool       INTEGER 0/1

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
#include "store/sqlite/sqlite_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace stackbill::sqlite {

// Concatenates text and integers, like absl::StrCat but for std::string_view
// (Debian's Abseil has its own absl::string_view, which std::string_view does
// not convert to).
inline std::string_view CatPiece(std::string_view text) { return text; }
template <std::integral Int>
requires(!std::same_as<Int, char> && !std::same_as<Int, bool>) std::string CatPiece(Int value) {
  return std::to_string(value);
}
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (out.append(CatPiece(args)), ...);
  return out;
}

class Connection;

// A value to bind, for queries whose WHERE clause is assembled at run time.
struct Blob {
  std::string bytes;
};
using SqlValue = std::variant<std::nullptr_t, std::int64_t, std::string, Blob>;

// Conditions ANDed into a WHERE clause, with the values of their `?`s in order.
class Where {
 public:
  Where& Add(std::string condition, std::vector<SqlValue> values = {});
  // "" when empty, else " WHERE c1 AND c2 …".
  std::string Sql() const;
  const std::vector<SqlValue>& values() const { return values_; }

 private:
  std::vector<std::string> conditions_;
  std::vector<SqlValue> values_;
};

SqlValue GuidValue(const Guid& guid);
inline SqlValue TextValue(std::string_view text) { return std::string(text); }
inline SqlValue BlobValue(std::string_view bytes) { return Blob{std::string(bytes)}; }

// A prepared statement in use. Parameters are bound left to right (a
// Timestamp takes two), and after Step() returns true the columns are read
// left to right. Reads never fail on the spot: a column that does not decode
// records DataLoss in read_status() and yields a default value. Destroying it
// resets the statement for the next user. Move-only; used by one thread.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& BindInt(std::int64_t value);
  Statement& BindText(std::string_view value);
  Statement& BindOptionalText(const std::optional<std::string>& value);
  Statement& BindBlob(std::string_view bytes);
  Statement& BindGuid(const Guid& value);
  Statement& BindOptionalGuid(const std::optional<Guid>& value);
  Statement& BindTime(Timestamp value);
  Statement& BindOptionalTime(const std::optional<Timestamp>& value);
  Statement& BindBool(bool value);
  Statement& BindNull();
  Statement& BindValue(const SqlValue& value);
  Statement& BindValues(std::span<const SqlValue> values);
  template <typename Traits>
  Statement& BindDecimal(const FixedDecimal<Traits>& value) {
    return BindText(value.ToString());
  }

  // Executes one step: true when a row is ready, false when done. Fails with
  // the first bind error, or the mapped SQLite error.
  absl::StatusOr<bool> Step();
  // Steps to completion, ignoring rows.
  absl::Status Run();
  // Makes the statement ready to be bound and run again (for loops).
  void Reset();

  bool IsNull();  // whether the next column to read is NULL (does not advance)
  void Skip(int columns = 1);
  std::int64_t ReadInt();
  bool ReadBool();
  std::string ReadText();
  // The text without a copy: valid until the next Step, Reset or read of
  // this column.
  std::string_view ReadTextView();
  std::optional<std::string> ReadOptionalText();
  std::string ReadBlob();
  // The blob without a copy: valid until the next Step, Reset or read of
  // this column.
  std::string_view ReadBlobView();
  Guid ReadGuid();
  std::optional<Guid> ReadOptionalGuid();
  Timestamp ReadTime();
  std::optional<Timestamp> ReadOptionalTime();
  template <typename Traits>
  FixedDecimal<Traits> ReadDecimal() {
    const std::string_view text = ReadTextView();
    auto value = FixedDecimal<Traits>::Parse(text);
    if (!value.ok()) {
      Corrupt("decimal", text);
      return {};
    }
    return *value;
  }
  // Records a decode failure of the current row (for callers' own decoders).
  void Corrupt(std::string_view what, std::string_view value);
  const absl::Status& read_status() const { return read_status_; }

 private:
  friend class Connection;
  Statement(Connection* connection, sqlite3_stmt* stmt, bool* in_use, bool owned);

  Connection* connection_;
  sqlite3_stmt* stmt_;
  bool* in_use_;  // the cache slot's flag; null for an uncached statement
  bool owned_;    // finalize on destruction (uncached)
  int next_param_ = 1;
  int next_column_ = 0;
  absl::Status bind_status_;
  absl::Status read_status_;
};

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
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                          const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The cached prepared statement for `sql` (prepared on first use). If it is
  // already in use (a nested query), a private copy is prepared instead.
  absl::StatusOr<Statement> Prepare(std::string_view sql);
  // Runs one or more statements without caching (schema, pragmas, BEGIN).
  absl::Status Exec(std::string_view sql);
  // Convenience: prepare, bind `values`, run.
  absl::Status Run(std::string_view sql, const std::vector<SqlValue>& values = {});

  // Rows changed by the last INSERT/UPDATE/DELETE.
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  // A status for SQLite result code `rc` (mapped per store.h's conventions)
  // with this connection's error message, prefixed by `what`.
  absl::Status Error(int rc, std::string_view what) const;
  sqlite3* handle() const { return db_.get(); }

 private:
  struct CloseDatabase {
    void operator()(sqlite3* db) const;
  };
  struct FinalizeStatement {
    void operator()(sqlite3_stmt* stmt) const;
  };
  struct CachedStatement {
    std::unique_ptr<sqlite3_stmt, FinalizeStatement> stmt;
    bool in_use = false;
  };
  explicit Connection(sqlite3* db);

  std::unique_ptr<sqlite3, CloseDatabase> db_;  // declared first: closed last
  absl::flat_hash_map<std::string, std::unique_ptr<CachedStatement>> cache_;
};

// The database behind one SqliteStore. Thread-safe.
class Database {
 public:
  // Opens (creating mode 0600 when missing) and migrates the database, then
  // opens the reader pool.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const SqliteOptions& options);
  ~Database();

  // Runs `body` in a write transaction (BEGIN IMMEDIATE … COMMIT) on the
  // writer connection, rolling back when `body` or the commit fails. Returns
  // Unavailable when another process held the database past the busy
  // timeout. `body` must not call Read or Write.
  absl::Status Write(absl::FunctionRef<absl::Status(Connection&)> body);
  // Runs `body` in a read transaction (one consistent snapshot) on a pooled
  // reader connection (on the writer, for an in-memory database). `body` must
  // not call Read or Write.
  absl::Status Read(absl::FunctionRef<absl::Status(Connection&)> body);

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

// Whether `sql` (with `values` bound) returns at least one row.
absl::StatusOr<bool> RowExists(Connection& connection, std::string_view sql,
                               const std::vector<SqlValue>& values);

// The history version (store.h: RegistrationStore::HistoryVersion), read in
// the connection's current transaction.
absl::StatusOr<std::int64_t> ReadHistoryVersion(Connection& connection);

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
