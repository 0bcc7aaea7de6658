#include "services/bootstrap.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/meter_catalogue.h"
#include "services/access_tokens.h"

namespace stackbill {
absl::StatusOr<BootstrapResult> Bootstrap(Store& store, const BootstrapOptions& options,
                                          Timestamp now) {
  if (options.directory_domain.empty() || options.admin_name.empty()) {
    return InvalidArgumentError("InvalidArgument",
                                "the directory domain and admin name are required");
  }
  if (options.token_hours <= 0) {
    return InvalidArgumentError("InvalidArgument", "the token lifetime must be at least one hour");
  }
  auto assignments = store.identity().ListRoleAssignments(std::nullopt);
  if (!assignments.ok()) return assignments.status();
  for (const auto& assignment : *assignments) {
    if (assignment.role == Role::kPlatformAdmin) {
      return FailedPreconditionError("AlreadyInitialized",
                                     "this store already has a PlatformAdmin; ask it for a token "
                                     "instead of running init again");
    }
  }

  BootstrapResult result;
  auto directory_id = NewRandomGuid();
  auto admin_id = NewRandomGuid();
  if (!directory_id.ok()) return directory_id.status();
  if (!admin_id.ok()) return admin_id.status();
  result.directory = Directory{.id = *directory_id,
                               .display_name = options.directory_name,
                               .domains = {options.directory_domain},
                               .owner_partner_id = std::nullopt};
  result.admin = Principal{.object_id = *admin_id,
                           .directory_id = *directory_id,
                           .name = options.admin_name,
                           .kind = PrincipalKind::kUser};
  if (auto s = store.identity().CreateDirectory(result.directory); !s.ok()) return s;
  if (auto s = store.identity().CreatePrincipal(result.admin); !s.ok()) return s;
  const RoleAssignment assignment{.id = fmt::format("bootstrap-{}", admin_id->ToString()),
                                  .principal_id = *admin_id,
                                  .role = Role::kPlatformAdmin,
                                  .scope = "/"};
  if (auto s = store.identity().PutRoleAssignment(assignment); !s.ok()) return s.status();

  auto secret = MintSecret("sbt_");
  auto token_id = NewRandomGuid();
  if (!secret.ok()) return secret.status();
  if (!token_id.ok()) return token_id.status();
  result.token = secret->plaintext;
  result.token_id = token_id->ToString();
  result.token_expires_at = now.AddHours(options.token_hours);
  const TokenRecord token{.id = result.token_id,
                          .principal_id = *admin_id,
                          .hash = secret->hash,
                          .created_at = now,
                          .expires_at = result.token_expires_at,
                          .revoked_at = std::nullopt};
  if (auto s = store.identity().CreateToken(token); !s.ok()) return s;

  auto catalogue = MeterCatalogue::BuiltIn(result.skipped_meters);
  if (!catalogue.ok()) return catalogue.status();
  const std::vector<Meter> meters = catalogue->List();
  auto loaded = store.meters().PutMeters(meters);
  if (!loaded.ok()) return loaded.status();
  result.meters_loaded = *loaded;

  // The audit trail starts with the bootstrap itself; the token is named by
  // id only, never by its secret.
  const auto audit = [&](std::string action, std::string resource, const nlohmann::json& after) {
    return store.audit()
        .Append(AuditEntry{.id = 0,
                           .at = now,
                           .actor_principal_id = *admin_id,
                           .actor_directory_id = *directory_id,
                           .action = std::move(action),
                           .resource = std::move(resource),
                           .partner_id = std::nullopt,
                           .before_json = "",
                           .after_json = after.dump()})
        .status();
  };
  const std::string admin_text = admin_id->ToString();
  for (auto status : {
           audit(
               "directory.create", fmt::format("/v1/directories/{}", directory_id->ToString()),
               {{"displayName", options.directory_name}, {"domains", {options.directory_domain}}}),
           audit("principal.create", fmt::format("/v1/principals/{}", admin_text),
                 {{"name", options.admin_name}, {"kind", "user"}}),
           audit("roleAssignment.put", fmt::format("/v1/roleAssignments/{}", assignment.id),
                 {{"principalId", admin_text}, {"role", "PlatformAdmin"}, {"scope", "/"}}),
           audit("token.create", fmt::format("/v1/tokens/{}", result.token_id),
                 {{"principalId", admin_text},
                  {"expiresAt", result.token_expires_at.ToString()},
                  {"token", "[redacted]"}}),
           audit("meters.load", "/v1/meters", {{"loaded", result.meters_loaded}}),
       }) {
    if (!status.ok()) return status;
  }
  return result;
}

}  // namespace stackbill
