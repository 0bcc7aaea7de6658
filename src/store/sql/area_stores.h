#pragma once

// The SQL implementation of each area interface of store/store.h (internal
// to store/sql and the SQL backends). Each borrows the Database, which must outlive
// it; all are thread-safe.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "store/sql/database.h"
#include "store/store.h"

namespace stackbill::sql {

std::unique_ptr<IdentityStore> NewSqlIdentityStore(Database& database);
std::unique_ptr<PartyStore> NewSqlPartyStore(Database& database);
std::unique_ptr<RegistrationStore> NewSqlRegistrationStore(Database& database);
std::unique_ptr<MeterStore> NewSqlMeterStore(Database& database);
std::unique_ptr<UsageStore> NewSqlUsageStore(Database& database);
std::unique_ptr<QuarantineStore> NewSqlQuarantineStore(Database& database);
std::unique_ptr<PriceSheetStore> NewSqlPriceSheetStore(Database& database);
std::unique_ptr<BillingStore> NewSqlBillingStore(Database& database);
std::unique_ptr<AuditLog> NewSqlAuditLog(Database& database);

// Shared by the quarantine and usage stores: inserts quarantine entries in
// the connection's write transaction and returns their ids, in order.
absl::StatusOr<std::vector<std::int64_t>> InsertQuarantine(
    Connection& connection, std::span<const QuarantineEntry> entries);

// "?, ?, …" with n placeholders (for IN lists).
std::string Placeholders(std::size_t n);

}  // namespace stackbill::sql
