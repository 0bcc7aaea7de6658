#include "core/access.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/abseil_compat.h"
#include "core/error.h"

namespace stackbill {
namespace {

absl::Status AuthorizationFailed(std::string_view what) {
  return PermissionDeniedError("AuthorizationFailed",
                               absl::StrCat("the caller is not authorized to ", AbslView(what)));
}

absl::Status SubscriptionNotFound(Guid subscription_id) {
  return NotFoundError("SubscriptionNotFound",
                       absl::StrCat("subscription ", subscription_id.ToString(), " not found"));
}

// The caller's assignments of `role` whose scope parses; malformed scopes in
// stored assignments reach nothing.
std::vector<Scope> ScopesWithRole(const Caller& caller, Role role) {
  std::vector<Scope> scopes;
  for (const RoleAssignment& a : caller.roles) {
    if (a.role != role) continue;
    absl::StatusOr<Scope> scope = ParseScope(a.scope);
    if (scope.ok()) scopes.push_back(*std::move(scope));
  }
  return scopes;
}

bool HoldsPartnerAdminOnAnyOf(const Caller& caller, const std::vector<PartnerId>& chain) {
  for (const Scope& s : ScopesWithRole(caller, Role::kPartnerAdmin)) {
    if (s.kind == Scope::Kind::kPartner &&
        std::find(chain.begin(), chain.end(), s.partner_id) != chain.end()) {
      return true;
    }
  }
  return false;
}

bool HoldsOnSubscription(const Caller& caller, Role role, Guid subscription_id) {
  for (const Scope& s : ScopesWithRole(caller, role)) {
    if (s.kind == Scope::Kind::kSubscription && s.subscription_id == subscription_id) return true;
  }
  return false;
}

}  // namespace

std::string Scope::ToString() const {
  switch (kind) {
    case Kind::kRoot:
      return "/";
    case Kind::kPartner:
      return absl::StrCat("/partners/", partner_id);
    case Kind::kSubscription:
      return absl::StrCat("/subscriptions/", subscription_id.ToString());
  }
  return "/";
}

absl::StatusOr<Scope> ParseScope(std::string_view text) {
  auto invalid = [text](std::string_view why) {
    return InvalidArgumentError(
        "InvalidScope", absl::StrCat("invalid scope '", AbslView(text), "': ", AbslView(why),
                                     "; expected '/', '/partners/{id}' or '/subscriptions/{id}'"));
  };
  if (text == "/") return Scope{};
  absl::string_view rest = AbslView(text);
  if (!absl::ConsumePrefix(&rest, "/")) return invalid("it must start with '/'");
  absl::ConsumeSuffix(&rest, "/");
  const std::size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) return invalid("missing the id");
  const absl::string_view kind = rest.substr(0, slash);
  const absl::string_view id = rest.substr(slash + 1);
  if (id.empty() || absl::StrContains(id, '/')) return invalid("the id must be one path segment");
  if (absl::EqualsIgnoreCase(kind, "partners")) {
    Scope scope;
    scope.kind = Scope::Kind::kPartner;
    scope.partner_id = std::string(id);
    return scope;
  }
  if (absl::EqualsIgnoreCase(kind, "subscriptions")) {
    absl::StatusOr<Guid> guid = Guid::Parse(std::string_view(id.data(), id.size()));
    if (!guid.ok()) return invalid("the subscription id is not a GUID");
    Scope scope;
    scope.kind = Scope::Kind::kSubscription;
    scope.subscription_id = *guid;
    return scope;
  }
  return invalid(absl::StrCat("unknown resource type '", kind, "'"));
}

bool IsPlatformAdmin(const Caller& caller) {
  for (const Scope& s : ScopesWithRole(caller, Role::kPlatformAdmin)) {
    if (s.kind == Scope::Kind::kRoot) return true;
  }
  return false;
}

bool IsPartnerAdminOverPartner(const Caller& caller, const HistoryView& view,
                               const PartnerId& partner_id, Timestamp now) {
  // A looping chain reaches nobody: failing closed is the safe reading.
  absl::StatusOr<std::vector<PartnerId>> chain = view.PartnerChainAt(partner_id, now);
  return chain.ok() && HoldsPartnerAdminOnAnyOf(caller, *chain);
}

bool IsPartnerAdminOverSubscription(const Caller& caller, const HistoryView& view,
                                    Guid subscription_id, Timestamp now) {
  absl::StatusOr<std::vector<PartnerId>> chain = view.RollUpChain(subscription_id, now);
  return chain.ok() && HoldsPartnerAdminOnAnyOf(caller, *chain);
}

bool IsOwnerOf(const Caller& caller, Guid subscription_id) {
  return HoldsOnSubscription(caller, Role::kOwner, subscription_id);
}

bool IsReaderOf(const Caller& caller, Guid subscription_id) {
  return IsOwnerOf(caller, subscription_id) ||
         HoldsOnSubscription(caller, Role::kReader, subscription_id);
}

absl::Status CheckSubscriptionAccess(const Caller& caller, const HistoryView& view,
                                     Guid subscription_id, AccessKind kind, Timestamp now) {
  if (view.FindSubscription(subscription_id) == nullptr)
    return SubscriptionNotFound(subscription_id);
  if (IsPlatformAdmin(caller) || IsOwnerOf(caller, subscription_id) ||
      IsPartnerAdminOverSubscription(caller, view, subscription_id, now)) {
    return absl::OkStatus();
  }
  // Existence must not leak to callers with no role reaching the subscription
  // (SPEC §6), so only a Reader learns that it may not write.
  if (!IsReaderOf(caller, subscription_id)) return SubscriptionNotFound(subscription_id);
  if (kind == AccessKind::kRead) return absl::OkStatus();
  return AuthorizationFailed(
      absl::StrCat("write to subscription ", subscription_id.ToString(), " (Reader only)"));
}

absl::Status CheckPartnerAccess(const Caller& caller, const HistoryView& view,
                                const PartnerId& partner_id, Timestamp now) {
  if (view.FindPartner(partner_id) != nullptr &&
      (IsPlatformAdmin(caller) || IsPartnerAdminOverPartner(caller, view, partner_id, now))) {
    return absl::OkStatus();
  }
  return NotFoundError("PartnerNotFound", absl::StrCat("partner ", partner_id, " not found"));
}

absl::Status CheckRebillingAccess(const Caller& caller, const HistoryView& view,
                                  const PartnerId& partner_id, Timestamp now) {
  if (absl::Status visible = CheckPartnerAccess(caller, view, partner_id, now); !visible.ok()) {
    return visible;
  }
  if (IsPlatformAdmin(caller) || HoldsPartnerAdminOnAnyOf(caller, {partner_id})) {
    return absl::OkStatus();
  }
  return AuthorizationFailed(absl::StrCat("read or write the re-billing of partner ", partner_id,
                                          " (its own PartnerAdmins only)"));
}

absl::Status CheckPlatformAdmin(const Caller& caller) {
  if (IsPlatformAdmin(caller)) return absl::OkStatus();
  return AuthorizationFailed("perform this operation (PlatformAdmin only)");
}

absl::Status CheckStackIdentity(const Caller& caller, Guid cloud_id) {
  if (caller.stack_cloud_id == cloud_id) return absl::OkStatus();
  return AuthorizationFailed(absl::StrCat("act as stack ", cloud_id.ToString()));
}

absl::Status CheckSubscriberMappingAccess(const Caller& caller, const HistoryView& view,
                                          const Registration& registration, Timestamp now) {
  if (caller.stack_cloud_id) return CheckStackIdentity(caller, registration.cloud_id);
  const Guid default_subscription = registration.name.subscription_id;
  if (IsPlatformAdmin(caller) ||
      IsPartnerAdminOverSubscription(caller, view, default_subscription, now)) {
    return absl::OkStatus();
  }
  absl::Status visible =
      CheckSubscriptionAccess(caller, view, default_subscription, AccessKind::kRead, now);
  if (!visible.ok()) return visible;
  return AuthorizationFailed(
      absl::StrCat("map subscribers of stack ", registration.cloud_id.ToString()));
}

absl::Status CheckQuarantineAccess(const Caller& caller, const HistoryView& view,
                                   const Registration& registration, Timestamp now) {
  return CheckSubscriptionAccess(caller, view, registration.name.subscription_id, AccessKind::kRead,
                                 now);
}

absl::Status CheckInvoiceAccess(const Caller& caller, const HistoryView& view,
                                const BillTo& bill_to, Timestamp now) {
  if (IsPlatformAdmin(caller)) return absl::OkStatus();
  switch (bill_to.kind) {
    case BillTo::Kind::kPartner:
      if (IsPartnerAdminOverPartner(caller, view, bill_to.partner_id, now)) {
        return absl::OkStatus();
      }
      break;
    case BillTo::Kind::kSubscription:
      if (view.OwnerPartnerAt(bill_to.subscription_id, now).has_value()) {
        if (IsPartnerAdminOverSubscription(caller, view, bill_to.subscription_id, now)) {
          return absl::OkStatus();
        }
      } else if (IsReaderOf(caller, bill_to.subscription_id)) {
        return absl::OkStatus();
      }
      break;
  }
  return NotFoundError("InvoiceNotFound",
                       absl::StrCat("no invoice billed to ", bill_to.ToString(), " found"));
}

absl::Status CheckBillingDataAccess(const Caller& caller, const HistoryView& view,
                                    Guid subscription_id, Timestamp now) {
  if (IsPlatformAdmin(caller)) return absl::OkStatus();
  const Subscription* subscription = view.FindSubscription(subscription_id);
  if (subscription != nullptr) {
    if (IsPartnerAdminOverSubscription(caller, view, subscription_id, now)) {
      return absl::OkStatus();
    }
    const bool partner_owned = view.OwnerPartnerAt(subscription_id, now).has_value();
    const bool customer_side =
        IsReaderOf(caller, subscription_id) || caller.directory_id == subscription->directory_id;
    if (!partner_owned && IsReaderOf(caller, subscription_id)) return absl::OkStatus();
    if (partner_owned && customer_side) {
      return PermissionDeniedError(
          "BillingDataNotVisible",
          absl::StrCat("usage of subscription ", subscription_id.ToString(),
                       " is billed through its partner and is not visible to its directory"));
    }
  }
  return SubscriptionNotFound(subscription_id);
}

absl::Status CheckCanGrant(const Caller& caller, const HistoryView& view,
                           const RoleAssignment& assignment, Timestamp now) {
  absl::StatusOr<Scope> scope = ParseScope(assignment.scope);
  if (!scope.ok()) return scope.status();
  const bool fits = [&] {
    switch (assignment.role) {
      case Role::kPlatformAdmin:
        return scope->kind == Scope::Kind::kRoot;
      case Role::kPartnerAdmin:
        return scope->kind == Scope::Kind::kPartner;
      case Role::kOwner:
      case Role::kReader:
        return scope->kind == Scope::Kind::kSubscription;
    }
    return false;
  }();
  if (!fits) {
    return InvalidArgumentError("InvalidRoleAssignment",
                                absl::StrCat("role ", AbslView(ToString(assignment.role)),
                                             " cannot be assigned at scope ", assignment.scope));
  }
  const std::string what =
      absl::StrCat("grant ", AbslView(ToString(assignment.role)), " at scope ", scope->ToString());
  if (IsPlatformAdmin(caller)) return absl::OkStatus();
  switch (scope->kind) {
    case Scope::Kind::kRoot:
      break;
    case Scope::Kind::kPartner:
      if (IsPartnerAdminOverPartner(caller, view, scope->partner_id, now)) return absl::OkStatus();
      break;
    case Scope::Kind::kSubscription: {
      if (IsPartnerAdminOverSubscription(caller, view, scope->subscription_id, now) ||
          IsOwnerOf(caller, scope->subscription_id)) {
        return absl::OkStatus();
      }
      // Another partner's subscription (or none) is 404, so that a refused
      // grant does not tell whether it exists (SPEC §6); one the caller can
      // read but not administer is 403.
      absl::Status visible =
          CheckSubscriptionAccess(caller, view, scope->subscription_id, AccessKind::kRead, now);
      if (visible.code() == absl::StatusCode::kNotFound) return visible;
      break;
    }
  }
  return AuthorizationFailed(what);
}

absl::Status CheckCanCreatePrincipal(const Caller& caller, const HistoryView& view,
                                     const Directory& directory, Timestamp now) {
  if (IsPlatformAdmin(caller)) return absl::OkStatus();
  if (directory.owner_partner_id &&
      IsPartnerAdminOverPartner(caller, view, *directory.owner_partner_id, now)) {
    return absl::OkStatus();
  }
  return AuthorizationFailed(
      absl::StrCat("create principals in directory ", directory.id.ToString()));
}

absl::Status CheckCanMintToken(const Caller& caller, Guid principal_id) {
  if (caller.principal_id == principal_id && !caller.stack_cloud_id) return absl::OkStatus();
  if (IsPlatformAdmin(caller)) return absl::OkStatus();
  return AuthorizationFailed(absl::StrCat("mint tokens for principal ", principal_id.ToString()));
}

}  // namespace stackbill
