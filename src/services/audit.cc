#include "services/audit.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace stackbill {
namespace {

bool IsSecretKey(std::string key) {
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 6> kSecretKeys = {
      "token", "activationkey", "registrationtoken", "password", "secret", "key"};
  return std::find(kSecretKeys.begin(), kSecretKeys.end(), key) != kSecretKeys.end();
}

}  // namespace

nlohmann::json RedactSecrets(nlohmann::json value) {
  if (value.is_object()) {
    for (auto& [key, item] : value.items()) {
      item = IsSecretKey(key) ? nlohmann::json("[redacted]") : RedactSecrets(std::move(item));
    }
  } else if (value.is_array()) {
    for (auto& item : value) item = RedactSecrets(std::move(item));
  }
  return value;
}

absl::Status WriteAudit(Store& store, const Caller& caller, Timestamp now, AuditRecord record) {
  const auto dump = [](const nlohmann::json& json) {
    return json.is_null() ? std::string() : RedactSecrets(json).dump();
  };
  AuditEntry entry{.id = 0,
                   .at = now,
                   // A stack acting with its activation key is recorded by its cloudId.
                   .actor_principal_id = caller.stack_cloud_id.value_or(caller.principal_id),
                   .actor_directory_id = caller.directory_id,
                   .action = std::move(record.action),
                   .resource = std::move(record.resource),
                   .partner_id = std::move(record.partner_id),
                   .before_json = dump(record.before),
                   .after_json = dump(record.after)};
  return store.audit().Append(entry).status();
}

}  // namespace stackbill
