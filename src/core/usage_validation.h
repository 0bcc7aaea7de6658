#pragma once

// The validation of one forwarded usage record (SPEC §4), pure: a record's
// fields as text (the wire parser extracts them) become a typed record or the
// first failure in SPEC's fixed order, with its quarantine code. The checks
// that need the effective-dated history (tenant, registration in force) are
// routing.h's ResolveTenant and RegistrationForUsage; dedupe is the store's.
//
// Order (SPEC §4): MalformedRecord (the parser's), CloudMismatch, InvalidId,
// InvalidGuid, UnknownMeter, InvalidQuantity, InvalidWindow, FutureUsage,
// TooOld — then UnknownTenant / SubscriberTenantMismatch, StackNotRegistered,
// and identity (duplicate / ConflictingDuplicate).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/decimal.h"
#include "core/guid.h"
#include "core/time.h"

namespace stackbill {

// The quarantine codes of SPEC §4, in check order.
namespace usage_codes {
inline constexpr std::string_view kMalformedRecord = "MalformedRecord";
inline constexpr std::string_view kCloudMismatch = "CloudMismatch";
inline constexpr std::string_view kInvalidId = "InvalidId";
inline constexpr std::string_view kInvalidGuid = "InvalidGuid";
inline constexpr std::string_view kUnknownMeter = "UnknownMeter";
inline constexpr std::string_view kInvalidQuantity = "InvalidQuantity";
inline constexpr std::string_view kInvalidWindow = "InvalidWindow";
inline constexpr std::string_view kFutureUsage = "FutureUsage";
inline constexpr std::string_view kTooOld = "TooOld";
inline constexpr std::string_view kUnknownTenant = "UnknownTenant";
inline constexpr std::string_view kSubscriberTenantMismatch = "SubscriberTenantMismatch";
inline constexpr std::string_view kStackNotRegistered = "StackNotRegistered";
inline constexpr std::string_view kConflictingDuplicate = "ConflictingDuplicate";
}  // namespace usage_codes

// The longest `id` a stack may send (SPEC §4), in bytes.
inline constexpr std::size_t kMaxUsageIdLength = 128;
// The longest usage window (SPEC §4).
inline constexpr std::int64_t kMaxUsageWindowSeconds = 24 * Timestamp::kSecondsPerHour;

// A record's fields as they arrived: text taken from the JSON (strings
// unescaped; `quantity` the number's own token, never converted to double).
// Views point into the parser's buffers and live as long as they do.
struct UsageFields {
  std::optional<std::string_view> cloud_id;   // the record's own cloudId field, if any
  std::optional<std::string_view> record_id;  // `id`, if any
  std::optional<std::string_view> tenant_id;  // `tenantId`, if any
  std::string_view subscription_id;
  std::string_view meter_id;
  std::string_view quantity;       // the JSON number's text
  bool quantity_is_number = true;  // false when `quantity` was not a JSON number
  std::string_view usage_start;
  std::string_view usage_end;
  std::string_view resource_uri;   // instanceData's Microsoft.Resources.resourceUri, or ""
  std::string_view instance_data;  // canonical JSON text ("" when absent)
};

// A record that passed the history-free checks.
struct ValidatedUsage {
  std::string record_id;  // "" when the natural key is the identity
  std::optional<Guid> tenant_id;
  Guid local_subscription_id;
  Guid meter_id;
  Quantity quantity;  // exact, >= 0, < 10^15, at most 10 fractional digits
  Timestamp usage_start;
  Timestamp usage_end;
};

struct UsageValidationOptions {
  // How far usageEndTime may lie beyond `now` (FutureUsage). Default 1 h.
  std::int64_t future_skew_seconds = Timestamp::kSecondsPerHour;
  // How old usageStartTime may be: the retention of dedupe keys (TooOld).
  // Default 400 days.
  std::int64_t max_age_seconds = std::int64_t{400} * Timestamp::kSecondsPerDay;
};

// Whether a meter id names a known meter. Called once per record that gets
// that far; may consult a cache.
using MeterKnown = std::function<bool(const Guid& meter_id)>;

// Runs the history-free checks in SPEC's order. `path_cloud_id` is the cloudId
// of the request path. On failure the status carries the quarantine code
// (ErrorCode(status)) and a message naming the field and value:
// InvalidArgument for every code here except FailedPrecondition for
// FutureUsage and TooOld.
absl::StatusOr<ValidatedUsage> ValidateUsageFields(const UsageFields& fields,
                                                   const Guid& path_cloud_id,
                                                   const MeterKnown& meter_known, Timestamp now,
                                                   const UsageValidationOptions& options);

// The quantity rule alone (InvalidQuantity): `text` must be a JSON number
// whose exact value is >= 0, < 10^15, with at most 10 significant fractional
// digits.
absl::StatusOr<Quantity> ParseUsageQuantity(std::string_view text);

// Whether `text` is a number by JSON's grammar (RFC 8259 §6).
bool IsJsonNumber(std::string_view text);

}  // namespace stackbill
