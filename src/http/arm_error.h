#pragma once

// The one place that turns an absl::Status into an HTTP status and the ARM
// error envelope {"error":{"code","message"}} (SPEC §3).
//
// The ARM code is the status's product error code (ErrorCode(status)) when it
// carries one, else a default per canonical code. The HTTP status follows the
// canonical code:
//   InvalidArgument, OutOfRange   400  "BadRequest"
//   Unauthenticated               401  "AuthenticationFailed"  (+ WWW-Authenticate)
//   PermissionDenied              403  "AuthorizationFailed"
//   NotFound                      404  "NotFound"
//   AlreadyExists, Aborted        409  "Conflict"
//   FailedPrecondition            409  "Conflict"   (the state forbids the request)
//   ResourceExhausted             429  "TooManyRequests"        (+ Retry-After)
//   Unimplemented                 501  "NotImplemented"
//   Unavailable                   503  "ServiceUnavailable"     (+ Retry-After)
//   DeadlineExceeded              504  "GatewayTimeout"
//   anything else                 500  "InternalServerError"
// except for the product codes in the override table (kStatusOverrides in
// arm_error.cc), whose HTTP status is fixed by SPEC whatever the canonical code:
//   StackNotRegistered      403  the stack's key is valid but its registration
//                                ended: the caller may not do this (not a
//                                conflict it can resolve by retrying)
//   PreconditionFailed      412  If-Match did not match the resource's ETag
//   RequestEntityTooLarge   413  body over the server's limit
//   TooManyRecords          413  a usage body over the records limit (SPEC §4)
//   UnsupportedMediaType    415  body is not JSON (usage: not NDJSON or JSON)
//
// 5xx answers never carry the status's message (it may name files, SQL or
// hosts): they say something generic; the caller logs the real status.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "http/message.h"

namespace stackbill {

struct ArmError {
  int http_status = 500;
  std::string code;
  std::string message;
};

// The HTTP status, ARM code and client-safe message for `status`.
// REQUIRES: !status.ok().
ArmError ToArmError(const absl::Status& status);

// The envelope's JSON text: {"error":{"code":…,"message":…}}.
std::string ArmErrorBody(std::string_view code, std::string_view message);

// The response for a failed status (see the table above), with the headers it
// calls for (WWW-Authenticate, Retry-After). REQUIRES: !status.ok().
HttpResponse ErrorResponse(const absl::Status& status);

// A response with an explicit HTTP status and ARM code (for errors that the
// transport finds itself: 404 of an unknown path, 405, 413).
HttpResponse ErrorResponse(int http_status, std::string_view code, std::string_view message);

}  // namespace stackbill
