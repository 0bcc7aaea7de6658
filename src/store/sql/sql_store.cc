#include "store/sql/sql_store.h"

#include <utility>

#include "store/sql/area_stores.h"

namespace stackbill::sql {
namespace {

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<Database> database)
      : database_(std::move(database)),
        identity_(NewSqlIdentityStore(*database_)),
        parties_(NewSqlPartyStore(*database_)),
        registrations_(NewSqlRegistrationStore(*database_)),
        meters_(NewSqlMeterStore(*database_)),
        usage_(NewSqlUsageStore(*database_)),
        quarantine_(NewSqlQuarantineStore(*database_)),
        price_sheets_(NewSqlPriceSheetStore(*database_)),
        billing_(NewSqlBillingStore(*database_)),
        audit_(NewSqlAuditLog(*database_)) {}

  IdentityStore& identity() override { return *identity_; }
  PartyStore& parties() override { return *parties_; }
  RegistrationStore& registrations() override { return *registrations_; }
  MeterStore& meters() override { return *meters_; }
  UsageStore& usage() override { return *usage_; }
  QuarantineStore& quarantine() override { return *quarantine_; }
  PriceSheetStore& price_sheets() override { return *price_sheets_; }
  BillingStore& billing() override { return *billing_; }
  AuditLog& audit() override { return *audit_; }
  absl::StatusOr<Timestamp> ServerTime() override { return database_->ServerTime(); }

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

std::unique_ptr<Store> NewSqlStore(std::unique_ptr<Database> database) {
  return std::make_unique<SqlStore>(std::move(database));
}

}  // namespace stackbill::sql
