#pragma once

// The registration token (SPEC §3.1): base64 of UTF-8 JSON made on the stack
// side, with Azure Stack's keys (matched case-insensitively; unknown keys
// ignored) plus stackbill's deploymentDirectoryId and multiTenant.
//
// Decoding is strict: a token that is not base64, not a JSON object, longer
// than 64 KiB, with a field of the wrong type, a key given twice (in any
// case), or without cloudId/billingModel is InvalidArgument with error code
// "InvalidRegistrationToken" and a message naming the field at fault. R9's
// per-model defaults for usageReportingEnabled apply when it is absent.
// Whether the model is *allowed* (approval, agreement number, asset tag) is
// core's rules, not the token's.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/guid.h"

namespace stackbill {

inline constexpr std::size_t kMaxRegistrationTokenBytes = std::size_t{64} * 1024;

struct RegistrationToken {
  Guid cloud_id;
  Guid object_id;
  BillingModel billing_model = BillingModel::kPayAsYouUse;
  bool marketplace_syndication_enabled = false;
  bool usage_reporting_enabled = true;
  std::optional<std::string> agreement_number;
  std::optional<std::string> ms_asset_tag;
  std::vector<std::string> hardware_info;  // each entry as its JSON text
  std::string issuer;
  std::string version;
  std::optional<Guid> deployment_directory_id;
  bool multi_tenant = false;

  friend bool operator==(const RegistrationToken&, const RegistrationToken&) = default;
};

// Decodes a token as sent in a registration PUT/PATCH.
absl::StatusOr<RegistrationToken> DecodeRegistrationToken(std::string_view token);

// Encodes a token the way `stackbill stack token` hands it to the registrant.
// Round-trips through DecodeRegistrationToken.
std::string EncodeRegistrationToken(const RegistrationToken& token);

}  // namespace stackbill
