#include "services/store_authenticator.h"

#include "core/error.h"
#include "services/access_tokens.h"

namespace stackbill {
namespace {

// One message for unknown, expired and revoked tokens alike: telling them
// apart would help whoever is guessing (SPEC §6).
absl::Status InvalidAuthenticationToken() {
  return MakeError(absl::StatusCode::kUnauthenticated, "InvalidAuthenticationToken",
                   "the access token is invalid, expired or revoked");
}

absl::Status InvalidActivationKey() {
  return MakeError(absl::StatusCode::kUnauthenticated, "InvalidActivationKey",
                   "the activation key is invalid or no longer active");
}

}  // namespace

absl::StatusOr<Caller> StoreAuthenticator::AuthenticatePrincipal(std::string_view bearer,
                                                                 Timestamp now) {
  if (bearer.empty()) return InvalidAuthenticationToken();
  absl::StatusOr<TokenRecord> token = store_.identity().FindTokenByHash(HashSecret(bearer), now);
  if (absl::IsNotFound(token.status())) return InvalidAuthenticationToken();
  if (!token.ok()) return token.status();
  // A token whose principal is gone authenticates nobody.
  absl::StatusOr<Principal> principal = store_.identity().GetPrincipal(token->principal_id);
  if (absl::IsNotFound(principal.status())) return InvalidAuthenticationToken();
  if (!principal.ok()) return principal.status();
  absl::StatusOr<std::vector<RoleAssignment>> roles =
      store_.identity().ListRoleAssignments(principal->object_id);
  if (!roles.ok()) return roles.status();
  return Caller{.principal_id = principal->object_id,
                .directory_id = principal->directory_id,
                .roles = *std::move(roles),
                .stack_cloud_id = std::nullopt};
}

absl::StatusOr<Caller> StoreAuthenticator::AuthenticateStack(std::string_view key, Timestamp now) {
  if (key.empty()) return InvalidActivationKey();
  absl::StatusOr<ActivationKeyRecord> record =
      store_.registrations().FindActivationKeyByHash(HashSecret(key), now);
  if (absl::IsNotFound(record.status())) return InvalidActivationKey();
  if (!record.ok()) return record.status();
  return Caller{.principal_id = Guid(),
                .directory_id = Guid(),
                .roles = {},
                .stack_cloud_id = record->cloud_id};
}

}  // namespace stackbill
