#include "core/error.h"

#include <fmt/format.h>

#include "absl/strings/cord.h"

namespace stackbill {
namespace {

// Debian's Abseil has its own absl::string_view, distinct from
// std::string_view; conversions go through std::string at this boundary.
absl::string_view PayloadUrl() { return {kErrorCodePayload.data(), kErrorCodePayload.size()}; }

}  // namespace

absl::Status MakeError(absl::StatusCode code, std::string_view error_code,
                       std::string_view message) {
  absl::Status status(code, std::string(message));
  if (!error_code.empty()) status.SetPayload(PayloadUrl(), absl::Cord(std::string(error_code)));
  return status;
}

absl::Status InvalidArgumentError(std::string_view error_code, std::string_view message) {
  return MakeError(absl::StatusCode::kInvalidArgument, error_code, message);
}
absl::Status NotFoundError(std::string_view error_code, std::string_view message) {
  return MakeError(absl::StatusCode::kNotFound, error_code, message);
}
absl::Status AlreadyExistsError(std::string_view error_code, std::string_view message) {
  return MakeError(absl::StatusCode::kAlreadyExists, error_code, message);
}
absl::Status FailedPreconditionError(std::string_view error_code, std::string_view message) {
  return MakeError(absl::StatusCode::kFailedPrecondition, error_code, message);
}
absl::Status PermissionDeniedError(std::string_view error_code, std::string_view message) {
  return MakeError(absl::StatusCode::kPermissionDenied, error_code, message);
}
absl::Status OutOfRangeError(std::string_view error_code, std::string_view message) {
  return MakeError(absl::StatusCode::kOutOfRange, error_code, message);
}

std::string ErrorCode(const absl::Status& status) {
  auto payload = status.GetPayload(PayloadUrl());
  return payload ? std::string(*payload) : std::string();
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status annotated(status.code(), fmt::format("{}: {}", context, Message(status)));
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) {
    annotated.SetPayload(type_url, payload);
  });
  return annotated;
}

}  // namespace stackbill
