#include "api/json_body.h"

#include <fmt/format.h>

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "core/error.h"

namespace stackbill {
namespace {

absl::Status InvalidContent(std::string_view message) {
  return InvalidArgumentError("InvalidRequestContent", message);
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view body, bool allow_empty) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (allow_empty) return nlohmann::json::object();
    return InvalidContent("the request body is empty; a JSON object is required");
  }
  // One set of keys per open object: a key seen twice in the same object is
  // refused, as ARM does, instead of silently keeping the last value.
  std::vector<absl::flat_hash_set<std::string>> keys;
  std::string duplicate;
  const auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event,
                            nlohmann::json& parsed) {
    switch (event) {
      case nlohmann::json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case nlohmann::json::parse_event_t::object_end:
        keys.pop_back();
        break;
      case nlohmann::json::parse_event_t::key:
        if (!keys.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(body.begin(), body.end(), callback);
  } catch (const nlohmann::json::parse_error& e) {
    return InvalidContent(
        fmt::format("the request body is not valid JSON at byte {}: {}", e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    // out_of_range.406: a number beyond a double (1e400), which nlohmann
    // refuses with another exception than parse_error.
    return InvalidContent(fmt::format("the request body is not usable JSON: {}", e.what()));
  }
  if (!duplicate.empty()) {
    return InvalidContent(fmt::format("the request body gives the key '{}' twice", duplicate));
  }
  if (!json.is_object()) return InvalidContent("the request body must be a JSON object");
  return json;
}

absl::StatusOr<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                          std::string_view key,
                                                          std::string_view path) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return InvalidContent(fmt::format("'{}' must be a string", path));
  return std::optional<std::string>(it->get<std::string>());
}

absl::StatusOr<std::string> RequiredString(const nlohmann::json& object, std::string_view key,
                                           std::string_view path) {
  auto value = OptionalString(object, key, path);
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return InvalidArgumentError("MissingRequiredProperty", fmt::format("'{}' is required", path));
  }
  return std::move(**value);
}

absl::StatusOr<std::optional<Guid>> OptionalGuid(const nlohmann::json& object, std::string_view key,
                                                 std::string_view path) {
  auto text = OptionalString(object, key, path);
  if (!text.ok()) return text.status();
  if (!text->has_value()) return std::optional<Guid>();
  auto guid = Guid::Parse(**text);
  if (!guid.ok()) return Annotate(guid.status(), fmt::format("'{}'", path));
  return std::optional<Guid>(*guid);
}

absl::StatusOr<Guid> RequiredGuid(const nlohmann::json& object, std::string_view key,
                                  std::string_view path) {
  auto guid = OptionalGuid(object, key, path);
  if (!guid.ok()) return guid.status();
  if (!guid->has_value()) {
    return InvalidArgumentError("MissingRequiredProperty", fmt::format("'{}' is required", path));
  }
  return **guid;
}

}  // namespace stackbill
