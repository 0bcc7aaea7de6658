#pragma once

// The parameters every /v1 handler reads the same way: GUID path parameters
// and the page size of a list ($top).

#include <string_view>

#include "absl/status/statusor.h"
#include "core/guid.h"
#include "http/router.h"

namespace stackbill {

// The largest $top of a /v1 list.
inline constexpr int kMaxTop = 1000;

// The path parameter `name` as a GUID in any accepted form; InvalidArgument /
// "InvalidGuid" naming it otherwise.
absl::StatusOr<Guid> GuidParam(const RequestContext& context, std::string_view name);

// The page size of a list: $top when given (1..kMaxTop), else
// `default_size`; InvalidArgument / "InvalidPageSize" otherwise.
absl::StatusOr<int> PageSize(const RequestContext& context, int default_size);

}  // namespace stackbill
