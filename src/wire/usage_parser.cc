#include "wire/usage_parser.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "core/error.h"
#include "wire/json_syntax.h"

namespace stackbill {
namespace {

namespace od = simdjson::ondemand;

std::string_view TrimRight(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Stable storage for strings that must outlive simdjson's buffers: blocks
// that are never reallocated, so views into them stay valid until Reset(),
// which keeps the memory for the next body.
class Arena {
 public:
  std::string_view Copy(std::string_view text) {
    if (text.empty()) return std::string_view("");
    while (current_ < blocks_.size() && used_ + text.size() > blocks_[current_].size) {
      ++current_;
      used_ = 0;
    }
    if (current_ == blocks_.size()) {
      const std::size_t size = std::max(kBlockSize, text.size());
      blocks_.push_back({std::make_unique<char[]>(size), size});
      used_ = 0;
    }
    char* at = blocks_[current_].data.get() + used_;
    std::memcpy(at, text.data(), text.size());
    used_ += text.size();
    return {at, text.size()};
  }
  void Reset() {
    current_ = 0;
    used_ = 0;
  }

 private:
  static constexpr std::size_t kBlockSize = std::size_t{64} * 1024;
  struct Block {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
  };
  std::vector<Block> blocks_;
  std::size_t current_ = 0;
  std::size_t used_ = 0;
};

// Whether a document has been read to its end: simdjson 3.0.1's document has
// no at_end(), but its current_location() reports OUT_OF_BOUNDS exactly there.
bool AtEnd(od::document& doc) { return doc.current_location().error() == simdjson::OUT_OF_BOUNDS; }

std::string SimdjsonMessage(simdjson::error_code error) { return simdjson::error_message(error); }

}  // namespace

struct UsageBodyParser::State {
  od::parser record_parser;
  od::parser instance_parser;  // the string form of instanceData
  od::parser page_parser;
  od::parser item_parser;
  simdjson::dom::parser validator;
  std::string padded;           // one record, padded for simdjson
  std::string instance_padded;  // instanceData's string form, padded
  std::string item_padded;      // one usage page item, padded
  std::string canonical;        // scratch for canonical instanceData
  std::string minified;         // scratch for a multi-line page item
  Arena arena;

  // Reads every remaining scalar of `value` so that simdjson checks it (On
  // Demand otherwise skips what is not read), and refuses duplicate keys.
  std::optional<std::string> Check(od::value value, int depth) {
    if (depth > 64) return "nesting too deep";
    od::json_type type;
    if (auto error = value.type().get(type)) return SimdjsonMessage(error);
    switch (type) {
      case od::json_type::object: {
        od::object object;
        if (auto error = value.get_object().get(object)) return SimdjsonMessage(error);
        std::vector<std::string> keys;
        for (auto field : object) {
          std::string_view key;
          if (auto error = field.unescaped_key().get(key)) return SimdjsonMessage(error);
          std::string owned(key);
          if (std::find(keys.begin(), keys.end(), owned) != keys.end()) {
            return fmt::format("duplicate key '{}'", owned);
          }
          keys.push_back(std::move(owned));
          od::value child;
          if (auto error = field.value().get(child)) return SimdjsonMessage(error);
          if (auto message = Check(child, depth + 1)) return message;
        }
        return std::nullopt;
      }
      case od::json_type::array: {
        od::array array;
        if (auto error = value.get_array().get(array)) return SimdjsonMessage(error);
        for (auto element : array) {
          od::value child;
          if (auto error = element.get(child)) return SimdjsonMessage(error);
          if (auto message = Check(child, depth + 1)) return message;
        }
        return std::nullopt;
      }
      case od::json_type::number: {
        std::string_view token = TrimRight(value.raw_json_token());
        if (!IsJsonNumber(token)) return fmt::format("'{}' is not a JSON number", token);
        return std::nullopt;
      }
      case od::json_type::string: {
        std::string_view text;
        if (auto error = value.get_string().get(text)) return SimdjsonMessage(error);
        return std::nullopt;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (auto error = value.get_bool().get(b)) return SimdjsonMessage(error);
        return std::nullopt;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto error = value.is_null().get(is_null)) return SimdjsonMessage(error);
        if (!is_null) return "invalid literal";
        return std::nullopt;
      }
    }
    return "unknown JSON type";
  }

  // Writes `value` canonically into `out`. At depth 1 (instanceData's own
  // keys) and 2, picks up Microsoft.Resources.resourceUri.
  std::optional<std::string> Canonicalize(od::value value, int depth, bool in_resources,
                                          std::string& out, std::string& resource_uri) {
    if (out.size() > kMaxInstanceDataBytes) {
      return fmt::format("instanceData is larger than {} bytes", kMaxInstanceDataBytes);
    }
    od::json_type type;
    if (auto error = value.type().get(type)) return SimdjsonMessage(error);
    // Depth counts objects and arrays: instanceData itself is level 1.
    const bool container = type == od::json_type::object || type == od::json_type::array;
    if (container && depth > kMaxInstanceDataDepth) {
      return fmt::format("instanceData is nested deeper than {} levels", kMaxInstanceDataDepth);
    }
    switch (type) {
      case od::json_type::object: {
        od::object object;
        if (auto error = value.get_object().get(object)) return SimdjsonMessage(error);
        std::vector<std::pair<std::string, std::string>> members;
        for (auto field : object) {
          std::string_view key;
          if (auto error = field.unescaped_key().get(key)) return SimdjsonMessage(error);
          std::string owned(key);
          for (const auto& member : members) {
            if (member.first == owned)
              return fmt::format("duplicate key '{}' in instanceData", key);
          }
          od::value child;
          if (auto error = field.value().get(child)) return SimdjsonMessage(error);
          std::string text;
          od::json_type child_type;
          if (auto error = child.type().get(child_type)) return SimdjsonMessage(error);
          if (in_resources && owned == "resourceUri" && child_type == od::json_type::string) {
            std::string_view uri;
            if (auto error = child.get_string().get(uri)) return SimdjsonMessage(error);
            resource_uri = std::string(uri);
            AppendJsonString(uri, text);
          } else {
            const bool resources = depth == 1 && owned == "Microsoft.Resources";
            if (auto message = Canonicalize(child, depth + 1, resources, text, resource_uri)) {
              return message;
            }
          }
          members.emplace_back(std::move(owned), std::move(text));
        }
        std::sort(members.begin(), members.end());
        out.push_back('{');
        for (std::size_t i = 0; i < members.size(); ++i) {
          if (i > 0) out.push_back(',');
          AppendJsonString(members[i].first, out);
          out.push_back(':');
          out.append(members[i].second);
        }
        out.push_back('}');
        break;
      }
      case od::json_type::array: {
        od::array array;
        if (auto error = value.get_array().get(array)) return SimdjsonMessage(error);
        out.push_back('[');
        bool first = true;
        for (auto element : array) {
          od::value child;
          if (auto error = element.get(child)) return SimdjsonMessage(error);
          if (!first) out.push_back(',');
          first = false;
          if (auto message = Canonicalize(child, depth + 1, false, out, resource_uri)) {
            return message;
          }
        }
        out.push_back(']');
        break;
      }
      case od::json_type::number: {
        std::string_view token = TrimRight(value.raw_json_token());
        if (!IsJsonNumber(token)) return fmt::format("'{}' is not a JSON number", token);
        out.append(token);
        break;
      }
      case od::json_type::string: {
        std::string_view text;
        if (auto error = value.get_string().get(text)) return SimdjsonMessage(error);
        AppendJsonString(text, out);
        break;
      }
      case od::json_type::boolean: {
        bool b = false;
        if (auto error = value.get_bool().get(b)) return SimdjsonMessage(error);
        out.append(b ? "true" : "false");
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto error = value.is_null().get(is_null)) return SimdjsonMessage(error);
        if (!is_null) return "invalid literal";
        out.append("null");
        break;
      }
    }
    if (out.size() > kMaxInstanceDataBytes) {
      return fmt::format("instanceData is larger than {} bytes", kMaxInstanceDataBytes);
    }
    return std::nullopt;
  }

  // instanceData as an object, or as a string holding one (Azure Stack's
  // form): canonical text into `fields`.
  std::optional<std::string> InstanceData(od::value value, UsageFields& fields) {
    od::json_type type;
    if (auto error = value.type().get(type)) return SimdjsonMessage(error);
    std::string resource_uri;
    canonical.clear();
    if (type == od::json_type::null) {
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) return SimdjsonMessage(error);
      return std::nullopt;
    }
    if (type == od::json_type::object) {
      if (auto message = Canonicalize(value, 1, false, canonical, resource_uri)) return message;
    } else if (type == od::json_type::string) {
      std::string_view text;
      if (auto error = value.get_string().get(text)) return SimdjsonMessage(error);
      if (text.size() > kMaxInstanceDataBytes) {
        return fmt::format("instanceData is larger than {} bytes", kMaxInstanceDataBytes);
      }
      instance_padded.assign(text);
      instance_padded.append(simdjson::SIMDJSON_PADDING, ' ');
      od::document doc;
      if (auto error =
              instance_parser.iterate(instance_padded.data(), text.size(), instance_padded.size())
                  .get(doc)) {
        return "instanceData string is not JSON: " + SimdjsonMessage(error);
      }
      od::value inner;
      if (auto error = doc.get_value().get(inner)) {
        return "instanceData string is not JSON: " + SimdjsonMessage(error);
      }
      od::json_type inner_type;
      if (auto error = inner.type().get(inner_type)) return SimdjsonMessage(error);
      if (inner_type != od::json_type::object) return "instanceData must hold a JSON object";
      if (auto message = Canonicalize(inner, 1, false, canonical, resource_uri)) {
        return message->starts_with("instanceData")
                   ? *message
                   : "instanceData string is not JSON: " + *message;
      }
      if (!AtEnd(doc)) return "instanceData string has text after its JSON object";
    } else {
      return "instanceData must be an object or a string holding one";
    }
    fields.instance_data = arena.Copy(canonical);
    fields.resource_uri = arena.Copy(resource_uri);
    return std::nullopt;
  }

  // One record object (an NDJSON line, or a usage page item's properties).
  std::optional<std::string> RecordObject(od::object object, UsageFields& fields) {
    enum Field : unsigned {
      kId = 1u << 0,
      kTenant = 1u << 1,
      kSubscription = 1u << 2,
      kMeter = 1u << 3,
      kQuantity = 1u << 4,
      kStart = 1u << 5,
      kEnd = 1u << 6,
      kInstance = 1u << 7,
      kCloud = 1u << 8,
    };
    unsigned seen = 0;
    std::vector<std::string> other_keys;
    auto string_field = [&](od::value value, std::string_view key, bool nullable,
                            std::optional<std::string_view>& slot) -> std::optional<std::string> {
      od::json_type type;
      if (auto error = value.type().get(type)) return SimdjsonMessage(error);
      if (type == od::json_type::null && nullable) {
        bool is_null = false;
        if (auto error = value.is_null().get(is_null)) return SimdjsonMessage(error);
        if (!is_null) return "invalid literal";
        slot.reset();
        return std::nullopt;
      }
      if (type != od::json_type::string) return fmt::format("'{}' must be a string", key);
      std::string_view text;
      if (auto error = value.get_string().get(text)) return SimdjsonMessage(error);
      slot = arena.Copy(text);
      return std::nullopt;
    };
    std::optional<std::string_view> subscription, meter, start, end;
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return SimdjsonMessage(error);
      od::value value;
      if (auto error = field.value().get(value)) return SimdjsonMessage(error);
      struct Known {
        std::string_view name;
        Field bit;
      };
      static constexpr std::array<Known, 9> kKnown = {{
          {"id", kId},
          {"tenantId", kTenant},
          {"subscriptionId", kSubscription},
          {"meterId", kMeter},
          {"quantity", kQuantity},
          {"usageStartTime", kStart},
          {"usageEndTime", kEnd},
          {"instanceData", kInstance},
          {"cloudId", kCloud},
      }};
      const auto known =
          std::find_if(kKnown.begin(), kKnown.end(), [&](const Known& k) { return k.name == key; });
      if (known == kKnown.end()) {
        // Unknown fields are ignored (SPEC §4), but checked: the record must
        // be valid JSON without repeated keys.
        std::string owned(key);
        if (std::find(other_keys.begin(), other_keys.end(), owned) != other_keys.end()) {
          return fmt::format("duplicate key '{}'", owned);
        }
        other_keys.push_back(std::move(owned));
        if (auto message = Check(value, 1)) return message;
        continue;
      }
      if ((seen & known->bit) != 0) return fmt::format("duplicate key '{}'", key);
      seen |= known->bit;
      std::optional<std::string> message;
      switch (known->bit) {
        case kId:
          message = string_field(value, key, true, fields.record_id);
          break;
        case kTenant:
          message = string_field(value, key, true, fields.tenant_id);
          break;
        case kCloud:
          message = string_field(value, key, true, fields.cloud_id);
          break;
        case kSubscription:
          message = string_field(value, key, false, subscription);
          break;
        case kMeter:
          message = string_field(value, key, false, meter);
          break;
        case kStart:
          message = string_field(value, key, false, start);
          break;
        case kEnd:
          message = string_field(value, key, false, end);
          break;
        case kQuantity: {
          od::json_type type;
          if (auto error = value.type().get(type)) return SimdjsonMessage(error);
          if (type == od::json_type::number) {
            const std::string_view token = TrimRight(value.raw_json_token());
            // On Demand does not validate a number it is not asked to
            // convert, and the quantity is taken from its text: check it.
            if (!IsJsonNumber(token))
              return fmt::format("'quantity' {} is not a JSON number", token);
            fields.quantity = arena.Copy(token);
            fields.quantity_is_number = true;
          } else {
            // Kept for the message; InvalidQuantity comes after the earlier
            // checks (SPEC's order), so this is not malformed.
            fields.quantity = arena.Copy(TrimRight(value.raw_json_token()));
            fields.quantity_is_number = false;
            message = Check(value, 1);
          }
          break;
        }
        case kInstance:
          message = InstanceData(value, fields);
          break;
      }
      if (message) return message;
    }
    auto require = [](const std::optional<std::string_view>& slot, std::string_view name,
                      std::string_view& into) -> std::optional<std::string> {
      if (!slot) return fmt::format("'{}' is required", name);
      into = *slot;
      return std::nullopt;
    };
    if (auto m = require(subscription, "subscriptionId", fields.subscription_id)) return m;
    if (auto m = require(meter, "meterId", fields.meter_id)) return m;
    if ((seen & kQuantity) == 0) return "'quantity' is required";
    if (auto m = require(start, "usageStartTime", fields.usage_start)) return m;
    if (auto m = require(end, "usageEndTime", fields.usage_end)) return m;
    return std::nullopt;
  }

  // Parses one record's text (an NDJSON line, or a usage page item's
  // properties).
  void Record(std::string_view text, ParsedUsageRecord& out) {
    padded.assign(text);
    padded.append(simdjson::SIMDJSON_PADDING, ' ');
    od::document doc;
    if (auto error = record_parser.iterate(padded.data(), text.size(), padded.size()).get(doc)) {
      out.malformed = SimdjsonMessage(error);
      return;
    }
    od::object object;
    if (auto error = doc.get_object().get(object)) {
      out.malformed = error == simdjson::INCORRECT_TYPE
                          ? "a usage record must be a JSON object"
                          : "the record is not one JSON object (a missing brace, or text after "
                            "it): " +
                                SimdjsonMessage(error);
      return;
    }
    std::optional<std::string> message = RecordObject(object, out.fields);
    if (!message && !AtEnd(doc)) message = "text after the record";
    if (message) out.malformed = *std::move(message);
  }

  // `text` (valid JSON) in the arena, minified when it spans lines: the raw
  // text kept for a record is one line in the ingest format, which is what a
  // replay parses (SPEC §4).
  std::string_view OneLine(std::string_view text) {
    if (text.find_first_of("\r\n") == std::string_view::npos) return arena.Copy(text);
    minified.resize(text.size());
    std::size_t length = 0;
    if (simdjson::minify(text.data(), text.size(), minified.data(), length) != simdjson::SUCCESS) {
      return arena.Copy(text);
    }
    return arena.Copy(std::string_view(minified.data(), length));
  }

  // A usage page item ({"id", "name", "type", "properties": {record}}): its
  // record is `properties` (the item's own id and name are Azure's and not
  // unique per record, SPEC §4). The raw text kept is the properties object.
  void PageItem(std::string_view item_text, ParsedUsageRecord& out) {
    item_padded.assign(item_text);
    item_padded.append(simdjson::SIMDJSON_PADDING, ' ');
    out.raw = arena.Copy(item_text);
    od::document doc;
    od::object object;
    if (item_parser.iterate(item_padded.data(), item_text.size(), item_padded.size()).get(doc) ||
        doc.get_object().get(object)) {
      out.malformed = "a usage page item must be a JSON object";
      return;
    }
    std::optional<std::string_view> properties;
    std::vector<std::string> keys;
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) {
        out.malformed = SimdjsonMessage(error);
        return;
      }
      std::string owned(key);
      if (std::find(keys.begin(), keys.end(), owned) != keys.end()) {
        out.malformed = fmt::format("duplicate key '{}'", owned);
        return;
      }
      keys.push_back(owned);
      od::value value;
      if (auto error = field.value().get(value)) {
        out.malformed = SimdjsonMessage(error);
        return;
      }
      if (owned == "properties") {
        od::object record;
        std::string_view text;
        if (value.get_object().get(record) || record.raw_json().get(text)) {
          out.malformed = "'properties' must be an object";
          return;
        }
        properties = text;
      } else if (auto message = Check(value, 1)) {
        out.malformed = *std::move(message);
        return;
      }
    }
    if (!properties) {
      out.malformed = "a usage page item needs 'properties'";
      return;
    }
    out.raw = OneLine(*properties);
    Record(out.raw, out);
  }

  absl::StatusOr<std::vector<ParsedUsageRecord>> Ndjson(std::string_view body) {
    std::vector<ParsedUsageRecord> records;
    std::size_t pos = 0;
    while (pos < body.size()) {
      std::size_t end = body.find('\n', pos);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = body.substr(pos, end - pos);
      pos = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      ParsedUsageRecord& record = records.emplace_back();
      record.index = records.size() - 1;
      record.raw = line;
      Record(line, record);
    }
    return records;
  }

  absl::StatusOr<std::vector<ParsedUsageRecord>> Page(std::string_view body) {
    // The whole body must be JSON before anything of it is used (SPEC §4:
    // nothing of a body that does not parse is stored). The DOM parser
    // validates every byte.
    simdjson::dom::element root;
    if (auto error = validator.parse(body.data(), body.size(), true).get(root)) {
      // The slow path, for the 400's byte offset (simdjson gives none).
      const std::optional<JsonError> found = FirstJsonError(body);
      if (!found) {
        // JSON that simdjson cannot hold: RFC 8259 §6 lets a parser limit
        // numbers and nesting, and no valid quantity comes near the limits.
        return InvalidArgumentError(
            "InvalidJson",
            "the request body is beyond the parser's limits (a number beyond a 64-bit integer "
            "or a double, or nesting deeper than 1024): " +
                SimdjsonMessage(error));
      }
      return InvalidArgumentError(
          "InvalidJson",
          found->number_out_of_range
              ? fmt::format("the request body holds a number beyond the range of a double at "
                            "byte {}",
                            found->offset + 1)
              : fmt::format("the request body is not JSON at byte {}: {}", found->offset + 1,
                            SimdjsonMessage(error)));
    }
    simdjson::padded_string copy(body);
    od::document doc;
    if (auto error = page_parser.iterate(copy).get(doc)) {
      return InvalidArgumentError("InvalidJson",
                                  "the request body is not JSON: " + SimdjsonMessage(error));
    }
    od::object page;
    if (doc.get_object().get(page)) {
      return InvalidArgumentError("InvalidUsagePage",
                                  "an application/json usage body must be an object with a "
                                  "'value' array");
    }
    std::vector<ParsedUsageRecord> records;
    bool found = false;
    for (auto field : page) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) {
        return InvalidArgumentError("InvalidJson", SimdjsonMessage(error));
      }
      if (key != "value") continue;
      if (found) return InvalidArgumentError("InvalidUsagePage", "duplicate key 'value'");
      found = true;
      od::array items;
      if (field.value().get_array().get(items)) {
        return InvalidArgumentError("InvalidUsagePage", "'value' must be an array");
      }
      for (auto element : items) {
        ParsedUsageRecord& record = records.emplace_back();
        record.index = records.size() - 1;
        od::value item;
        std::string_view raw;
        if (element.get(item) != simdjson::SUCCESS) {
          return InvalidArgumentError("InvalidJson", "the usage page's items do not parse");
        }
        od::json_type type;
        if (item.type().get(type) != simdjson::SUCCESS) {
          return InvalidArgumentError("InvalidJson", "the usage page's items do not parse");
        }
        if (type == od::json_type::object) {
          od::object object;
          if (item.get_object().get(object) || object.raw_json().get(raw)) {
            return InvalidArgumentError("InvalidJson", "the usage page's items do not parse");
          }
          PageItem(TrimRight(raw), record);
        } else {
          raw = TrimRight(item.raw_json_token());
          if (auto message = Check(item, 1)) {
            return InvalidArgumentError("InvalidJson", *message);
          }
          record.raw = arena.Copy(raw);
          record.malformed = "a usage page item must be a JSON object";
        }
      }
    }
    if (!found) {
      return InvalidArgumentError("InvalidUsagePage",
                                  "an application/json usage body needs a 'value' array");
    }
    return records;
  }
};

absl::StatusOr<UsageBodyFormat> UsageBodyFormatFor(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
  const std::string lower = Lower(media);
  if (lower == "application/x-ndjson" || lower == "application/ndjson" ||
      lower == "application/jsonl" || lower == "application/x-jsonlines") {
    return UsageBodyFormat::kNdjson;
  }
  if (lower == "application/json") return UsageBodyFormat::kUsagePage;
  return InvalidArgumentError(
      "UnsupportedMediaType",
      fmt::format("usage bodies are application/x-ndjson or application/json, not '{}'",
                  content_type));
}

absl::StatusOr<SupersedeBody> ParseSupersedeBody(std::string_view body) {
  const auto invalid = [](std::string_view message) {
    return InvalidArgumentError("InvalidRequestContent", message);
  };
  simdjson::dom::parser validator;
  simdjson::dom::element root;
  if (validator.parse(body.data(), body.size(), true).get(root) != simdjson::SUCCESS) {
    return invalid("the request body is not JSON");
  }
  simdjson::padded_string copy(body);
  od::parser parser;
  od::document doc;
  od::object object;
  if (parser.iterate(copy).get(doc) || doc.get_object().get(object)) {
    return invalid("the request body must be a JSON object");
  }
  SupersedeBody out;
  bool has_record = false;
  bool has_reason = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return invalid("the request body is not JSON");
    if (key == "record") {
      od::object record;
      std::string_view text;
      if (has_record) return invalid("duplicate key 'record'");
      if (field.value().get_object().get(record) || record.raw_json().get(text)) {
        return invalid("'record' must be a usage record object");
      }
      out.record_text = std::string(TrimRight(text));
      has_record = true;
    } else if (key == "reason") {
      std::string_view reason;
      if (has_reason) return invalid("duplicate key 'reason'");
      if (field.value().get_string().get(reason)) return invalid("'reason' must be a string");
      out.reason = std::string(reason);
      has_reason = true;
    }
  }
  if (!has_record) return InvalidArgumentError("MissingRequiredProperty", "'record' is required");
  if (!has_reason) return InvalidArgumentError("MissingRequiredProperty", "'reason' is required");
  return out;
}

UsageBodyParser::UsageBodyParser() : state_(std::make_unique<State>()) {}
UsageBodyParser::~UsageBodyParser() = default;

absl::StatusOr<std::vector<ParsedUsageRecord>> UsageBodyParser::Parse(std::string_view body,
                                                                      UsageBodyFormat format) {
  state_->arena.Reset();
  return format == UsageBodyFormat::kNdjson ? state_->Ndjson(body) : state_->Page(body);
}

}  // namespace stackbill
