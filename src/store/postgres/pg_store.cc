#include "store/postgres/pg_store.h"

#include <utility>

#include "core/status_macros.h"
#include "store/postgres/pg_database.h"
#include "store/postgres/pg_schema.h"
#include "store/sql/sql_store.h"
#include "store/sql/usage_rollups.h"

namespace stackbill {

std::int64_t PostgresSchemaVersion() {
  return static_cast<std::int64_t>(postgres::PostgresSchemaMigrations().size());
}

bool IsPostgresLocation(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  STACKBILL_ASSIGN_OR_RETURN(
      std::unique_ptr<postgres::PgDatabase> database,
      postgres::PgDatabase::Open(options, postgres::PostgresSchemaMigrations()));
  // As OpenSqliteStore: rollups missing from a schema that held usage before
  // they existed are built once (a no-op on a new schema).
  STACKBILL_RETURN_IF_ERROR(sql::BuildUsageRollupsIfNeeded(*database));
  return sql::NewSqlStore(std::move(database));
}

absl::StatusOr<bool> PostgresSchemaIsEmpty(const PostgresOptions& options) {
  STACKBILL_ASSIGN_OR_RETURN(std::unique_ptr<postgres::PgConnection> connection,
                             postgres::PgConnection::Open(options));
  STACKBILL_ASSIGN_OR_RETURN(
      sql::Statement count,
      connection->Prepare("SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                          "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                          "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"));
  STACKBILL_ASSIGN_OR_RETURN(bool row, count.Step());
  return row && count.ReadInt() == 0;
}

}  // namespace stackbill
