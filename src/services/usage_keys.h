#pragma once

// The dedupe identity and the content hash of a usage record (R11), as the
// store keeps them: 16 bytes each (the first half of a SHA-256), compact in
// the UNIQUE index and collision-free in practice.
//
//  * Identity: the record's `id` when it has one, else its natural key —
//    (subscriptionId, meterId, resourceUri, usageStartTime, usageEndTime); the
//    store pairs it with the cloudId, so the same id on two stacks is two
//    records. The two kinds are hashed under different prefixes; a natural
//    key's identity leads with its usage hour (core/usage_identity.h).
//  * Content hash: the normalised content — GUIDs as bytes, the quantity's
//    canonical decimal, the window in UTC, the canonical instanceData — so a
//    resend that differs only in formatting is a duplicate, and anything else
//    a ConflictingDuplicate.

#include <optional>
#include <string>
#include <string_view>

#include "core/decimal.h"
#include "core/guid.h"
#include "core/time.h"

namespace stackbill {

inline constexpr std::size_t kUsageKeyBytes = 16;

struct UsageKeyFields {
  std::string_view record_id;  // "" for the natural key
  std::optional<Guid> tenant_id;
  Guid local_subscription_id;
  Guid meter_id;
  Quantity quantity;
  Timestamp usage_start;
  Timestamp usage_end;
  std::string_view resource_uri;
  std::string_view instance_data;  // canonical JSON
};

// The 16-byte identity of the record.
std::string UsageIdentity(const UsageKeyFields& fields);
// The 16-byte digest of the normalised content.
std::string UsageContentHash(const UsageKeyFields& fields);

}  // namespace stackbill
