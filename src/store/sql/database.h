#pragma once

// The SQL mechanics shared by the SQL backends of store/store.h (internal to
// store/sql, store/sqlite and store/postgres). The area stores in store/sql
// are written once against these interfaces; each backend implements
// Connection, Database and StatementImpl on its own engine:
//
//   Database    runs a body in a write transaction (one at a time across
//               every process on the database: the area stores' check-then-
//               write steps rely on it) or in a read transaction (one
//               consistent snapshot).
//   Connection  prepares statements, with `?` placeholders bound left to
//               right, and caches them.
//   Statement   a prepared statement in use: typed binds and reads on top of
//               the backend's four column types (integer, text, blob, NULL).
//
// The SQL the area stores write is the common dialect of SQLite 3.40 and
// PostgreSQL 15 (ON CONFLICT … DO …, RETURNING, CAST, COALESCE).
//
// Column encodings used by every table:
//   Guid       16 bytes (BLOB / bytea)
//   Timestamp  two integer columns: seconds since the epoch, nanoseconds
//   decimals   canonical decimal text in, text out (never summed in SQL
//              except by the backend's exact stackbill_quantity_add: R14)
//   enums      stable text codes (codec.h)
//   bool       integer 0/1

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/decimal.h"
#include "core/guid.h"
#include "core/status_macros.h"
#include "core/time.h"

namespace stackbill::sql {

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

// One backend's prepared statement: the primitives Statement builds on.
// Parameters and columns are numbered from 0. Used by one thread at a time.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;

  // Binds parameter `index`; a failure is reported by the next Step.
  virtual void BindInt(int index, std::int64_t value) = 0;
  virtual void BindText(int index, std::string_view value) = 0;
  virtual void BindBlob(int index, std::string_view bytes) = 0;
  // As BindText and BindBlob, but the backend may keep the pointer instead of
  // a copy: the caller keeps the bytes alive and unchanged until the next
  // Reset or Release. The default copies.
  virtual void BindTextRef(int index, std::string_view value) { BindText(index, value); }
  virtual void BindBlobRef(int index, std::string_view bytes) { BindBlob(index, bytes); }
  virtual void BindNull(int index) = 0;
  // Executes the statement (on the first call after binding) and moves to
  // the next row: true when a row is ready, false when there are no more.
  // Errors are mapped per store.h's conventions (AlreadyExists for a unique
  // key, Unavailable for a busy or lost database, …).
  virtual absl::StatusOr<bool> Step() = 0;
  // Ready to be bound and executed again; bindings cleared.
  virtual void Reset() = 0;
  // The current row's columns. Text and blobs stay valid until the next
  // Step or Reset.
  virtual bool ColumnIsNull(int column) = 0;
  virtual std::int64_t ColumnInt(int column) = 0;
  virtual std::string_view ColumnText(int column) = 0;
  virtual std::string_view ColumnBlob(int column) = 0;
  // The SQL text (for messages).
  virtual std::string_view sql() const = 0;
  // Called once by the Statement that used it, when done: resets it and
  // returns it to its connection's cache, or deletes it.
  virtual void Release() = 0;
};

// A prepared statement in use. Parameters are bound left to right (a
// Timestamp takes two), and after Step() returns true the columns are read
// left to right. Reads never fail on the spot: a column that does not decode
// records DataLoss in read_status() and yields a default value. Destroying it
// hands the statement back to its connection. Move-only; used by one thread.
class Statement {
 public:
  explicit Statement(StatementImpl* impl) : impl_(impl) {}
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
  // Without a copy, where the backend can (StatementImpl::BindTextRef): the
  // bytes must outlive the statement's next Reset. For the ingest's hot
  // path, whose records outlive their statements; a temporary must use the
  // copying Bind*.
  Statement& BindTextRef(std::string_view value);
  Statement& BindBlobRef(std::string_view bytes);
  Statement& BindGuidRef(const Guid& value);
  Statement& BindBool(bool value);
  Statement& BindNull();
  Statement& BindValue(const SqlValue& value);
  Statement& BindValues(std::span<const SqlValue> values);
  template <typename Traits>
  Statement& BindDecimal(const FixedDecimal<Traits>& value) {
    return BindText(value.ToString());
  }

  // Executes one step: true when a row is ready, false when done.
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
  // The text without a copy: valid until the next Step or Reset.
  std::string_view ReadTextView();
  std::optional<std::string> ReadOptionalText();
  std::string ReadBlob();
  // The blob without a copy: valid until the next Step or Reset.
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
  StatementImpl* impl_;
  int next_param_ = 0;
  int next_column_ = 0;
  absl::Status read_status_;
};

// One connection to the database. Used by one thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;

  // The cached prepared statement for `sql` (prepared on first use). If it is
  // already in use (a nested query), a private copy is prepared instead.
  virtual absl::StatusOr<Statement> Prepare(std::string_view sql) = 0;
  // Runs one or more statements without parameters or caching (schema,
  // transaction control).
  virtual absl::Status Exec(std::string_view sql) = 0;
  // Rows changed by the last INSERT/UPDATE/DELETE run on this connection.
  virtual std::int64_t changes() const = 0;
  // Whether each statement costs a round trip to a server, so that the hot
  // paths (the ingest's records and rollups) should write many rows per
  // statement (RowChunks) rather than run one statement per row, as suits an
  // embedded engine.
  virtual bool batches_rows() const { return false; }
  // Makes ready the storage of usage dated in `month`, before usage dated
  // then is inserted into usage_records (or moved there by an UPDATE): an
  // engine that partitions usage_records by month makes its partition
  // (PostgreSQL); nothing to do on SQLite.
  virtual absl::Status PrepareUsageMonth(YearMonth /*month*/) { return absl::OkStatus(); }
  // Holds `key` until the transaction ends, so that the transactions that
  // lock one key pass that point one at a time: for a check-then-write that
  // no unique key expresses, inside Database::WriteShared. Nothing to do
  // where write transactions run one at a time (SQLite).
  virtual absl::Status LockKey(std::string_view /*key*/) { return absl::OkStatus(); }

  // Convenience: prepare, bind `values`, run.
  absl::Status Run(std::string_view sql, const std::vector<SqlValue>& values = {});
};

// The database behind one store. Thread-safe.
class Database {
 public:
  virtual ~Database() = default;

  // Runs `body` in a write transaction, rolling back when `body` or the
  // commit fails. Write transactions are serialised across every process on
  // the database. Unavailable when the database stayed busy past the
  // backend's timeout or the connection was lost. `body` must not call Read
  // or Write.
  virtual absl::Status Write(absl::FunctionRef<absl::Status(Connection&)> body) = 0;
  // Runs `body` in a write transaction that may run at the same time as
  // other WriteShared transactions, never beside a Write: for a write each of
  // whose steps is correct whoever else writes (rows claimed through unique
  // keys, commutative UPSERTs, Connection::LockKey around the rest). `body`
  // should lock rows in a stable order; when the database still ends the
  // transaction to break a deadlock, it is run again from the start, so it
  // must reset whatever it fills. An engine with one writer runs it as Write.
  virtual absl::Status WriteShared(absl::FunctionRef<absl::Status(Connection&)> body) {
    return Write(body);
  }
  // How many WriteShared transactions are worth running at once from one
  // process (1 where they run as Write).
  virtual int shared_writers() const { return 1; }
  // Runs `body` in a read transaction (one consistent snapshot). `body` must
  // not call Read or Write.
  virtual absl::Status Read(absl::FunctionRef<absl::Status(Connection&)> body) = 0;
  // Store::ServerTime: the database server's clock; Unimplemented for an
  // embedded engine.
  virtual absl::StatusOr<Timestamp> ServerTime() {
    return absl::UnimplementedError("the database has no clock of its own");
  }
};

// "(?, ?), (?, ?), …": `rows` rows of `columns` placeholders, for a
// multi-row VALUES list.
std::string ValuesRows(std::size_t rows, std::size_t columns);
// `row` repeated `rows` times, comma-separated: a multi-row VALUES list whose
// rows hold more than placeholders ("(?, ?, nextval('s'))").
std::string ValuesRows(std::size_t rows, std::string_view row);

// Splits `n` rows into the chunks of a multi-row statement: as many chunks of
// `max` as fit, then the rest in descending powers of two, so that a
// connection prepares at most a few statement texts (each chunk size is one
// text) whatever the sizes of the writes. REQUIRES: max is a power of two.
std::vector<std::size_t> RowChunks(std::size_t n, std::size_t max);

// Whether `sql` (with `values` bound) returns at least one row.
absl::StatusOr<bool> RowExists(Connection& connection, std::string_view sql,
                               const std::vector<SqlValue>& values);

// Runs an INSERT … RETURNING id (the common way of SQLite and PostgreSQL to
// learn a generated key) to completion and returns the id of its one row.
absl::StatusOr<std::int64_t> RunReturningId(Statement& insert);

// The history version (store.h: RegistrationStore::HistoryVersion), read in
// the connection's current transaction.
absl::StatusOr<std::int64_t> ReadHistoryVersion(Connection& connection);

// Brings the schema to the last of `migrations` (migration i takes it from
// version i to i + 1), recording each applied version in schema_version,
// which it creates. The caller holds the transaction and whatever lock keeps
// two processes from migrating at once. FailedPrecondition StoreSchemaTooNew
// when the database is at a version beyond `migrations`; `engine` names the
// backend in errors.
absl::Status ApplyMigrations(Connection& connection, std::string_view engine,
                             std::span<const std::string_view> migrations);

}  // namespace stackbill::sql
