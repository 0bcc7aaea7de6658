#pragma once

// The PostgreSQL backend of store/store.h: the SQL stores of store/sql on a
// PostgreSQL 15 server through libpq, with a pool of connections. Several
// stores (in one process or several) may use one database: every write
// transaction first takes a transaction-level advisory lock on the schema,
// so write transactions on one schema run one at a time, as with SQLite (the
// area stores' check-then-write steps rely on it); reads run in REPEATABLE
// READ snapshots beside them.
//
// Durability (R10): a transaction is committed when COMMIT returns, with the
// server's own guarantees (synchronous_commit = on, the default, survives a
// crash of the server or of its machine).
//
// Each store lives in one schema: the first on the connection's search_path
// (e.g. `options='-c search_path=billing'` in the DSN), where the migrations
// create the tables on first open.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace stackbill {

struct PostgresOptions {
  // A libpq connection string ("host=… dbname=…") or a postgresql:// URI.
  // Its password never appears in an error message or a log line.
  std::string dsn;
  // Connections in the pool (>= 1), opened as they are first needed. A call
  // waits while all of them are in use.
  int connections = 8;
  // The session's statement_timeout: a statement running longer fails with
  // Unavailable. 0 means none.
  std::chrono::milliseconds statement_timeout{60000};
  // The session's lock_timeout: how long a statement waits for a lock (row,
  // table, or the write lock of another writer) before failing with
  // Unavailable. 0 means no limit.
  std::chrono::milliseconds lock_timeout{10000};
};

// The schema version this binary creates and understands.
std::int64_t PostgresSchemaVersion();

// Whether `location` names a PostgreSQL database (a postgresql:// or
// postgres:// URI) rather than a SQLite file.
bool IsPostgresLocation(std::string_view location);

// Connects to options.dsn and applies pending migrations (serialised with
// other processes opening the same schema). InvalidArgument for bad options or
// an unparsable DSN; Unavailable when the server cannot be reached or refuses
// the connection; FailedPrecondition / StoreSchemaTooNew when the schema was
// written by a newer binary; Internal for SQL errors in the migrations.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

// Whether the schema options.dsn selects holds no table, view or sequence
// yet (what `stackbill init` fills), read without migrating anything.
// Unavailable when the server cannot be reached.
absl::StatusOr<bool> PostgresSchemaIsEmpty(const PostgresOptions& options);

}  // namespace stackbill
