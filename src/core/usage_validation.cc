#include "core/usage_validation.h"

#include <fmt/format.h>

#include "core/error.h"

namespace stackbill {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status Invalid(std::string_view code, const std::string& message) {
  return InvalidArgumentError(code, message);
}

absl::StatusOr<Guid> ParseGuidField(std::string_view field, std::string_view text) {
  absl::StatusOr<Guid> guid = Guid::Parse(text);
  if (!guid.ok()) {
    return Invalid(usage_codes::kInvalidGuid, fmt::format("'{}' is not a GUID: '{}'", field, text));
  }
  return *guid;
}

absl::StatusOr<Timestamp> ParseWindowTime(std::string_view field, std::string_view text) {
  absl::StatusOr<Timestamp> t = Timestamp::Parse(text);
  if (!t.ok()) {
    return Invalid(usage_codes::kInvalidWindow,
                   fmt::format("'{}' is not an ISO 8601 time: '{}'", field, text));
  }
  if (!t->IsHourAligned()) {
    return Invalid(usage_codes::kInvalidWindow,
                   fmt::format("'{}' {} is not on a whole UTC hour", field, t->ToString()));
  }
  return *t;
}

}  // namespace

bool IsJsonNumber(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  if (i < n && text[i] == '-') ++i;
  if (i >= n) return false;
  if (text[i] == '0') {
    ++i;
  } else if (IsDigit(text[i])) {
    while (i < n && IsDigit(text[i])) ++i;
  } else {
    return false;
  }
  if (i < n && text[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(text[i])) return false;
    while (i < n && IsDigit(text[i])) ++i;
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    if (i >= n || !IsDigit(text[i])) return false;
    while (i < n && IsDigit(text[i])) ++i;
  }
  return i == n;
}

absl::StatusOr<Quantity> ParseUsageQuantity(std::string_view text) {
  if (!IsJsonNumber(text)) {
    return Invalid(usage_codes::kInvalidQuantity,
                   fmt::format("'quantity' must be a JSON number, not '{}'", text));
  }
  // Quantity::Parse is exact (R14): it refuses more than 10 significant
  // fractional digits and magnitudes of 10^15 or more, and never goes
  // through binary floating point.
  absl::StatusOr<Quantity> quantity = Quantity::Parse(text);
  if (!quantity.ok()) {
    return Invalid(usage_codes::kInvalidQuantity,
                   fmt::format("'quantity' {} must be below 10^15 with at most 10 fractional "
                               "digits",
                               text));
  }
  if (quantity->IsNegative()) {
    return Invalid(usage_codes::kInvalidQuantity,
                   fmt::format("'quantity' {} must not be negative", text));
  }
  return *quantity;
}

absl::StatusOr<ValidatedUsage> ValidateUsageFields(const UsageFields& fields,
                                                   const Guid& path_cloud_id,
                                                   const MeterKnown& meter_known, Timestamp now,
                                                   const UsageValidationOptions& options) {
  if (fields.cloud_id) {
    absl::StatusOr<Guid> cloud = Guid::Parse(*fields.cloud_id);
    if (!cloud.ok() || *cloud != path_cloud_id) {
      return Invalid(usage_codes::kCloudMismatch,
                     fmt::format("record cloudId '{}' is not the stack {} it was sent for",
                                 *fields.cloud_id, path_cloud_id.ToString()));
    }
  }
  ValidatedUsage out;
  if (fields.record_id) {
    if (fields.record_id->size() > kMaxUsageIdLength) {
      return Invalid(usage_codes::kInvalidId,
                     fmt::format("'id' is {} characters long; at most {} are allowed",
                                 fields.record_id->size(), kMaxUsageIdLength));
    }
    if (fields.record_id->empty()) {
      return Invalid(usage_codes::kInvalidId, "'id' must not be empty");
    }
    out.record_id = std::string(*fields.record_id);
  }
  if (fields.tenant_id) {
    absl::StatusOr<Guid> tenant = ParseGuidField("tenantId", *fields.tenant_id);
    if (!tenant.ok()) return tenant.status();
    out.tenant_id = *tenant;
  }
  absl::StatusOr<Guid> subscription = ParseGuidField("subscriptionId", fields.subscription_id);
  if (!subscription.ok()) return subscription.status();
  out.local_subscription_id = *subscription;
  absl::StatusOr<Guid> meter = ParseGuidField("meterId", fields.meter_id);
  if (!meter.ok()) return meter.status();
  out.meter_id = *meter;

  if (!meter_known(out.meter_id)) {
    return Invalid(usage_codes::kUnknownMeter,
                   fmt::format("meter {} is not in the catalogue (add it with POST /v1/meters, "
                               "then replay)",
                               out.meter_id.ToString()));
  }

  if (!fields.quantity_is_number) {
    return Invalid(usage_codes::kInvalidQuantity,
                   fmt::format("'quantity' must be a JSON number, not {}", fields.quantity));
  }
  absl::StatusOr<Quantity> quantity = ParseUsageQuantity(fields.quantity);
  if (!quantity.ok()) return quantity.status();
  out.quantity = *quantity;

  absl::StatusOr<Timestamp> start = ParseWindowTime("usageStartTime", fields.usage_start);
  if (!start.ok()) return start.status();
  absl::StatusOr<Timestamp> end = ParseWindowTime("usageEndTime", fields.usage_end);
  if (!end.ok()) return end.status();
  if (*end <= *start) {
    return Invalid(usage_codes::kInvalidWindow,
                   fmt::format("usageEndTime {} is not after usageStartTime {}", end->ToString(),
                               start->ToString()));
  }
  if (end->SecondsSince(*start) > kMaxUsageWindowSeconds) {
    return Invalid(usage_codes::kInvalidWindow,
                   fmt::format("usage window {} – {} is longer than 24 hours", start->ToString(),
                               end->ToString()));
  }
  out.usage_start = *start;
  out.usage_end = *end;

  if (*end > now.AddSeconds(options.future_skew_seconds)) {
    return FailedPreconditionError(
        usage_codes::kFutureUsage,
        fmt::format("usageEndTime {} is more than {} s beyond now ({})", end->ToString(),
                    options.future_skew_seconds, now.ToString()));
  }
  if (*start < now.AddSeconds(-options.max_age_seconds)) {
    return FailedPreconditionError(
        usage_codes::kTooOld,
        fmt::format("usageStartTime {} is older than the {}-day retention of dedupe keys",
                    start->ToString(), options.max_age_seconds / Timestamp::kSecondsPerDay));
  }
  return out;
}

}  // namespace stackbill
