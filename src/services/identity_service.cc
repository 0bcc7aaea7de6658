#include "services/identity_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "core/decimal.h"
#include "core/error.h"
#include "core/history.h"
#include "services/access_tokens.h"
#include "services/audit.h"

namespace stackbill {
namespace {

absl::Status AuthorizationFailed(std::string_view what) {
  return PermissionDeniedError("AuthorizationFailed",
                               fmt::format("the caller is not authorized to {}", what));
}

absl::Status DirectoryNotFound(Guid id) {
  return NotFoundError("DirectoryNotFound", fmt::format("directory {} not found", id.ToString()));
}

absl::Status PrincipalNotFound(Guid id) {
  return NotFoundError("PrincipalNotFound", fmt::format("principal {} not found", id.ToString()));
}

absl::Status PartnerNotFound(std::string_view id) {
  return NotFoundError("PartnerNotFound", fmt::format("partner {} not found", id));
}

absl::Status RoleAssignmentNotFound(std::string_view id) {
  return NotFoundError("RoleAssignmentNotFound", fmt::format("role assignment {} not found", id));
}

// Gives a store status without a product code the one this API documents
// (the store's AlreadyExists / NotFound carry none of their own).
absl::Status WithCode(const absl::Status& status, std::string_view code) {
  if (status.ok() || !ErrorCode(status).empty()) return status;
  return MakeError(status.code(), code, Message(status));
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// [A-Za-z0-9._-]{1,max}: ids that appear in paths and scopes unescaped.
bool IsSimpleId(std::string_view id, std::size_t max) {
  if (id.empty() || id.size() > max) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
}

// A DNS name of labels [a-z0-9-] (not starting or ending with '-') joined by
// dots, at least two labels, at most 253 characters. Checked on the lower-cased
// form.
bool IsDomainName(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  int labels = 0;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    ++labels;
    start = end + 1;
  }
  return labels >= 2;
}

absl::Status ValidateCurrency(std::string_view code, std::string_view path) {
  absl::StatusOr<Currency> currency = LookupCurrency(code);
  if (currency.ok()) return absl::OkStatus();
  // A currency named in a request body is a bad argument, not a missing resource.
  return InvalidArgumentError(
      "UnsupportedCurrency",
      fmt::format("'{}': '{}' is not an ISO 4217 currency stackbill supports", path, code));
}

bool HoldsRole(const Caller& caller, Role role) {
  return std::any_of(caller.roles.begin(), caller.roles.end(),
                     [role](const RoleAssignment& a) { return a.role == role; });
}

bool IsRootPlatformAdmin(const RoleAssignment& assignment) {
  if (assignment.role != Role::kPlatformAdmin) return false;
  absl::StatusOr<Scope> scope = ParseScope(assignment.scope);
  return scope.ok() && scope->kind == Scope::Kind::kRoot;
}

// The partner whose resource a directory is, for the audit log's partner view.
std::optional<PartnerId> OwnerOf(const Directory& directory) { return directory.owner_partner_id; }

// Loaded effective-dated history with its index. Not movable: the view
// points into the history.
struct Snapshot {
  explicit Snapshot(History loaded) : history(std::move(loaded)), view(history) {}
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  History history;
  HistoryView view;
};

absl::StatusOr<std::unique_ptr<Snapshot>> LoadSnapshot(Store& store) {
  absl::StatusOr<History> history = store.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  return std::make_unique<Snapshot>(*std::move(history));
}

// The directories of the subscriptions the caller may read: whoever reaches a
// subscription may know its directory. Computed once per request.
absl::flat_hash_set<Guid> DirectoriesOfReadableSubscriptions(const Caller& caller,
                                                             const HistoryView& view,
                                                             Timestamp now) {
  absl::flat_hash_set<Guid> directories;
  for (const Subscription& s : view.history().subscriptions) {
    if (!directories.contains(s.directory_id) &&
        CheckSubscriptionAccess(caller, view, s.id, AccessKind::kRead, now).ok()) {
      directories.insert(s.directory_id);
    }
  }
  return directories;
}

bool CanSeeDirectory(const Caller& caller, const HistoryView& view, const Directory& directory,
                     Timestamp now, const absl::flat_hash_set<Guid>& via_subscriptions) {
  if (IsPlatformAdmin(caller) || caller.directory_id == directory.id) return true;
  if (directory.owner_partner_id &&
      IsPartnerAdminOverPartner(caller, view, *directory.owner_partner_id, now)) {
    return true;
  }
  return via_subscriptions.contains(directory.id);
}

bool CanSeeDirectory(const Caller& caller, const HistoryView& view, const Directory& directory,
                     Timestamp now) {
  if (CanSeeDirectory(caller, view, directory, now, {})) return true;
  for (const Subscription& s : view.history().subscriptions) {
    if (s.directory_id == directory.id &&
        CheckSubscriptionAccess(caller, view, s.id, AccessKind::kRead, now).ok()) {
      return true;
    }
  }
  return false;
}

// PlatformAdmins, and PartnerAdmins over the directory's owner partner:
// those who administer the principals of a directory.
bool AdministersDirectory(const Caller& caller, const HistoryView& view, const Directory& directory,
                          Timestamp now) {
  return CheckCanCreatePrincipal(caller, view, directory, now).ok();
}

bool CanSeeAssignment(const Caller& caller, const HistoryView& view, const RoleAssignment& a,
                      Timestamp now) {
  return IsPlatformAdmin(caller) || a.principal_id == caller.principal_id ||
         CheckCanGrant(caller, view, a, now).ok();
}

std::optional<PartnerId> PartnerOfScope(const HistoryView& view, const Scope& scope,
                                        Timestamp now) {
  switch (scope.kind) {
    case Scope::Kind::kRoot:
      return std::nullopt;
    case Scope::Kind::kPartner:
      return scope.partner_id;
    case Scope::Kind::kSubscription:
      return view.OwnerPartnerAt(scope.subscription_id, now);
  }
  return std::nullopt;
}

PartnerInfo InfoOf(const Partner& partner, const HistoryView& view, Timestamp now) {
  return PartnerInfo{.partner = partner, .parent_partner_id = view.ParentAt(partner.id, now)};
}

}  // namespace

nlohmann::json DirectoryJson(const Directory& directory) {
  nlohmann::json json = {{"id", directory.id.ToString()},
                         {"displayName", directory.display_name},
                         {"domains", directory.domains}};
  if (directory.owner_partner_id) json["ownerPartnerId"] = *directory.owner_partner_id;
  return json;
}

nlohmann::json PrincipalJson(const Principal& principal) {
  return {{"objectId", principal.object_id.ToString()},
          {"directoryId", principal.directory_id.ToString()},
          {"name", principal.name},
          {"kind", std::string(ToString(principal.kind))}};
}

nlohmann::json TokenJson(const TokenRecord& token) {
  nlohmann::json json = {{"id", token.id},
                         {"principalId", token.principal_id.ToString()},
                         {"createdAt", token.created_at.ToString()},
                         {"expiresAt", token.expires_at.ToString()}};
  if (token.revoked_at) json["revokedAt"] = token.revoked_at->ToString();
  return json;
}

nlohmann::json PartnerJson(const PartnerInfo& info) {
  nlohmann::json json = {{"id", info.partner.id},
                         {"name", info.partner.name},
                         {"kind", std::string(ToString(info.partner.kind))},
                         {"billingCurrency", info.partner.billing_currency}};
  if (info.parent_partner_id) json["parentPartnerId"] = *info.parent_partner_id;
  return json;
}

nlohmann::json SubscriptionJson(const Subscription& subscription) {
  nlohmann::json json = {{"subscriptionId", subscription.id.ToString()},
                         {"offerType", std::string(ToString(subscription.offer_type))},
                         {"directoryId", subscription.directory_id.ToString()},
                         {"displayName", subscription.display_name},
                         {"state", std::string(ToString(subscription.state))}};
  if (subscription.partner_id) json["partnerId"] = *subscription.partner_id;
  if (subscription.billing_currency) json["billingCurrency"] = *subscription.billing_currency;
  return json;
}

nlohmann::json RoleAssignmentJson(const RoleAssignment& assignment) {
  return {{"id", assignment.id},
          {"principalId", assignment.principal_id.ToString()},
          {"role", std::string(ToString(assignment.role))},
          {"scope", assignment.scope}};
}

nlohmann::json AuditEntryJson(const AuditEntry& entry) {
  const auto parse = [](const std::string& text) {
    if (text.empty()) return nlohmann::json();
    nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return json.is_discarded() ? nlohmann::json() : json;
  };
  nlohmann::json json = {{"id", std::to_string(entry.id)},
                         {"at", entry.at.ToString()},
                         {"actorPrincipalId", entry.actor_principal_id.ToString()},
                         {"actorDirectoryId", entry.actor_directory_id.ToString()},
                         {"action", entry.action},
                         {"resource", entry.resource},
                         {"before", parse(entry.before_json)},
                         {"after", parse(entry.after_json)}};
  if (entry.partner_id) json["partnerId"] = *entry.partner_id;
  return json;
}

IdentityService::IdentityService(Store& store, IdentityOptions options)
    : store_(store), options_(options) {}

// ---------------------------------------------------------------------------
// Directories

absl::StatusOr<Directory> IdentityService::CreateDirectory(const Caller& caller, Timestamp now,
                                                           const NewDirectory& request) const {
  if (request.display_name.empty()) {
    return InvalidArgumentError("InvalidRequestContent", "'displayName' must not be empty");
  }
  Directory directory{.id = Guid(),
                      .display_name = request.display_name,
                      .domains = {},
                      .owner_partner_id = request.owner_partner_id};
  for (const std::string& domain : request.domains) {
    std::string lower = Lower(domain);
    if (!IsDomainName(lower)) {
      return InvalidArgumentError("InvalidDomain",
                                  fmt::format("'domains': '{}' is not a domain name", domain));
    }
    if (std::find(directory.domains.begin(), directory.domains.end(), lower) !=
        directory.domains.end()) {
      return InvalidArgumentError("InvalidDomain",
                                  fmt::format("'domains': '{}' is given twice", domain));
    }
    directory.domains.push_back(std::move(lower));
  }

  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  if (!IsPlatformAdmin(caller)) {
    // Only the platform creates directories that no partner owns.
    if (!request.owner_partner_id) return AuthorizationFailed("create a directory with no owner");
    if (!HoldsRole(caller, Role::kPartnerAdmin)) return AuthorizationFailed("create directories");
  }
  if (request.owner_partner_id) {
    if (auto s = CheckPartnerAccess(caller, view, *request.owner_partner_id, now); !s.ok()) {
      return s;
    }
  }

  if (request.id) {
    directory.id = *request.id;
  } else {
    absl::StatusOr<Guid> id = NewRandomGuid();
    if (!id.ok()) return id.status();
    directory.id = *id;
  }
  if (store_.identity().GetDirectory(directory.id).ok()) {
    return AlreadyExistsError("DirectoryAlreadyExists",
                              fmt::format("directory {} already exists", directory.id.ToString()));
  }
  for (const std::string& domain : directory.domains) {
    if (store_.identity().FindDirectoryByDomain(domain).ok()) {
      return AlreadyExistsError("DomainAlreadyExists",
                                fmt::format("domain {} belongs to another directory", domain));
    }
  }
  if (auto s = store_.identity().CreateDirectory(directory); !s.ok()) {
    return WithCode(s, "DirectoryAlreadyExists");
  }
  if (auto s = WriteAudit(store_, caller, now,
                          {.action = "directory.create",
                           .resource = fmt::format("/v1/directories/{}", directory.id.ToString()),
                           .partner_id = OwnerOf(directory),
                           .before = nullptr,
                           .after = DirectoryJson(directory)});
      !s.ok()) {
    return s;
  }
  return directory;
}

absl::StatusOr<Directory> IdentityService::GetDirectory(const Caller& caller, Timestamp now,
                                                        Guid id) const {
  absl::StatusOr<Directory> directory = store_.identity().GetDirectory(id);
  if (absl::IsNotFound(directory.status())) return DirectoryNotFound(id);
  if (!directory.ok()) return directory.status();
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  if (!CanSeeDirectory(caller, (*snapshot)->view, *directory, now)) return DirectoryNotFound(id);
  return directory;
}

absl::StatusOr<std::vector<Directory>> IdentityService::ListDirectories(const Caller& caller,
                                                                        Timestamp now) const {
  absl::StatusOr<std::vector<Directory>> all = store_.identity().ListDirectories();
  if (!all.ok()) return all.status();
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  const absl::flat_hash_set<Guid> via_subscriptions =
      IsPlatformAdmin(caller) ? absl::flat_hash_set<Guid>()
                              : DirectoriesOfReadableSubscriptions(caller, view, now);
  std::vector<Directory> visible;
  for (Directory& d : *all) {
    if (CanSeeDirectory(caller, view, d, now, via_subscriptions)) visible.push_back(std::move(d));
  }
  return visible;
}

// ---------------------------------------------------------------------------
// Principals

absl::StatusOr<Principal> IdentityService::CreatePrincipal(const Caller& caller, Timestamp now,
                                                           const NewPrincipal& request) const {
  if (request.name.empty() || request.name.size() > 256) {
    return InvalidArgumentError("InvalidRequestContent", "'name' must be 1 to 256 characters long");
  }
  absl::StatusOr<Directory> directory = store_.identity().GetDirectory(request.directory_id);
  if (absl::IsNotFound(directory.status())) {
    // Only a PlatformAdmin may learn that a directory does not exist; to
    // anyone else an unknown directory is one it may not create principals in.
    if (IsPlatformAdmin(caller)) return DirectoryNotFound(request.directory_id);
    return AuthorizationFailed(
        fmt::format("create principals in directory {}", request.directory_id.ToString()));
  }
  if (!directory.ok()) return directory.status();
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  if (auto s = CheckCanCreatePrincipal(caller, (*snapshot)->view, *directory, now); !s.ok()) {
    return s;
  }
  if (store_.identity().FindPrincipalByName(request.directory_id, request.name).ok()) {
    return AlreadyExistsError("PrincipalAlreadyExists",
                              fmt::format("directory {} already has a principal named {}",
                                          request.directory_id.ToString(), request.name));
  }
  absl::StatusOr<Guid> object_id =
      request.object_id ? absl::StatusOr<Guid>(*request.object_id) : NewRandomGuid();
  if (!object_id.ok()) return object_id.status();
  if (store_.identity().GetPrincipal(*object_id).ok()) {
    return AlreadyExistsError("PrincipalAlreadyExists",
                              fmt::format("principal {} already exists", object_id->ToString()));
  }
  const Principal principal{.object_id = *object_id,
                            .directory_id = request.directory_id,
                            .name = request.name,
                            .kind = request.kind};
  if (auto s = store_.identity().CreatePrincipal(principal); !s.ok()) {
    return WithCode(s, "PrincipalAlreadyExists");
  }
  if (auto s = WriteAudit(store_, caller, now,
                          {.action = "principal.create",
                           .resource = fmt::format("/v1/principals/{}", object_id->ToString()),
                           .partner_id = OwnerOf(*directory),
                           .before = nullptr,
                           .after = PrincipalJson(principal)});
      !s.ok()) {
    return s;
  }
  return principal;
}

absl::StatusOr<Principal> IdentityService::GetPrincipal(const Caller& caller, Timestamp now,
                                                        Guid object_id) const {
  absl::StatusOr<Principal> principal = store_.identity().GetPrincipal(object_id);
  if (absl::IsNotFound(principal.status())) return PrincipalNotFound(object_id);
  if (!principal.ok()) return principal.status();
  if (IsPlatformAdmin(caller) || caller.principal_id == object_id) return principal;
  absl::StatusOr<Directory> directory = store_.identity().GetDirectory(principal->directory_id);
  if (!directory.ok()) return PrincipalNotFound(object_id);
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  if (!AdministersDirectory(caller, (*snapshot)->view, *directory, now)) {
    return PrincipalNotFound(object_id);
  }
  return principal;
}

absl::StatusOr<std::vector<Principal>> IdentityService::ListPrincipals(
    const Caller& caller, Timestamp now, const std::optional<Guid>& directory_id,
    const std::optional<std::string>& name) const {
  absl::StatusOr<std::vector<Principal>> all = store_.identity().ListPrincipals(directory_id);
  if (!all.ok()) return all.status();
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const bool platform_admin = IsPlatformAdmin(caller);
  // Whether the caller administers each directory, looked up once per directory.
  absl::flat_hash_map<Guid, bool> administers;
  std::vector<Principal> visible;
  for (Principal& p : *all) {
    if (name && Lower(p.name) != Lower(*name)) continue;
    bool ok = platform_admin || p.object_id == caller.principal_id;
    if (!ok) {
      auto [it, inserted] = administers.try_emplace(p.directory_id, false);
      if (inserted) {
        absl::StatusOr<Directory> directory = store_.identity().GetDirectory(p.directory_id);
        it->second =
            directory.ok() && AdministersDirectory(caller, (*snapshot)->view, *directory, now);
      }
      ok = it->second;
    }
    if (ok) visible.push_back(std::move(p));
  }
  return visible;
}

// ---------------------------------------------------------------------------
// Tokens

absl::StatusOr<IssuedToken> IdentityService::MintToken(
    const Caller& caller, Timestamp now, Guid principal_id,
    std::optional<std::int64_t> expires_in_hours) const {
  const std::int64_t hours = expires_in_hours.value_or(options_.default_token_hours);
  if (hours < 1 || hours > options_.max_token_hours) {
    return InvalidArgumentError(
        "InvalidTokenLifetime",
        fmt::format("'expiresInHours' must be between 1 and {}", options_.max_token_hours));
  }
  // No escalation (SPEC §6): checked before the principal is even looked up,
  // so that nobody but a PlatformAdmin learns which principals exist.
  if (auto s = CheckCanMintToken(caller, principal_id); !s.ok()) return s;
  absl::StatusOr<Principal> principal = store_.identity().GetPrincipal(principal_id);
  if (absl::IsNotFound(principal.status())) return PrincipalNotFound(principal_id);
  if (!principal.ok()) return principal.status();
  absl::StatusOr<Directory> directory = store_.identity().GetDirectory(principal->directory_id);
  if (!directory.ok()) return directory.status();

  absl::StatusOr<MintedSecret> secret = MintSecret("sbt_");
  if (!secret.ok()) return secret.status();
  absl::StatusOr<Guid> id = NewRandomGuid();
  if (!id.ok()) return id.status();
  const TokenRecord record{.id = id->ToString(),
                           .principal_id = principal_id,
                           .hash = secret->hash,
                           .created_at = now,
                           .expires_at = now.AddHours(hours),
                           .revoked_at = std::nullopt};
  if (auto s = store_.identity().CreateToken(record); !s.ok()) return s;
  if (auto s = WriteAudit(store_, caller, now,
                          {.action = "token.create",
                           .resource = fmt::format("/v1/tokens/{}", record.id),
                           .partner_id = OwnerOf(*directory),
                           .before = nullptr,
                           .after = TokenJson(record)});
      !s.ok()) {
    return s;
  }
  return IssuedToken{.id = record.id,
                     .principal_id = principal_id,
                     .token = std::move(secret->plaintext),
                     .created_at = now,
                     .expires_at = record.expires_at};
}

absl::StatusOr<TokenRecord> IdentityService::RevokeToken(const Caller& caller, Timestamp now,
                                                         std::string_view token_id) const {
  const auto not_found = [token_id] {
    return NotFoundError("TokenNotFound", fmt::format("token {} not found", token_id));
  };
  absl::StatusOr<TokenRecord> token = store_.identity().GetToken(token_id);
  if (absl::IsNotFound(token.status())) return not_found();
  if (!token.ok()) return token.status();
  std::optional<PartnerId> partner;
  absl::StatusOr<Principal> principal = store_.identity().GetPrincipal(token->principal_id);
  absl::StatusOr<Directory> directory =
      principal.ok() ? store_.identity().GetDirectory(principal->directory_id)
                     : absl::StatusOr<Directory>(principal.status());
  if (directory.ok()) partner = OwnerOf(*directory);
  if (!IsPlatformAdmin(caller) && caller.principal_id != token->principal_id) {
    if (!directory.ok()) return not_found();
    auto snapshot = LoadSnapshot(store_);
    if (!snapshot.ok()) return snapshot.status();
    if (!AdministersDirectory(caller, (*snapshot)->view, *directory, now)) return not_found();
  }
  absl::StatusOr<TokenRecord> revoked = store_.identity().RevokeToken(token_id, now);
  if (!revoked.ok()) return revoked.status();
  if (token->revoked_at) return revoked;  // nothing changed
  if (auto s = WriteAudit(store_, caller, now,
                          {.action = "token.revoke",
                           .resource = fmt::format("/v1/tokens/{}", token->id),
                           .partner_id = partner,
                           .before = TokenJson(*token),
                           .after = TokenJson(*revoked)});
      !s.ok()) {
    return s;
  }
  return revoked;
}

// ---------------------------------------------------------------------------
// Partners

absl::StatusOr<PartnerInfo> IdentityService::CreatePartner(const Caller& caller, Timestamp now,
                                                           const NewPartner& request) const {
  if (request.id && !IsSimpleId(*request.id, 64)) {
    return InvalidArgumentError(
        "InvalidPartnerId",
        fmt::format("'id': '{}' must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'",
                    *request.id));
  }
  if (request.name.empty()) {
    return InvalidArgumentError("InvalidRequestContent", "'name' must not be empty");
  }
  if (auto s = ValidateCurrency(request.billing_currency, "billingCurrency"); !s.ok()) return s;
  const bool reseller = request.kind == PartnerKind::kIndirectReseller;
  if (reseller && !request.parent_partner_id) {
    return InvalidArgumentError(
        "MissingRequiredProperty",
        "'parentPartnerId' is required for an indirectReseller (its indirect provider)");
  }
  if (!reseller && request.parent_partner_id) {
    return InvalidArgumentError(
        "InvalidParentPartner",
        fmt::format("a partner of kind {} has no parent; only an indirectReseller does",
                    ToString(request.kind)));
  }

  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  if (request.parent_partner_id) {
    // A PartnerAdmin may add resellers under the partners it administers.
    if (!IsPlatformAdmin(caller) && !HoldsRole(caller, Role::kPartnerAdmin)) {
      return AuthorizationFailed("create partners");
    }
    if (auto s = CheckPartnerAccess(caller, view, *request.parent_partner_id, now); !s.ok()) {
      return s;
    }
    const Partner* parent = view.FindPartner(*request.parent_partner_id);
    if (parent->kind != PartnerKind::kIndirectProvider) {
      return InvalidArgumentError(
          "InvalidParentPartner",
          fmt::format("the parent of a reseller must be an indirectProvider; partner {} is {}",
                      parent->id, ToString(parent->kind)));
    }
  } else if (auto s = CheckPlatformAdmin(caller); !s.ok()) {
    return s;
  }

  Partner partner{.id = "",
                  .name = request.name,
                  .kind = request.kind,
                  .billing_currency = request.billing_currency};
  if (request.id) {
    partner.id = *request.id;
  } else {
    absl::StatusOr<Guid> id = NewRandomGuid();
    if (!id.ok()) return id.status();
    partner.id = id->ToString();
  }
  if (view.FindPartner(partner.id) != nullptr || store_.parties().GetPartner(partner.id).ok()) {
    return AlreadyExistsError("PartnerAlreadyExists",
                              fmt::format("partner {} already exists", partner.id));
  }
  if (auto s = store_.parties().CreatePartner(partner, request.parent_partner_id, now); !s.ok()) {
    return WithCode(s, absl::IsAlreadyExists(s) ? "PartnerAlreadyExists" : "PartnerNotFound");
  }
  PartnerInfo info{.partner = partner, .parent_partner_id = request.parent_partner_id};
  if (auto s = WriteAudit(store_, caller, now,
                          {.action = "partner.create",
                           .resource = fmt::format("/v1/partners/{}", partner.id),
                           .partner_id = partner.id,
                           .before = nullptr,
                           .after = PartnerJson(info)});
      !s.ok()) {
    return s;
  }
  return info;
}

absl::StatusOr<PartnerInfo> IdentityService::GetPartner(const Caller& caller, Timestamp now,
                                                        std::string_view partner_id) const {
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  const PartnerId id(partner_id);
  if (auto s = CheckPartnerAccess(caller, view, id, now); !s.ok()) return s;
  const Partner* partner = view.FindPartner(id);
  if (partner == nullptr) return PartnerNotFound(id);
  return InfoOf(*partner, view, now);
}

absl::StatusOr<std::vector<PartnerInfo>> IdentityService::ListPartners(const Caller& caller,
                                                                       Timestamp now) const {
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  std::vector<PartnerInfo> result;
  for (const Partner& p : view.history().partners) {
    if (CheckPartnerAccess(caller, view, p.id, now).ok()) result.push_back(InfoOf(p, view, now));
  }
  std::sort(result.begin(), result.end(),
            [](const PartnerInfo& a, const PartnerInfo& b) { return a.partner.id < b.partner.id; });
  return result;
}

// ---------------------------------------------------------------------------
// Subscriptions

absl::StatusOr<Subscription> IdentityService::CreateSubscription(
    const Caller& caller, Timestamp now, const NewSubscription& request) const {
  if (request.display_name.empty()) {
    return InvalidArgumentError("InvalidRequestContent", "'displayName' must not be empty");
  }
  const bool direct = IsDirectBilled(request.offer_type);
  const std::string_view offer = ToString(request.offer_type);
  if (direct) {
    if (request.partner_id) {
      return InvalidArgumentError(
          "InvalidRequestContent",
          fmt::format("'partnerId' does not apply to a {} subscription (it is billed directly)",
                      offer));
    }
    if (!request.billing_currency) {
      return InvalidArgumentError(
          "MissingRequiredProperty",
          fmt::format("'billingCurrency' is required for a {} subscription", offer));
    }
    if (auto s = ValidateCurrency(*request.billing_currency, "billingCurrency"); !s.ok()) return s;
  } else {
    if (!request.partner_id) {
      return InvalidArgumentError(
          "MissingRequiredProperty",
          fmt::format("'partnerId' is required for a {} subscription", offer));
    }
    if (request.billing_currency) {
      return InvalidArgumentError(
          "InvalidRequestContent",
          fmt::format("'billingCurrency' does not apply to a {} subscription (its partner's "
                      "currency does)",
                      offer));
    }
  }

  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  if (direct) {
    if (auto s = CheckPlatformAdmin(caller); !s.ok()) return s;
  } else {
    if (!IsPlatformAdmin(caller) && !HoldsRole(caller, Role::kPartnerAdmin)) {
      return AuthorizationFailed("create subscriptions");
    }
    if (auto s = CheckPartnerAccess(caller, view, *request.partner_id, now); !s.ok()) return s;
  }
  absl::StatusOr<Directory> directory = store_.identity().GetDirectory(request.directory_id);
  if (absl::IsNotFound(directory.status())) return DirectoryNotFound(request.directory_id);
  if (!directory.ok()) return directory.status();
  if (!CanSeeDirectory(caller, view, *directory, now)) {
    return DirectoryNotFound(request.directory_id);
  }

  Subscription subscription{.id = Guid(),
                            .offer_type = request.offer_type,
                            .directory_id = request.directory_id,
                            .partner_id = request.partner_id,
                            .billing_currency = request.billing_currency,
                            .display_name = request.display_name,
                            .state = SubscriptionState::kActive};
  if (request.id) {
    subscription.id = *request.id;
  } else {
    absl::StatusOr<Guid> id = NewRandomGuid();
    if (!id.ok()) return id.status();
    subscription.id = *id;
  }
  if (store_.parties().GetSubscription(subscription.id).ok()) {
    return AlreadyExistsError(
        "SubscriptionAlreadyExists",
        fmt::format("subscription {} already exists", subscription.id.ToString()));
  }
  if (auto s = store_.parties().CreateSubscription(subscription, now); !s.ok()) {
    return WithCode(s, "SubscriptionAlreadyExists");
  }
  if (auto s =
          WriteAudit(store_, caller, now,
                     {.action = "subscription.create",
                      .resource = fmt::format("/v1/subscriptions/{}", subscription.id.ToString()),
                      .partner_id = subscription.partner_id,
                      .before = nullptr,
                      .after = SubscriptionJson(subscription)});
      !s.ok()) {
    return s;
  }
  return subscription;
}

absl::StatusOr<Subscription> IdentityService::GetSubscription(const Caller& caller, Timestamp now,
                                                              Guid id) const {
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  if (auto s = CheckSubscriptionAccess(caller, (*snapshot)->view, id, AccessKind::kRead, now);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<Subscription> subscription = store_.parties().GetSubscription(id);
  if (!subscription.ok()) return WithCode(subscription.status(), "SubscriptionNotFound");
  return subscription;
}

absl::StatusOr<std::vector<Subscription>> IdentityService::ListSubscriptions(
    const Caller& caller, Timestamp now, const std::optional<PartnerId>& partner_id) const {
  absl::StatusOr<std::vector<Subscription>> all =
      store_.parties().ListSubscriptions({.partner_id = partner_id, .directory_id = std::nullopt});
  if (!all.ok()) return all.status();
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  std::vector<Subscription> visible;
  for (Subscription& s : *all) {
    if (CheckSubscriptionAccess(caller, (*snapshot)->view, s.id, AccessKind::kRead, now).ok()) {
      visible.push_back(std::move(s));
    }
  }
  return visible;
}

// ---------------------------------------------------------------------------
// Role assignments

namespace {

// FailedPrecondition / LastPlatformAdmin when `id` holds the last PlatformAdmin
// assignment on "/" and `replacement` (none: a delete) is not one.
absl::Status CheckKeepsAPlatformAdmin(const std::vector<RoleAssignment>& all, std::string_view id,
                                      const RoleAssignment* replacement) {
  if (replacement != nullptr && IsRootPlatformAdmin(*replacement)) return absl::OkStatus();
  bool removes_one = false;
  bool another = false;
  for (const RoleAssignment& a : all) {
    if (!IsRootPlatformAdmin(a)) continue;
    if (a.id == id) {
      removes_one = true;
    } else {
      another = true;
    }
  }
  if (removes_one && !another) {
    return FailedPreconditionError(
        "LastPlatformAdmin",
        fmt::format("role assignment {} is the last PlatformAdmin; grant another first", id));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PutRoleAssignmentOutcome> IdentityService::PutRoleAssignment(
    const Caller& caller, Timestamp now, const RoleAssignment& request) const {
  if (!IsSimpleId(request.id, 128)) {
    return InvalidArgumentError(
        "InvalidRoleAssignmentId",
        fmt::format("role assignment id '{}' must be 1 to 128 characters of A-Z, a-z, 0-9, '.', "
                    "'_', '-'",
                    request.id));
  }
  absl::StatusOr<Scope> scope = ParseScope(request.scope);
  if (!scope.ok()) return scope.status();
  RoleAssignment assignment = request;
  assignment.scope = scope->ToString();  // stored in canonical form

  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  // Role/scope fit (400), then the no-escalation rules (403).
  if (auto s = CheckCanGrant(caller, view, assignment, now); !s.ok()) return s;
  if (scope->kind == Scope::Kind::kPartner && view.FindPartner(scope->partner_id) == nullptr) {
    return PartnerNotFound(scope->partner_id);
  }
  if (scope->kind == Scope::Kind::kSubscription &&
      view.FindSubscription(scope->subscription_id) == nullptr) {
    return NotFoundError("SubscriptionNotFound", fmt::format("subscription {} not found",
                                                             scope->subscription_id.ToString()));
  }
  if (auto principal = store_.identity().GetPrincipal(assignment.principal_id); !principal.ok()) {
    if (absl::IsNotFound(principal.status())) return PrincipalNotFound(assignment.principal_id);
    return principal.status();
  }

  absl::StatusOr<std::vector<RoleAssignment>> all =
      store_.identity().ListRoleAssignments(std::nullopt);
  if (!all.ok()) return all.status();
  const auto existing = std::find_if(
      all->begin(), all->end(), [&](const RoleAssignment& a) { return a.id == assignment.id; });
  if (existing != all->end()) {
    // Replacing is revoking the old grant: the caller must be able to make it.
    if (!CheckCanGrant(caller, view, *existing, now).ok()) {
      return AuthorizationFailed(fmt::format("replace role assignment {}", assignment.id));
    }
    if (auto s = CheckKeepsAPlatformAdmin(*all, assignment.id, &assignment); !s.ok()) return s;
    if (*existing == assignment) return PutRoleAssignmentOutcome{assignment, false};
  }

  absl::StatusOr<bool> created = store_.identity().PutRoleAssignment(assignment);
  if (!created.ok()) return created.status();
  if (auto s = WriteAudit(
          store_, caller, now,
          {.action = "roleAssignment.put",
           .resource = fmt::format("/v1/roleAssignments/{}", assignment.id),
           .partner_id = PartnerOfScope(view, *scope, now),
           .before = existing != all->end() ? RoleAssignmentJson(*existing) : nlohmann::json(),
           .after = RoleAssignmentJson(assignment)});
      !s.ok()) {
    return s;
  }
  return PutRoleAssignmentOutcome{.assignment = assignment, .created = *created};
}

absl::StatusOr<std::vector<RoleAssignment>> IdentityService::ListRoleAssignments(
    const Caller& caller, Timestamp now, const std::optional<Guid>& principal_id) const {
  absl::StatusOr<std::vector<RoleAssignment>> all =
      store_.identity().ListRoleAssignments(principal_id);
  if (!all.ok()) return all.status();
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  std::vector<RoleAssignment> visible;
  for (RoleAssignment& a : *all) {
    if (CanSeeAssignment(caller, (*snapshot)->view, a, now)) visible.push_back(std::move(a));
  }
  return visible;
}

absl::StatusOr<RoleAssignment> IdentityService::DeleteRoleAssignment(const Caller& caller,
                                                                     Timestamp now,
                                                                     std::string_view id) const {
  absl::StatusOr<RoleAssignment> assignment = store_.identity().GetRoleAssignment(id);
  if (absl::IsNotFound(assignment.status())) return RoleAssignmentNotFound(id);
  if (!assignment.ok()) return assignment.status();
  auto snapshot = LoadSnapshot(store_);
  if (!snapshot.ok()) return snapshot.status();
  const HistoryView& view = (*snapshot)->view;
  if (!CanSeeAssignment(caller, view, *assignment, now)) return RoleAssignmentNotFound(id);
  if (!CheckCanGrant(caller, view, *assignment, now).ok()) {
    return AuthorizationFailed(fmt::format("delete role assignment {}", id));
  }
  absl::StatusOr<std::vector<RoleAssignment>> all =
      store_.identity().ListRoleAssignments(std::nullopt);
  if (!all.ok()) return all.status();
  if (auto s = CheckKeepsAPlatformAdmin(*all, id, nullptr); !s.ok()) return s;
  if (auto s = store_.identity().DeleteRoleAssignment(id); !s.ok()) {
    return absl::IsNotFound(s) ? RoleAssignmentNotFound(id) : s;
  }
  absl::StatusOr<Scope> scope = ParseScope(assignment->scope);
  if (auto s = WriteAudit(store_, caller, now,
                          {.action = "roleAssignment.delete",
                           .resource = fmt::format("/v1/roleAssignments/{}", assignment->id),
                           .partner_id = scope.ok() ? PartnerOfScope(view, *scope, now)
                                                    : std::optional<PartnerId>(),
                           .before = RoleAssignmentJson(*assignment),
                           .after = nullptr});
      !s.ok()) {
    return s;
  }
  return assignment;
}

// ---------------------------------------------------------------------------
// Audit

absl::StatusOr<Page<AuditEntry>> IdentityService::ListAudit(const Caller& caller, Timestamp now,
                                                            const PageRequest& page) const {
  AuditFilter filter;
  if (!IsPlatformAdmin(caller)) {
    if (!HoldsRole(caller, Role::kPartnerAdmin)) return AuthorizationFailed("read the audit log");
    auto snapshot = LoadSnapshot(store_);
    if (!snapshot.ok()) return snapshot.status();
    const HistoryView& view = (*snapshot)->view;
    // Entries about the resources of every partner the caller administers at
    // `now`, re-computed on each page (SPEC §6: each page is authorised again).
    std::vector<PartnerId> partners;
    for (const Partner& p : view.history().partners) {
      if (IsPartnerAdminOverPartner(caller, view, p.id, now)) partners.push_back(p.id);
    }
    filter.partner_ids = std::move(partners);
  }
  return store_.audit().ListAudit(filter, page);
}

}  // namespace stackbill
