#pragma once

// Writing the audit log (SPEC §6): every mutation, who did it, from which
// directory, when, what, and the state before and after — with secrets
// redacted. One helper so every service records entries the same way.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/access.h"
#include "core/time.h"
#include "store/store.h"

namespace stackbill {

struct AuditRecord {
  std::string action;                   // "registration.put", "token.revoke", …
  std::string resource;                 // the resource path acted on
  std::optional<PartnerId> partner_id;  // whose resource it is, when a partner's
  nlohmann::json before;                // null when created
  nlohmann::json after;                 // null when deleted
};

// Appends `record` as done by `caller` at `now`, after replacing the value of
// every key named like a secret ("token", "activationKey", "registrationToken",
// "password", "secret", "key", case-insensitive, at any depth) with
// "[redacted]". Returns the store's status.
absl::Status WriteAudit(Store& store, const Caller& caller, Timestamp now, AuditRecord record);

// The redaction WriteAudit applies, exposed for tests.
nlohmann::json RedactSecrets(nlohmann::json value);

}  // namespace stackbill
