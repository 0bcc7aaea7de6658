#pragma once

// SqliteStore: the embedded default backend of store/store.h — one database
// file in WAL mode, versioned migrations, prepared statements cached per
// connection, one writer connection and a small pool of readers. Several
// stores (in one process or several) may open the same file: write
// transactions are BEGIN IMMEDIATE and wait up to `busy_timeout` for each
// other, so they serialise.
//
// Durability (R10). With WAL, a transaction is in the WAL file when COMMIT
// returns; with synchronous=NORMAL the WAL is not fsync'ed at each commit, so
// a committed (acknowledged) transaction survives any crash or kill -9 of the
// process — the OS still holds the write — but the last ones may be lost on
// power loss or an OS crash. synchronous=FULL fsyncs the WAL at every commit
// and survives power loss too. Hence kNormal (the default) meets R10 for
// process crashes and kFull meets it for power loss.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "store/store.h"

namespace stackbill {

struct SqliteOptions {
  enum class Durability {
    kNormal,  // synchronous=NORMAL: survives process crashes
    kFull,    // synchronous=FULL: survives power loss too
  };

  // The database file, created with mode 0600 when missing (its -wal and -shm
  // files get the same mode). ":memory:" opens a private in-memory database
  // on a single connection, gone when the store is destroyed (for tests).
  std::string path{};
  Durability durability = Durability::kNormal;
  // Reader connections in the pool (>= 1; ignored for ":memory:").
  int reader_connections = 4;
  // How long a transaction waits for another connection's write lock before
  // the call fails with Unavailable.
  std::chrono::milliseconds busy_timeout{10000};
  // Page caches in KiB: the writer's (the ingest path's indexes) and each
  // reader's. Upper bounds; SQLite allocates as pages are read.
  std::int64_t writer_cache_kib = std::int64_t{256} * 1024;
  std::int64_t reader_cache_kib = std::int64_t{32} * 1024;
  // The WAL's bound: once a commit leaves more than this in the WAL (the
  // background checkpoints fell behind a stream of commits), the writer
  // checkpoints it whole (RESTART) before the next transaction, and the file
  // is cut back to this size. Without it a busy ingest grows the WAL without
  // end.
  std::int64_t wal_limit_bytes = std::int64_t{256} * 1024 * 1024;
};

// The schema version this binary creates and understands.
std::int64_t SqliteSchemaVersion();

// Opens the store at options.path, creating the file and applying pending
// migrations. InvalidArgument for bad options; the code of the errno (NotFound,
// PermissionDenied, …) when the file cannot be created; FailedPrecondition /
// StoreSchemaTooNew when the file was written by a newer binary; Unavailable
// when it stays locked past the busy timeout; DataLoss when it is not a
// SQLite database.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// An online backup (issue 9, docs/OPERATIONS.md): a consistent copy of the
// store at `source` — the database as of one commit, taken in one read
// transaction while servers go on writing it — written to a file of its own
// next to `destination` (mode 0600), checked with PRAGMA quick_check, then
// linked into place without replacing anything, so `destination` is either
// absent or a whole, checked copy.
// Restoring is copying it back while no server runs. NotFound when `source`
// is missing; AlreadyExists when `destination` exists; DataLoss when the
// copy fails its check.
struct SqliteBackupResult {
  std::int64_t pages = 0;
  std::int64_t page_size = 0;
  std::int64_t schema_version = 0;
};
absl::StatusOr<SqliteBackupResult> BackupSqliteStore(const std::string& source,
                                                     const std::string& destination);

}  // namespace stackbill
