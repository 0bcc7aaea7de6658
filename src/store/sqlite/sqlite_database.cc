#include "store/sqlite/sqlite_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "core/abseil_compat.h"
#include "core/decimal.h"
#include "core/error.h"
#include "core/usage_identity.h"

namespace stackbill::sqlite {
namespace {

constexpr int kMaxCachedStatements = 512;

int ToInt(std::size_t size) { return size > INT_MAX ? INT_MAX : static_cast<int>(size); }

absl::Status MapResultCode(int rc, const std::string& message) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(message);
      }
      return absl::FailedPreconditionError(message);
    case SQLITE_READONLY:
      return absl::FailedPreconditionError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

// ---------------------------------------------------------------------------

// A prepared sqlite3 statement: cached by its connection (reset and marked
// free on release) or private to one use (finalized on release).
class Connection::SqliteStatement final : public sql::StatementImpl {
 public:
  SqliteStatement(Connection* connection, sqlite3_stmt* stmt, bool cached)
      : connection_(connection), stmt_(stmt), cached_(cached) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Marks a cached statement taken; false when it already is (nested use).
  bool Acquire() { return !std::exchange(in_use_, true); }

  void BindInt(int index, std::int64_t value) override {
    Check(sqlite3_bind_int64(stmt_, index + 1, value));
  }
  void BindText(int index, std::string_view value) override {
    BindTextAs(index, value, SQLITE_TRANSIENT);
  }
  void BindBlob(int index, std::string_view bytes) override {
    BindBlobAs(index, bytes, SQLITE_TRANSIENT);
  }
  // SQLITE_STATIC: SQLite keeps the pointer until the bindings are cleared
  // (Reset) or replaced; a 1M-record ingest spent ~6 % of its write copying
  // the records' text and blobs into the statement.
  void BindTextRef(int index, std::string_view value) override {
    BindTextAs(index, value, SQLITE_STATIC);
  }
  void BindBlobRef(int index, std::string_view bytes) override {
    BindBlobAs(index, bytes, SQLITE_STATIC);
  }
  void BindNull(int index) override { Check(sqlite3_bind_null(stmt_, index + 1)); }

  absl::StatusOr<bool> Step() override {
    if (!bind_status_.ok()) return bind_status_;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return connection_->Error(rc, "step");
  }
  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_status_ = absl::OkStatus();
  }
  bool ColumnIsNull(int column) override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }
  std::int64_t ColumnInt(int column) override { return sqlite3_column_int64(stmt_, column); }
  std::string_view ColumnText(int column) override {
    const auto* text = sqlite3_column_text(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    if (text == nullptr) return {};
    return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
  }
  std::string_view ColumnBlob(int column) override {
    const void* data = sqlite3_column_blob(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    if (data == nullptr) return {};
    return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
  }
  std::string_view sql() const override { return sqlite3_sql(stmt_); }
  void Release() override {
    if (!cached_) {
      delete this;
      return;
    }
    Reset();
    in_use_ = false;
  }

 private:
  // SQLite binds a null pointer as NULL, so empty text and blobs point at a
  // static empty array instead: "" must stay "" (NOT NULL columns hold it).
  static constexpr char kEmpty[1] = {0};
  void BindTextAs(int index, std::string_view value, sqlite3_destructor_type lifetime) {
    Check(sqlite3_bind_text64(stmt_, index + 1, value.empty() ? kEmpty : value.data(), value.size(),
                              lifetime, SQLITE_UTF8));
  }
  void BindBlobAs(int index, std::string_view bytes, sqlite3_destructor_type lifetime) {
    Check(sqlite3_bind_blob64(stmt_, index + 1, bytes.empty() ? kEmpty : bytes.data(), bytes.size(),
                              lifetime));
  }

  // Records the first bind failure; Step() reports it.
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_status_.ok()) bind_status_ = connection_->Error(rc, "bind");
  }

  Connection* connection_;
  sqlite3_stmt* stmt_;
  bool cached_;
  bool in_use_ = false;
  absl::Status bind_status_;
};

// ---------------------------------------------------------------------------

void Connection::CloseDatabase::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Connection::Connection(sqlite3* db) : db_(db) {}
// The cached statements are finalized before the connection closes (cache_
// is declared after db_).
Connection::~Connection() = default;

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                             const ConnectionOptions& options) {
  // SQLite's memory statistics take a process-wide mutex on every
  // allocation; stackbill reads none of them. Must precede the library's
  // initialisation (the first open); later calls are refused and ignored.
  static const bool kConfigured = [] {
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)kConfigured;
  sqlite3* raw = nullptr;
  // NOMUTEX: a connection is only ever used by one thread at a time (the
  // Database hands it out under a mutex).
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // sqlite3_open_v2 hands back a handle even on failure; own it at once.
  std::unique_ptr<Connection> connection(new Connection(raw));
  if (raw == nullptr) return absl::UnavailableError("sqlite: out of memory opening " + path);
  if (rc != SQLITE_OK) return connection->Error(rc, Cat("open ", path));
  sqlite3_extended_result_codes(raw, 1);
  const auto timeout_ms = options.busy_timeout.count();
  sqlite3_busy_timeout(raw, timeout_ms > INT_MAX ? INT_MAX : static_cast<int>(timeout_ms));
  STACKBILL_RETURN_IF_ERROR(connection->Exec("PRAGMA foreign_keys = ON"));
  STACKBILL_RETURN_IF_ERROR(connection->Exec(options.durability == SqliteOptions::Durability::kFull
                                                 ? "PRAGMA synchronous = FULL"
                                                 : "PRAGMA synchronous = NORMAL"));
  if (options.query_only) STACKBILL_RETURN_IF_ERROR(connection->Exec("PRAGMA query_only = ON"));
  STACKBILL_RETURN_IF_ERROR(
      connection->Exec(Cat("PRAGMA cache_size = -", std::to_string(options.cache_kib))));
  // No memory map (mmap_size 0): the pages a mapping touches count in the
  // server's resident set, and a resend of 1M records (every record's row read
  // for its content hash) touched 1.2 GB of it (issue 8's RSS gate). Reads go
  // through the bounded page caches above and the kernel's page cache.
  STACKBILL_RETURN_IF_ERROR(connection->Exec("PRAGMA mmap_size = 0"));
  if (!options.auto_checkpoint) {
    STACKBILL_RETURN_IF_ERROR(connection->Exec("PRAGMA wal_autocheckpoint = 0"));
  }
  return connection;
}

absl::StatusOr<Statement> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(AbslView(sql));
  if (it != cache_.end() && it->second->Acquire()) return Statement(it->second.get());
  const bool cache = it == cache_.end() && cache_.size() < kMaxCachedStatements;
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), ToInt(sql.size()),
                                    cache ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return Error(rc, Cat("prepare \"", sql.substr(0, 80), "\""));
  }
  if (raw == nullptr) return absl::InternalError("sqlite: empty statement");
  auto stmt = std::make_unique<SqliteStatement>(this, raw, cache);
  if (!cache) return Statement(stmt.release());  // deletes itself on release
  stmt->Acquire();
  SqliteStatement* entry = stmt.get();
  cache_.emplace(std::string(sql), std::move(stmt));
  return Statement(entry);
}

absl::Status Connection::Exec(std::string_view sql) {
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &error);
  std::unique_ptr<char, decltype(&sqlite3_free)> owned_error(error, &sqlite3_free);
  if (rc != SQLITE_OK) return Error(rc, Cat("exec \"", sql.substr(0, 80), "\""));
  return absl::OkStatus();
}

std::int64_t Connection::changes() const { return sqlite3_changes64(db_.get()); }

absl::Status Connection::Error(int rc, std::string_view what) const {
  const char* detail = db_ != nullptr ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  return MapResultCode(rc, Cat("sqlite: ", what, ": ", detail));
}

// ---------------------------------------------------------------------------

namespace {

bool IsMemory(const std::string& path) { return path == ":memory:"; }

// stackbill_stamp_usage_hour(identity BLOB, usage_start_s INTEGER): the
// identity with its first bytes replaced by the usage hour
// (core/usage_identity.h), for schema migration 5. NULL in, NULL out.
void StampUsageHourFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* bytes = static_cast<const char*>(sqlite3_value_blob(argv[0]));
  std::string identity(bytes == nullptr ? "" : bytes,
                       static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
  if (identity.size() < kUsageHourPrefixBytes) {
    sqlite3_result_error(context, "stackbill_stamp_usage_hour: identity too short", -1);
    return;
  }
  StampUsageHour(identity, sqlite3_value_int64(argv[1]));
  sqlite3_result_blob64(context, identity.data(), identity.size(), SQLITE_TRANSIENT);
}

// stackbill_quantity_add(a TEXT, b TEXT): the canonical text of a + b,
// exact (core/decimal.h, R14) — for the rollups' UPSERT
// (sqlite_usage_rollups.cc). An error when either is not a quantity or the
// sum is out of range, which fails the statement and so the transaction.
void QuantityAddFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  auto text = [&](int i) {
    const auto* bytes = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
    return std::string_view(bytes == nullptr ? "" : bytes,
                            static_cast<std::size_t>(sqlite3_value_bytes(argv[i])));
  };
  absl::StatusOr<Quantity> sum = Quantity::Parse(text(0));
  if (sum.ok()) {
    absl::StatusOr<Quantity> b = Quantity::Parse(text(1));
    sum = b.ok() ? sum->Add(*b) : b.status();
  }
  if (!sum.ok()) {
    const std::string message = Cat("stackbill_quantity_add: ", Message(sum.status()));
    sqlite3_result_error(context, message.c_str(), -1);
    return;
  }
  const std::string result = sum->ToString();
  sqlite3_result_text64(context, result.data(), result.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

// Creates the database file with mode 0600 if it does not exist, so that
// SQLite (which creates with 0644 and gives -wal/-shm the database's mode)
// never makes a world-readable file.
absl::Status CreatePrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    return absl::Status(absl::ErrnoToStatusCode(error),
                        Cat("sqlite: cannot create ", path, ": ", std::strerror(error)));
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::Status SetWal(Connection& connection) {
  STACKBILL_ASSIGN_OR_RETURN(Statement stmt, connection.Prepare("PRAGMA journal_mode = WAL"));
  STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
  const std::string mode = row ? stmt.ReadText() : std::string();
  if (mode != "wal") {
    return absl::FailedPreconditionError(
        Cat("sqlite: cannot switch to WAL mode (journal_mode is '", mode, "')"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const SqliteOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("sqlite: empty database path");
  const bool memory = IsMemory(options.path);
  if (!memory && options.reader_connections < 1) {
    return absl::InvalidArgumentError("sqlite: reader_connections must be at least 1");
  }
  if (options.busy_timeout.count() < 0) {
    return absl::InvalidArgumentError("sqlite: busy_timeout must not be negative");
  }
  if (!memory) STACKBILL_RETURN_IF_ERROR(CreatePrivateFile(options.path));

  ConnectionOptions writer_options;
  writer_options.durability = options.durability;
  writer_options.busy_timeout = options.busy_timeout;
  writer_options.cache_kib = options.writer_cache_kib;
  // The checkpointer thread (below) checkpoints; an in-memory database has
  // no WAL.
  writer_options.auto_checkpoint = memory;
  STACKBILL_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                             Connection::Open(options.path, writer_options));
  // journal_mode=WAL is persistent in the file; switching needs a lock that
  // the busy timeout waits for.
  if (!memory) STACKBILL_RETURN_IF_ERROR(SetWal(*writer));
  if (!memory) {
    STACKBILL_RETURN_IF_ERROR(
        writer->Exec(Cat("PRAGMA journal_size_limit = ", std::to_string(options.wal_limit_bytes))));
  }
  STACKBILL_RETURN_IF_ERROR(Migrate(*writer, SchemaMigrations()));
  const int registered =
      sqlite3_create_function(writer->handle(), "stackbill_quantity_add", 2,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, nullptr,
                              QuantityAddFunction, nullptr, nullptr);
  if (registered != SQLITE_OK) return writer->Error(registered, "registering functions");

  std::unique_ptr<Database> database(new Database());
  database->busy_timeout_ms_ =
      static_cast<int>(std::min<std::int64_t>(INT_MAX, options.busy_timeout.count()));
  if (!memory) {
    database->wal_limit_frames_ = static_cast<int>(
        std::min<std::int64_t>(INT_MAX, std::max<std::int64_t>(1, options.wal_limit_bytes / 4096)));
    sqlite3_wal_hook(
        writer->handle(),
        [](void* frames, sqlite3*, const char*, int pages) {
          static_cast<std::atomic<int>*>(frames)->store(pages);
          return SQLITE_OK;
        },
        &database->wal_frames_);
  }
  if (!memory) {
    ConnectionOptions reader_options = writer_options;
    reader_options.query_only = true;
    reader_options.cache_kib = options.reader_cache_kib;
    reader_options.auto_checkpoint = false;
    for (int i = 0; i < options.reader_connections; ++i) {
      STACKBILL_ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                                 Connection::Open(options.path, reader_options));
      database->readers_.push_back(std::move(reader));
    }
  }
  {
    std::lock_guard<std::mutex> lock(database->writer_mu_);
    database->writer_ = std::move(writer);
  }
  {
    std::lock_guard<std::mutex> lock(database->pool_mu_);
    for (auto& reader : database->readers_) database->idle_readers_.push_back(reader.get());
  }
  if (!memory) {
    ConnectionOptions checkpoint_options = writer_options;
    checkpoint_options.cache_kib = 2000;
    STACKBILL_ASSIGN_OR_RETURN(database->checkpointer_,
                               Connection::Open(options.path, checkpoint_options));
    Database* self = database.get();
    database->checkpoint_thread_ = std::thread([self] { self->CheckpointLoop(); });
  }
  return database;
}

void Database::CheckpointLoop() {
  constexpr std::chrono::milliseconds kCheckpointInterval{250};
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, kCheckpointInterval, [this] { return stopping_; })) {
    lock.unlock();
    // PASSIVE: copies what no reader still needs and never waits; a failure
    // (e.g. another process checkpointing) is tried again next time.
    (void)checkpointer_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
    lock.lock();
  }
}

Database::~Database() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  // The last connection to close checkpoints what is left (SQLite's own).
}

absl::Status Database::Write(absl::FunctionRef<absl::Status(sql::Connection&)> body) {
  std::lock_guard<std::mutex> lock(writer_mu_);
  Connection& connection = *writer_;
  // IMMEDIATE takes the write lock now (waiting up to the busy timeout for
  // other processes), so the transaction can never fail later with
  // SQLITE_BUSY on upgrading a read lock.
  STACKBILL_RETURN_IF_ERROR(connection.Run("BEGIN IMMEDIATE"));
  absl::Status status = body(connection);
  if (status.ok()) {
    status = connection.Run("COMMIT");
    if (status.ok()) {
      if (wal_limit_frames_ > 0 && wal_frames_.load() > wal_limit_frames_) {
        // The background checkpoints fell behind: checkpoint everything now,
        // so that the next transaction starts the WAL from its beginning.
        // Without waiting for readers: a long read (an online backup holds
        // one for its whole copy) would otherwise hold every commit up to the
        // busy timeout while the writer's mutex is held. Busy or failed, the
        // WAL is left to a later commit; the commit itself stands.
        sqlite3_busy_timeout(connection.handle(), 0);
        (void)connection.Exec("PRAGMA wal_checkpoint(RESTART)");
        sqlite3_busy_timeout(connection.handle(), busy_timeout_ms_);
      }
      return status;
    }
  }
  // The rollback's own failure (e.g. the transaction was already rolled back
  // by SQLite after an I/O error) adds nothing to `status`.
  (void)connection.Run("ROLLBACK");
  return status;
}

absl::Status Database::Read(absl::FunctionRef<absl::Status(sql::Connection&)> body) {
  auto run = [&](Connection& connection) -> absl::Status {
    STACKBILL_RETURN_IF_ERROR(connection.Run("BEGIN"));
    absl::Status status = body(connection);
    absl::Status end = connection.Run(status.ok() ? "COMMIT" : "ROLLBACK");
    return status.ok() ? end : status;
  };
  if (readers_.empty()) {
    std::lock_guard<std::mutex> lock(writer_mu_);
    return run(*writer_);
  }
  Connection* reader = AcquireReader();
  absl::Status status = run(*reader);
  ReleaseReader(reader);
  return status;
}

Connection* Database::AcquireReader() {
  std::unique_lock<std::mutex> lock(pool_mu_);
  reader_released_.wait(lock, [this] { return !idle_readers_.empty(); });
  Connection* reader = idle_readers_.back();
  idle_readers_.pop_back();
  return reader;
}

void Database::ReleaseReader(Connection* reader) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    idle_readers_.push_back(reader);
  }
  reader_released_.notify_one();
}

// ---------------------------------------------------------------------------

absl::StatusOr<std::int64_t> ReadSchemaVersion(Connection& connection) {
  STACKBILL_ASSIGN_OR_RETURN(
      Statement exists,
      connection.Prepare(
          "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"));
  STACKBILL_ASSIGN_OR_RETURN(bool has_table, exists.Step());
  if (!has_table) return 0;
  STACKBILL_ASSIGN_OR_RETURN(Statement stmt,
                             connection.Prepare("SELECT max(version) FROM schema_version"));
  STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ReadInt() : 0;
}

absl::Status Migrate(Connection& connection, std::span<const std::string_view> migrations) {
  const int registered =
      sqlite3_create_function(connection.handle(), "stackbill_stamp_usage_hour", 2,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, nullptr,
                              StampUsageHourFunction, nullptr, nullptr);
  if (registered != SQLITE_OK)
    return connection.Error(registered, "registering migration functions");
  STACKBILL_RETURN_IF_ERROR(connection.Exec("BEGIN IMMEDIATE"));
  absl::Status status = sql::ApplyMigrations(connection, "sqlite", migrations);
  if (status.ok()) {
    status = connection.Exec("COMMIT");
    if (status.ok()) return status;
  }
  (void)connection.Exec("ROLLBACK");
  return status;
}

}  // namespace stackbill::sqlite
