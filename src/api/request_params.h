#pragma once

// The parameters every /v1 handler reads the same way: GUID path parameters,
// optional GUID and time query parameters, and the page size of a list
// ($top).

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/guid.h"
#include "core/time.h"
#include "http/router.h"

namespace stackbill {

// The largest $top of a /v1 list.
inline constexpr int kMaxTop = 1000;

// The path parameter `name` as a GUID in any accepted form; InvalidArgument /
// "InvalidGuid" naming it otherwise.
absl::StatusOr<Guid> GuidParam(const RequestContext& context, std::string_view name);

// The query parameter `name` as a GUID, or nullopt when absent;
// InvalidArgument / "InvalidGuid" naming it when it is not one.
absl::StatusOr<std::optional<Guid>> GuidQuery(const RequestContext& context, std::string_view name);

// The query parameter `name` as an RFC 3339 time, or nullopt when absent;
// InvalidArgument / "InvalidTime" naming it when it is not one.
absl::StatusOr<std::optional<Timestamp>> TimeQuery(const RequestContext& context,
                                                   std::string_view name);

// The page size of a list: $top when given (1..max_size), else
// `default_size`; InvalidArgument / "InvalidPageSize" otherwise.
absl::StatusOr<int> PageSize(const RequestContext& context, int default_size,
                             int max_size = kMaxTop);

}  // namespace stackbill
