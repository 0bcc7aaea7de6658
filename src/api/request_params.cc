#include "api/request_params.h"

#include <fmt/format.h>

#include <optional>
#include <string>

#include "core/error.h"

namespace stackbill {

absl::StatusOr<Guid> GuidParam(const RequestContext& context, std::string_view name) {
  const std::string& text = context.Param(name);
  absl::StatusOr<Guid> id = Guid::Parse(text);
  if (!id.ok()) {
    return InvalidArgumentError("InvalidGuid", fmt::format("'{}' is not a GUID: '{}'", name, text));
  }
  return *id;
}

absl::StatusOr<std::optional<Guid>> GuidQuery(const RequestContext& context,
                                              std::string_view name) {
  std::optional<std::string_view> text = context.request.Query(name);
  if (!text) return std::nullopt;
  absl::StatusOr<Guid> id = Guid::Parse(*text);
  if (!id.ok()) {
    return InvalidArgumentError("InvalidGuid",
                                fmt::format("'{}' is not a GUID: '{}'", name, *text));
  }
  return *id;
}

absl::StatusOr<std::optional<Timestamp>> TimeQuery(const RequestContext& context,
                                                   std::string_view name) {
  std::optional<std::string_view> text = context.request.Query(name);
  if (!text) return std::nullopt;
  absl::StatusOr<Timestamp> parsed = Timestamp::Parse(*text);
  if (!parsed.ok()) {
    return InvalidArgumentError("InvalidTime",
                                fmt::format("'{}' must be an RFC 3339 time: '{}'", name, *text));
  }
  return *parsed;
}

absl::StatusOr<int> PageSize(const RequestContext& context, int default_size, int max_size) {
  std::optional<std::string_view> top = context.request.Query("$top");
  if (!top) return default_size;
  int value = 0;
  bool ok = !top->empty() && top->size() <= 9;
  for (char c : *top) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    value = value * 10 + (c - '0');
  }
  if (!ok || value < 1 || value > max_size) {
    return InvalidArgumentError(
        "InvalidPageSize", fmt::format("'$top' must be a whole number from 1 to {}", max_size));
  }
  return value;
}

}  // namespace stackbill
