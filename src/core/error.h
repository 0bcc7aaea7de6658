#pragma once

// Errors in stackbill are absl::Status values with a canonical code (see
// absl/status/status.h for which code fits which failure) plus, where SPEC.md
// names one, the product's error code ("CloudAlreadyRegistered", "InvalidGuid",
// …). The product code travels as a status payload so that one place (the HTTP
// layer) can map a status to an HTTP status and an ARM error envelope without
// parsing messages.
//
// Messages name what failed and the key, e.g.
//   registration reg1: tenant 3f2… already maps to subscription 9a1…

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace stackbill {

// The payload type URL under which the product error code is stored.
inline constexpr std::string_view kErrorCodePayload = "type.stackbill.dev/error-code";

// Returns a status with `code`, `message` and the product error code
// `error_code` (SPEC's name for the failure). REQUIRES: code != kOk.
absl::Status MakeError(absl::StatusCode code, std::string_view error_code,
                       std::string_view message);

// Convenience constructors for the codes stackbill uses most.
absl::Status InvalidArgumentError(std::string_view error_code, std::string_view message);
absl::Status NotFoundError(std::string_view error_code, std::string_view message);
absl::Status AlreadyExistsError(std::string_view error_code, std::string_view message);
absl::Status FailedPreconditionError(std::string_view error_code, std::string_view message);
absl::Status PermissionDeniedError(std::string_view error_code, std::string_view message);
absl::Status OutOfRangeError(std::string_view error_code, std::string_view message);

// The product error code carried by `status`, or "" when it carries none.
std::string ErrorCode(const absl::Status& status);

// The status message as a std::string. (Debian's Abseil has its own
// absl::string_view, not std::string_view, so code outside this file formats
// messages through this.)
std::string Message(const absl::Status& status);

// Returns `status` with `context` prefixed to its message ("context: message"),
// keeping its code and payloads. OK stays OK.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace stackbill
