#include "store/sqlite/sqlite_store.h"

#include <utility>

#include "store/sqlite/sqlite_area_stores.h"
#include "store/sqlite/sqlite_database.h"
#include "store/sqlite/sqlite_usage_rollups.h"

namespace stackbill {
namespace {

using sqlite::Database;

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Database> database)
      : database_(std::move(database)),
        identity_(sqlite::NewSqliteIdentityStore(*database_)),
        parties_(sqlite::NewSqlitePartyStore(*database_)),
        registrations_(sqlite::NewSqliteRegistrationStore(*database_)),
        meters_(sqlite::NewSqliteMeterStore(*database_)),
        usage_(sqlite::NewSqliteUsageStore(*database_)),
        quarantine_(sqlite::NewSqliteQuarantineStore(*database_)),
        price_sheets_(sqlite::NewSqlitePriceSheetStore(*database_)),
        billing_(sqlite::NewSqliteBillingStore(*database_)),
        audit_(sqlite::NewSqliteAuditLog(*database_)) {}

  IdentityStore& identity() override { return *identity_; }
  PartyStore& parties() override { return *parties_; }
  RegistrationStore& registrations() override { return *registrations_; }
  MeterStore& meters() override { return *meters_; }
  UsageStore& usage() override { return *usage_; }
  QuarantineStore& quarantine() override { return *quarantine_; }
  PriceSheetStore& price_sheets() override { return *price_sheets_; }
  BillingStore& billing() override { return *billing_; }
  AuditLog& audit() override { return *audit_; }

 private:
  std::unique_ptr<Database> database_;  // declared first: outlives the area stores
  std::unique_ptr<IdentityStore> identity_;
  std::unique_ptr<PartyStore> parties_;
  std::unique_ptr<RegistrationStore> registrations_;
  std::unique_ptr<MeterStore> meters_;
  std::unique_ptr<UsageStore> usage_;
  std::unique_ptr<QuarantineStore> quarantine_;
  std::unique_ptr<PriceSheetStore> price_sheets_;
  std::unique_ptr<BillingStore> billing_;
  std::unique_ptr<AuditLog> audit_;
};

}  // namespace

std::int64_t SqliteSchemaVersion() {
  return static_cast<std::int64_t>(sqlite::SchemaMigrations().size());
}

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  auto database = Database::Open(options);
  if (!database.ok()) return database.status();
  absl::Status rollups = sqlite::BuildUsageRollupsIfNeeded(**database);
  if (!rollups.ok()) return rollups;
  return std::make_unique<SqliteStore>(*std::move(database));
}

}  // namespace stackbill
