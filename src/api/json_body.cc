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

// Builds the DOM through nlohmann's own SAX DOM builder, refusing a key
// given twice in one object (ARM does, instead of silently keeping the last
// value), and — when asked — keeping every number as the text it was written
// with, so that decimals are never read through a double (R14).
class BodySax {
 public:
  BodySax(nlohmann::json& root, bool numbers_as_text) : dom_(root, false), text_(numbers_as_text) {}

  bool null() { return dom_.null(); }
  bool boolean(bool value) { return dom_.boolean(value); }
  bool number_integer(nlohmann::json::number_integer_t value) {
    if (!text_) return dom_.number_integer(value);
    std::string text = std::to_string(value);
    return dom_.string(text);
  }
  bool number_unsigned(nlohmann::json::number_unsigned_t value) {
    if (!text_) return dom_.number_unsigned(value);
    std::string text = std::to_string(value);
    return dom_.string(text);
  }
  bool number_float(nlohmann::json::number_float_t value, const std::string& raw) {
    if (!text_) return dom_.number_float(value, raw);
    std::string text = raw;
    return dom_.string(text);
  }
  bool string(std::string& value) { return dom_.string(value); }
  bool binary(nlohmann::json::binary_t& value) { return dom_.binary(value); }
  bool start_object(std::size_t size) {
    keys_.emplace_back();
    return dom_.start_object(size);
  }
  bool key(std::string& key) {
    if (!keys_.back().insert(key).second && duplicate_.empty()) duplicate_ = key;
    return dom_.key(key);
  }
  bool end_object() {
    keys_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t size) { return dom_.start_array(size); }
  bool end_array() { return dom_.end_array(); }
  bool parse_error(std::size_t position, const std::string& /*token*/,
                   const nlohmann::json::exception& e) {
    // out_of_range.406: a number beyond a double (1e400), which nlohmann
    // reports as another exception than a parse error.
    error_ = e.id == 406 ? fmt::format("the request body is not usable JSON: {}", e.what())
                         : fmt::format("the request body is not valid JSON at byte {}: {}",
                                       position, e.what());
    return false;
  }

  const std::string& error() const { return error_; }
  const std::string& duplicate() const { return duplicate_; }

 private:
  nlohmann::detail::json_sax_dom_parser<nlohmann::json> dom_;
  const bool text_;
  std::vector<absl::flat_hash_set<std::string>> keys_;
  std::string duplicate_;
  std::string error_;
};

absl::StatusOr<nlohmann::json> ParseObject(std::string_view body, bool allow_empty,
                                           bool numbers_as_text) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (allow_empty) return nlohmann::json::object();
    return InvalidContent("the request body is empty; a JSON object is required");
  }
  nlohmann::json json;
  BodySax sax(json, numbers_as_text);
  if (!nlohmann::json::sax_parse(body.begin(), body.end(), &sax)) {
    return InvalidContent(sax.error().empty() ? "the request body is not valid JSON" : sax.error());
  }
  if (!sax.duplicate().empty()) {
    return InvalidContent(
        fmt::format("the request body gives the key '{}' twice", sax.duplicate()));
  }
  if (!json.is_object()) return InvalidContent("the request body must be a JSON object");
  return json;
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view body, bool allow_empty) {
  return ParseObject(body, allow_empty, false);
}

absl::StatusOr<nlohmann::json> ParseJsonObjectWithNumberText(std::string_view body) {
  return ParseObject(body, false, true);
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
