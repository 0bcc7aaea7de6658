#include "store/sqlite/sqlite_store.h"

#include <utility>

#include "store/sql/sql_store.h"
#include "store/sql/usage_rollups.h"
#include "store/sqlite/sqlite_database.h"

namespace stackbill {

std::int64_t SqliteSchemaVersion() {
  return static_cast<std::int64_t>(sqlite::SchemaMigrations().size());
}

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  auto database = sqlite::Database::Open(options);
  if (!database.ok()) return database.status();
  absl::Status rollups = sql::BuildUsageRollupsIfNeeded(**database);
  if (!rollups.ok()) return rollups;
  return sql::NewSqlStore(*std::move(database));
}

}  // namespace stackbill
