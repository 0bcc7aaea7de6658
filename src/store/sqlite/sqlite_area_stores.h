#pragma once

// The SQLite implementation of each area interface of store/store.h
// (internal to store/sqlite). Each borrows the Database, which must outlive
// it; all are thread-safe.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_database.h"
#include "store/store.h"

namespace stackbill::sqlite {

std::unique_ptr<IdentityStore> NewSqliteIdentityStore(Database& database);
std::unique_ptr<PartyStore> NewSqlitePartyStore(Database& database);
std::unique_ptr<RegistrationStore> NewSqliteRegistrationStore(Database& database);
std::unique_ptr<MeterStore> NewSqliteMeterStore(Database& database);
std::unique_ptr<UsageStore> NewSqliteUsageStore(Database& database);
std::unique_ptr<QuarantineStore> NewSqliteQuarantineStore(Database& database);
std::unique_ptr<PriceSheetStore> NewSqlitePriceSheetStore(Database& database);
std::unique_ptr<BillingStore> NewSqliteBillingStore(Database& database);
std::unique_ptr<AuditLog> NewSqliteAuditLog(Database& database);

// Shared by the quarantine and usage stores: inserts quarantine entries in
// the connection's write transaction and returns their ids, in order.
absl::StatusOr<std::vector<std::int64_t>> InsertQuarantine(
    Connection& connection, std::span<const QuarantineEntry> entries);

// "?, ?, …" with n placeholders (for IN lists).
std::string Placeholders(std::size_t n);

}  // namespace stackbill::sqlite
