// `stackbill backup`: an online copy of the SQLite store while `serve` keeps
// running (docs/OPERATIONS.md).

#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {

void RegisterBackupCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::string db;
    std::string out;
  };
  auto args = std::make_shared<Args>();  // shared with the callback, which outlives this frame
  auto* command = app.add_subcommand(
      "backup",
      "Copy the SQLite store while servers keep writing it: the database as of one commit, "
      "checked (quick_check), mode 0600, written whole or not at all. To restore: stop the "
      "servers, move the store and its -wal and -shm files aside, copy the backup in as the "
      "store (docs/OPERATIONS.md)");
  command->add_option("--db", args->db, "The store to copy (a SQLite database file)")->required();
  command->add_option("--out", args->out, "The backup file to create (must not exist)")->required();
  command->callback([args, &exit_code] {
    spdlog::info("backup: copying {} (one read transaction; servers keep writing)", args->db);
    const auto started = std::chrono::steady_clock::now();
    absl::StatusOr<SqliteBackupResult> result = BackupSqliteStore(args->db, args->out);
    if (!result.ok()) {
      spdlog::error("backup: {}", Message(result.status()));
      exit_code = 1;
      return;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "backup: " << args->out << ": " << result->pages << " pages of "
              << result->page_size << " bytes ("
              << (result->pages * result->page_size) / (std::int64_t{1024} * 1024)
              << " MiB), schema version " << result->schema_version << ", quick_check ok, in "
              << seconds << " s\n";
    exit_code = 0;
  });
}

}  // namespace stackbill
