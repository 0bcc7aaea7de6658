#include "wire/registration_token.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "core/error.h"
#include "core/rules.h"

namespace stackbill {
namespace {

std::string_view StripWhitespace(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string AsciiLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

absl::Status InvalidToken(std::string_view field, std::string_view why) {
  return InvalidArgumentError("InvalidRegistrationToken",
                              field.empty()
                                  ? fmt::format("registration token: {}", why)
                                  : fmt::format("registration token field '{}': {}", field, why));
}

// Reads one field's value into the token. `key` is the lower-cased key.
class TokenFieldReader {
 public:
  explicit TokenFieldReader(RegistrationToken& token) : token_(token) {}

  absl::Status Read(std::string_view key, std::string_view name, simdjson::dom::element value) {
    if (key == "cloudid") return ReadGuid(name, value, token_.cloud_id, saw_cloud_id_);
    if (key == "objectid") {
      bool unused = false;
      return ReadGuid(name, value, token_.object_id, unused);
    }
    if (key == "deploymentdirectoryid") {
      Guid id;
      bool unused = false;
      if (auto status = ReadGuid(name, value, id, unused); !status.ok()) return status;
      token_.deployment_directory_id = id;
      return absl::OkStatus();
    }
    if (key == "billingmodel") {
      std::string text;
      if (auto status = ReadString(name, value, text); !status.ok()) return status;
      auto model = ParseBillingModel(text);
      if (!model.ok()) return InvalidToken(name, Message(model.status()));
      token_.billing_model = *model;
      saw_billing_model_ = true;
      return absl::OkStatus();
    }
    if (key == "usagereportingenabled") {
      usage_reporting_given_ = true;
      return ReadBool(name, value, token_.usage_reporting_enabled);
    }
    if (key == "marketplacesyndicationenabled") {
      return ReadBool(name, value, token_.marketplace_syndication_enabled);
    }
    if (key == "multitenant") return ReadBool(name, value, token_.multi_tenant);
    if (key == "agreementnumber") return ReadOptionalString(name, value, token_.agreement_number);
    if (key == "msassettag") return ReadOptionalString(name, value, token_.ms_asset_tag);
    if (key == "issuer") return ReadString(name, value, token_.issuer);
    if (key == "version") return ReadString(name, value, token_.version);
    if (key == "hardwareinfo") return ReadHardwareInfo(name, value);
    return absl::OkStatus();  // Unknown keys are ignored (SPEC §3.1).
  }

  absl::Status Finish() {
    if (!saw_cloud_id_) return InvalidToken("cloudId", "is required");
    if (!saw_billing_model_) return InvalidToken("billingModel", "is required");
    if (!usage_reporting_given_) {
      token_.usage_reporting_enabled = DefaultUsageReportingEnabled(token_.billing_model);
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status ReadString(std::string_view name, simdjson::dom::element value,
                                 std::string& out) {
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      return InvalidToken(name, "must be a string");
    }
    out.assign(text);
    return absl::OkStatus();
  }

  static absl::Status ReadOptionalString(std::string_view name, simdjson::dom::element value,
                                         std::optional<std::string>& out) {
    if (value.is_null()) {
      out.reset();
      return absl::OkStatus();
    }
    std::string text;
    if (auto status = ReadString(name, value, text); !status.ok()) return status;
    out = std::move(text);
    return absl::OkStatus();
  }

  static absl::Status ReadBool(std::string_view name, simdjson::dom::element value, bool& out) {
    if (value.get_bool().get(out) != simdjson::SUCCESS) {
      return InvalidToken(name, "must be true or false");
    }
    return absl::OkStatus();
  }

  static absl::Status ReadGuid(std::string_view name, simdjson::dom::element value, Guid& out,
                               bool& seen) {
    std::string text;
    if (auto status = ReadString(name, value, text); !status.ok()) return status;
    auto id = Guid::Parse(text);
    if (!id.ok()) return InvalidToken(name, Message(id.status()));
    out = *id;
    seen = true;
    return absl::OkStatus();
  }

  absl::Status ReadHardwareInfo(std::string_view name, simdjson::dom::element value) {
    simdjson::dom::array array;
    if (value.get_array().get(array) != simdjson::SUCCESS) {
      return InvalidToken(name, "must be an array");
    }
    for (simdjson::dom::element element : array) {
      token_.hardware_info.push_back(simdjson::minify(element));
    }
    return absl::OkStatus();
  }

  RegistrationToken& token_;
  bool saw_cloud_id_ = false;
  bool saw_billing_model_ = false;
  bool usage_reporting_given_ = false;
};

}  // namespace

absl::StatusOr<RegistrationToken> DecodeRegistrationToken(std::string_view token) {
  if (token.empty()) return InvalidToken("", "is empty");
  if (token.size() > kMaxRegistrationTokenBytes) {
    return InvalidToken("", fmt::format("is {} bytes; at most {} are allowed", token.size(),
                                        kMaxRegistrationTokenBytes));
  }
  std::string json;
  if (!absl::Base64Unescape(std::string(StripWhitespace(token)), &json)) {
    return InvalidToken("", "is not base64");
  }
  // The token is small (at most 64 KiB), so the DOM parser is used: it
  // validates the whole document, trailing text included, before any field
  // is read.
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (parser.parse(json).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    return InvalidToken("", "does not decode to a JSON object");
  }
  RegistrationToken result;
  TokenFieldReader reader(result);
  absl::flat_hash_set<std::string> seen_keys;
  for (const auto field : object) {
    std::string key = AsciiLower(field.key);
    if (!seen_keys.insert(key).second) return InvalidToken(field.key, "is given more than once");
    if (auto status = reader.Read(key, field.key, field.value); !status.ok()) return status;
  }
  if (auto status = reader.Finish(); !status.ok()) return status;
  return result;
}

std::string EncodeRegistrationToken(const RegistrationToken& token) {
  nlohmann::ordered_json json;
  json["cloudId"] = token.cloud_id.ToString();
  json["objectId"] = token.object_id.ToString();
  json["billingModel"] = std::string(ToString(token.billing_model));
  json["marketplaceSyndicationEnabled"] = token.marketplace_syndication_enabled;
  json["usageReportingEnabled"] = token.usage_reporting_enabled;
  if (token.agreement_number) json["agreementNumber"] = *token.agreement_number;
  if (token.ms_asset_tag) json["msAssetTag"] = *token.ms_asset_tag;
  json["hardwareInfo"] = nlohmann::json::array();
  for (const auto& info : token.hardware_info) {
    json["hardwareInfo"].push_back(nlohmann::ordered_json::parse(info));
  }
  json["issuer"] = token.issuer;
  json["version"] = token.version;
  if (token.deployment_directory_id) {
    json["deploymentDirectoryId"] = token.deployment_directory_id->ToString();
  }
  json["multiTenant"] = token.multi_tenant;
  return absl::Base64Escape(json.dump());
}

}  // namespace stackbill
