#include "http/arm_error.h"

#include <array>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace stackbill {
namespace {

struct StatusOverride {
  std::string_view code;
  int http_status;
};

// Product codes whose HTTP status does not follow their canonical code (see
// the header for the reason of each).
constexpr std::array kStatusOverrides = {
    StatusOverride{"StackNotRegistered", 403},    StatusOverride{"PreconditionFailed", 412},
    StatusOverride{"RequestEntityTooLarge", 413}, StatusOverride{"TooManyRecords", 413},
    StatusOverride{"UnsupportedMediaType", 415},
};

constexpr int kRetryAfterSeconds = 1;

struct Default {
  int http_status;
  std::string_view code;
};

Default DefaultFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return {400, "BadRequest"};
    case absl::StatusCode::kUnauthenticated:
      return {401, "AuthenticationFailed"};
    case absl::StatusCode::kPermissionDenied:
      return {403, "AuthorizationFailed"};
    case absl::StatusCode::kNotFound:
      return {404, "NotFound"};
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return {409, "Conflict"};
    case absl::StatusCode::kResourceExhausted:
      return {429, "TooManyRequests"};
    case absl::StatusCode::kUnimplemented:
      return {501, "NotImplemented"};
    case absl::StatusCode::kUnavailable:
      return {503, "ServiceUnavailable"};
    case absl::StatusCode::kDeadlineExceeded:
      return {504, "GatewayTimeout"};
    default:
      return {500, "InternalServerError"};
  }
}

std::string_view GenericMessage(int http_status) {
  switch (http_status) {
    case 501:
      return "The requested operation is not implemented.";
    case 503:
      return "The service is temporarily unavailable. Retry the request later.";
    case 504:
      return "The operation did not complete in time. Retry the request later.";
    default:
      return "The server encountered an internal error. Retry the request later; if the problem "
             "persists, report the x-ms-request-id of the response.";
  }
}

}  // namespace

ArmError ToArmError(const absl::Status& status) {
  const Default fallback = DefaultFor(status.code());
  ArmError error;
  error.http_status = fallback.http_status;
  error.code = ErrorCode(status);
  for (const auto& entry : kStatusOverrides) {
    if (error.code == entry.code) error.http_status = entry.http_status;
  }
  if (error.http_status >= 500) {
    // Internals stay in the log: a 5xx says nothing about them, and its code is
    // the generic one even when the status carried a product code.
    error.code = std::string(fallback.code);
    error.message = std::string(GenericMessage(error.http_status));
    return error;
  }
  if (error.code.empty()) error.code = std::string(fallback.code);
  error.message = Message(status);
  return error;
}

std::string ArmErrorBody(std::string_view code, std::string_view message) {
  nlohmann::json body;
  body["error"]["code"] = code;
  body["error"]["message"] = message;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse ErrorResponse(int http_status, std::string_view code, std::string_view message) {
  HttpResponse response = HttpResponse::Json(http_status, ArmErrorBody(code, message));
  if (http_status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  if (http_status == 429 || http_status == 503) {
    response.headers.emplace_back("Retry-After", std::to_string(kRetryAfterSeconds));
  }
  return response;
}

HttpResponse ErrorResponse(const absl::Status& status) {
  const ArmError error = ToArmError(status);
  return ErrorResponse(error.http_status, error.code, error.message);
}

}  // namespace stackbill
