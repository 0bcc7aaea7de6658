// BackupSqliteStore (sqlite_store.h): SQLite's online backup API, copied in
// one step so the source's read transaction holds one snapshot throughout (a
// copy made in several steps restarts whenever another connection commits,
// and a busy server commits continuously).

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/status_macros.h"
#include "store/sqlite/sqlite_database.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {
namespace {

using sqlite::Connection;

// Opens an existing database file without creating it.
absl::StatusOr<std::unique_ptr<Connection>> OpenExisting(const std::string& path) {
  sqlite::ConnectionOptions options;
  options.busy_timeout = std::chrono::seconds(10);
  if (!std::filesystem::exists(path)) {
    return NotFoundError("StoreNotFound", path + " does not exist");
  }
  return Connection::Open(path, options);
}

}  // namespace

absl::StatusOr<SqliteBackupResult> BackupSqliteStore(const std::string& source,
                                                     const std::string& destination) {
  std::error_code error;
  if (std::filesystem::exists(destination, error)) {
    return AlreadyExistsError("BackupExists", destination + " already exists; name a new file");
  }
  STACKBILL_ASSIGN_OR_RETURN(std::unique_ptr<Connection> from, OpenExisting(source));
  // A name of this run's own (two backups to one name must not share a
  // file), created 0600 before SQLite opens it: a copy of the store holds what
  // the store holds (token hashes, secrets of the server).
  std::string partial = destination + ".partial-XXXXXX";
  const int fd = ::mkstemp(partial.data());
  if (fd < 0) {
    return absl::UnavailableError("cannot create " + partial + ": " +
                                  std::error_code(errno, std::generic_category()).message());
  }
  ::close(fd);
  auto fail = [&](absl::Status status) {
    std::filesystem::remove(partial, error);
    return status;
  };
  SqliteBackupResult result;
  {
    absl::StatusOr<std::unique_ptr<Connection>> to =
        Connection::Open(partial, sqlite::ConnectionOptions{});
    if (!to.ok()) return fail(to.status());
    sqlite3_backup* backup = sqlite3_backup_init((*to)->handle(), "main", from->handle(), "main");
    if (backup == nullptr) {
      return fail((*to)->Error(sqlite3_errcode((*to)->handle()), "backup of " + source));
    }
    const int stepped = sqlite3_backup_step(backup, -1);
    result.pages = sqlite3_backup_pagecount(backup);
    const int finished = sqlite3_backup_finish(backup);
    if (stepped != SQLITE_DONE) return fail(from->Error(stepped, "backup of " + source));
    if (finished != SQLITE_OK) return fail((*to)->Error(finished, "backup of " + source));
    absl::StatusOr<sqlite::Statement> check = (*to)->Prepare("PRAGMA quick_check");
    if (!check.ok()) return fail(check.status());
    absl::StatusOr<bool> row = check->Step();
    if (!row.ok()) return fail(row.status());
    const std::string verdict = *row ? check->ReadText() : "";
    if (verdict != "ok") {
      return fail(absl::DataLossError("the copy of " + source + " failed quick_check: " + verdict));
    }
    absl::StatusOr<sqlite::Statement> size = (*to)->Prepare("PRAGMA page_size");
    if (!size.ok()) return fail(size.status());
    absl::StatusOr<bool> size_row = size->Step();
    if (!size_row.ok()) return fail(size_row.status());
    result.page_size = size->ReadInt();
    absl::StatusOr<std::int64_t> version = sqlite::ReadSchemaVersion(**to);
    if (!version.ok()) return fail(version.status());
    result.schema_version = *version;
  }
  // link(2) never replaces: a destination made meanwhile is kept, not overwritten.
  if (::link(partial.c_str(), destination.c_str()) != 0) {
    const int link_errno = errno;
    if (link_errno == EEXIST) {
      return fail(AlreadyExistsError("BackupExists", destination + " appeared during the backup"));
    }
    return fail(
        absl::UnavailableError("cannot create " + destination + ": " +
                               std::error_code(link_errno, std::generic_category()).message()));
  }
  std::filesystem::remove(partial, error);
  return result;
}

}  // namespace stackbill
