#pragma once

// Request bodies as JSON: parsed with nlohmann-json, refusing what ARM
// refuses — text that is not JSON (with the byte offset), a key given twice in
// one object (at any depth), a body that is not an object. Errors are
// InvalidArgument with ARM's code "InvalidRequestContent".

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/guid.h"

namespace stackbill {

// The body as a JSON object. An empty body is an error unless `allow_empty`,
// in which case it is an empty object.
absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view body, bool allow_empty = false);

// The same, with every JSON number kept as a string of the text it was
// written with ("0.0125", "1e-3"), so that a decimal in a request is parsed
// from its digits, never through a double (SPEC §6.1, R14); a decimal field
// then accepts a JSON string or a JSON number alike.
absl::StatusOr<nlohmann::json> ParseJsonObjectWithNumberText(std::string_view body);

// Typed members of a parsed object; each returns InvalidArgument /
// "InvalidRequestContent" naming `path` (e.g. "properties.tenantId") when the
// member has the wrong type, and NotFound-free semantics: a missing required
// member is InvalidArgument / "MissingRequiredProperty" naming it.
absl::StatusOr<std::string> RequiredString(const nlohmann::json& object, std::string_view key,
                                           std::string_view path);
absl::StatusOr<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                          std::string_view key,
                                                          std::string_view path);
// A GUID member in any accepted form (core/guid.h); InvalidArgument /
// "InvalidGuid" naming `path` when malformed.
absl::StatusOr<Guid> RequiredGuid(const nlohmann::json& object, std::string_view key,
                                  std::string_view path);
absl::StatusOr<std::optional<Guid>> OptionalGuid(const nlohmann::json& object, std::string_view key,
                                                 std::string_view path);

}  // namespace stackbill
