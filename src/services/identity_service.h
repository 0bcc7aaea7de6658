#pragma once

// IdentityService: the identity and party use cases of SPEC §6 and §6.1 —
// directories, principals, bearer tokens, partners, subscriptions, role
// assignments and the audit log — with the access rules of core/access.h
// applied to every call and every mutation audited (services/audit.h).
//
// Every method takes the authenticated caller and "now" (the request's time;
// the service never reads a clock). Codes shared by all methods:
//  * PermissionDenied / "AuthorizationFailed" when the caller may see the
//    target but lacks the role, and for every escalation attempt (SPEC §6
//    "No escalation");
//  * NotFound with a product code ("DirectoryNotFound", "PrincipalNotFound",
//    "TokenNotFound", "PartnerNotFound", "SubscriptionNotFound",
//    "RoleAssignmentNotFound") both when the target does not exist and when it
//    belongs to a partner the caller cannot see, so existence does not leak;
//  * InvalidArgument with the product code of the field at fault;
//  * AlreadyExists ("…AlreadyExists") for a taken id, domain or name;
//  * the store's Unavailable / Internal otherwise.
//
// Thread-safe (the store is); `store` must outlive the service.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/time.h"
#include "store/store.h"

namespace stackbill {

struct IdentityOptions {
  // Lifetime of a token when the request names none (30 days).
  std::int64_t default_token_hours = std::int64_t{24} * 30;
  // The longest lifetime a request may ask for (one year).
  std::int64_t max_token_hours = std::int64_t{24} * 365;
};

struct NewDirectory {
  std::optional<Guid> id;  // random when empty
  std::string display_name;
  std::vector<std::string> domains;
  std::optional<PartnerId> owner_partner_id;
};

struct NewPrincipal {
  std::optional<Guid> object_id;  // random when empty
  Guid directory_id;
  std::string name;
  PrincipalKind kind = PrincipalKind::kUser;
};

// A token as minted: the plaintext is returned once and never stored.
struct IssuedToken {
  std::string id;
  Guid principal_id;
  std::string token;
  Timestamp created_at;
  Timestamp expires_at;
};

struct NewPartner {
  std::optional<PartnerId> id;  // a random GUID's text when empty
  std::string name;
  PartnerKind kind = PartnerKind::kDirect;
  std::optional<PartnerId> parent_partner_id;  // resellers: their indirect provider
  std::string billing_currency;                // ISO 4217
};

// A partner with its parent link in force at the time of the call.
struct PartnerInfo {
  Partner partner;
  std::optional<PartnerId> parent_partner_id;
};

struct NewSubscription {
  std::optional<Guid> id;  // random when empty
  OfferType offer_type = OfferType::kCsp;
  Guid directory_id;
  std::optional<PartnerId> partner_id;          // CSP and APSS
  std::optional<std::string> billing_currency;  // direct-billed offers
  std::string display_name;
};

struct PutRoleAssignmentOutcome {
  RoleAssignment assignment;
  bool created = false;
};

// The JSON form of each resource, as the management API answers it and as the
// audit log records it: camelCase keys, GUIDs lower-case, times in UTC ISO
// 8601, absent optionals omitted. TokenJson never includes a secret (a token
// record holds none).
nlohmann::json DirectoryJson(const Directory& directory);
nlohmann::json PrincipalJson(const Principal& principal);
nlohmann::json TokenJson(const TokenRecord& token);
nlohmann::json PartnerJson(const PartnerInfo& partner);
nlohmann::json SubscriptionJson(const Subscription& subscription);
nlohmann::json RoleAssignmentJson(const RoleAssignment& assignment);
// Before/after are parsed back into JSON (null when empty or unparsable).
nlohmann::json AuditEntryJson(const AuditEntry& entry);

class IdentityService {
 public:
  explicit IdentityService(Store& store, IdentityOptions options = {});

  // Directories. Creating one: PlatformAdmins, with or without an owner
  // partner; PartnerAdmins only with an owner partner they are PartnerAdmin
  // over. InvalidArgument / "InvalidDomain" for a malformed or repeated
  // domain, "InvalidRequestContent" for an empty display name;
  // AlreadyExists / "DirectoryAlreadyExists" or "DomainAlreadyExists".
  // A directory is visible to PlatformAdmins, to its own principals, to
  // PartnerAdmins over its owner partner, and to whoever reaches a
  // subscription in it.
  absl::StatusOr<Directory> CreateDirectory(const Caller& caller, Timestamp now,
                                            const NewDirectory& request) const;
  absl::StatusOr<Directory> GetDirectory(const Caller& caller, Timestamp now, Guid id) const;
  // The directories visible to the caller, ordered by id.
  absl::StatusOr<std::vector<Directory>> ListDirectories(const Caller& caller, Timestamp now) const;

  // Principals (CheckCanCreatePrincipal). A non-PlatformAdmin is refused
  // AuthorizationFailed for a directory it may not create principals in,
  // whether or not that directory exists. AlreadyExists /
  // "PrincipalAlreadyExists" for a name taken in the directory or a taken
  // object id.
  absl::StatusOr<Principal> CreatePrincipal(const Caller& caller, Timestamp now,
                                            const NewPrincipal& request) const;
  // Visible to PlatformAdmins, to the principal itself, and to PartnerAdmins
  // over its directory's owner partner.
  absl::StatusOr<Principal> GetPrincipal(const Caller& caller, Timestamp now, Guid object_id) const;
  // The principals visible to the caller (as GetPrincipal), optionally of one
  // directory and with one name (compared case-insensitively); ordered by
  // object id.
  absl::StatusOr<std::vector<Principal>> ListPrincipals(
      const Caller& caller, Timestamp now, const std::optional<Guid>& directory_id,
      const std::optional<std::string>& name) const;

  // Mints a bearer token ("sbt_…") for `principal_id`, stored only as its
  // hash, expiring `expires_in_hours` (default options.default_token_hours)
  // after `now`. Only for oneself unless a PlatformAdmin (CheckCanMintToken).
  // InvalidArgument / "InvalidTokenLifetime" outside 1..max_token_hours.
  absl::StatusOr<IssuedToken> MintToken(const Caller& caller, Timestamp now, Guid principal_id,
                                        std::optional<std::int64_t> expires_in_hours) const;
  // Revokes a token at `now` (effective at once: authentication reads the
  // store). The token's own principal, a PlatformAdmin, or a PartnerAdmin over
  // the principal's directory may; others get NotFound / "TokenNotFound".
  // Revoking a revoked token keeps its first revocation time.
  absl::StatusOr<TokenRecord> RevokeToken(const Caller& caller, Timestamp now,
                                          std::string_view token_id) const;

  // Partners. PlatformAdmins create any; a PartnerAdmin creates resellers
  // under a partner it is PartnerAdmin over. An indirectReseller needs a
  // parent of kind indirectProvider, other kinds have none (InvalidArgument /
  // "InvalidParentPartner"); the parent link is effective-dated from `now`.
  // InvalidArgument / "InvalidPartnerId" for an id outside
  // [A-Za-z0-9._-]{1,64}; "UnsupportedCurrency"; AlreadyExists /
  // "PartnerAlreadyExists". Read access: CheckPartnerAccess.
  absl::StatusOr<PartnerInfo> CreatePartner(const Caller& caller, Timestamp now,
                                            const NewPartner& request) const;
  absl::StatusOr<PartnerInfo> GetPartner(const Caller& caller, Timestamp now,
                                         std::string_view partner_id) const;
  absl::StatusOr<std::vector<PartnerInfo>> ListPartners(const Caller& caller, Timestamp now) const;

  // Subscriptions. CSP and APSS need a partner (and take no billing
  // currency); direct-billed offers need a billing currency (and take no
  // partner). PlatformAdmins create any; a PartnerAdmin creates CSP/APSS
  // subscriptions for a partner it is PartnerAdmin over, in a directory
  // visible to it. InvalidArgument / "MissingRequiredProperty",
  // "InvalidRequestContent", "UnsupportedCurrency"; AlreadyExists /
  // "SubscriptionAlreadyExists". Read access: CheckSubscriptionAccess.
  absl::StatusOr<Subscription> CreateSubscription(const Caller& caller, Timestamp now,
                                                  const NewSubscription& request) const;
  absl::StatusOr<Subscription> GetSubscription(const Caller& caller, Timestamp now, Guid id) const;
  // The subscriptions the caller may read, optionally of one owner partner.
  absl::StatusOr<std::vector<Subscription>> ListSubscriptions(
      const Caller& caller, Timestamp now, const std::optional<PartnerId>& partner_id) const;

  // Creates or replaces the assignment `assignment.id` (CheckCanGrant; when
  // replacing, the caller must also be able to grant the assignment being
  // replaced). InvalidArgument / "InvalidRoleAssignmentId" for an id outside
  // [A-Za-z0-9._-]{1,128}; NotFound / "PrincipalNotFound",
  // "PartnerNotFound", "SubscriptionNotFound" for an unknown target;
  // FailedPrecondition / "LastPlatformAdmin" when it would leave no
  // PlatformAdmin.
  absl::StatusOr<PutRoleAssignmentOutcome> PutRoleAssignment(
      const Caller& caller, Timestamp now, const RoleAssignment& assignment) const;
  // The assignments the caller holds or could grant (all for PlatformAdmins),
  // optionally of one principal; ordered by id.
  absl::StatusOr<std::vector<RoleAssignment>> ListRoleAssignments(
      const Caller& caller, Timestamp now, const std::optional<Guid>& principal_id) const;
  // Deletes an assignment the caller could grant; returns it. NotFound /
  // "RoleAssignmentNotFound" when invisible to the caller; AuthorizationFailed
  // for one it only holds; FailedPrecondition / "LastPlatformAdmin".
  absl::StatusOr<RoleAssignment> DeleteRoleAssignment(const Caller& caller, Timestamp now,
                                                      std::string_view id) const;

  // The audit log, newest first: every entry for PlatformAdmins; entries about
  // the resources of partners it is PartnerAdmin over (at `now`) for a
  // PartnerAdmin; AuthorizationFailed for anyone else. Each page is
  // authorised again. InvalidArgument / "InvalidCursor", "InvalidPageSize"
  // from the store.
  absl::StatusOr<Page<AuditEntry>> ListAudit(const Caller& caller, Timestamp now,
                                             const PageRequest& page) const;

 private:
  Store& store_;
  IdentityOptions options_;
};

}  // namespace stackbill
