#pragma once

// Effective dating for simple versioned tables (internal to store/sql):
// tables with key columns, one value column and a Validity
// (from_s, from_ns, to_s, to_ns), following the versioning rules of
// store/store.h.

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time.h"
#include "store/sql/database.h"

namespace stackbill::sql {

struct VersionedTable {
  std::string_view table;          // "partner_parent_links"
  std::string_view key_columns;    // "partner_id" or "cloud_id, local_subscription_id"
  std::string_view key_condition;  // "partner_id = ?" (same order as key_columns)
  std::string_view value_column;   // "parent_partner_id"
};

// Makes `value` the value in force from `at` on for `key`. Returns false (no
// change) when the live version already has that value. FailedPrecondition /
// VersionOutOfOrder when the latest version starts after `at`, or ended after
// it. `what` names the key in messages. Call inside a write transaction.
absl::StatusOr<bool> StartVersion(Connection& c, const VersionedTable& table,
                                  const std::vector<SqlValue>& key, const SqlValue& value,
                                  Timestamp at, std::string_view what);

// Ends the live version of `key` at `at`. Returns false when none is live;
// FailedPrecondition / VersionOutOfOrder when at < its from.
absl::StatusOr<bool> EndVersion(Connection& c, const VersionedTable& table,
                                const std::vector<SqlValue>& key, Timestamp at,
                                std::string_view what);

// The error for a version that would start or end before an existing one.
absl::Status VersionOutOfOrder(std::string_view what, Timestamp at, Timestamp existing);

}  // namespace stackbill::sql
