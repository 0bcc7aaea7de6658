#pragma once

// Test-only fixtures for core: deterministic GUIDs and times, a builder for
// History, a standard CSP world (a provider with a reseller, a direct partner,
// an unrelated partner, their customers) and callers holding typical roles.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/access.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/time.h"

namespace stackbill::testing {

// A readable GUID: `kind` in the first byte, `n` in the last two
// ("kk000000-0000-0000-0000-00000000nnnn").
constexpr Guid TestGuid(std::uint8_t kind, std::uint16_t n) {
  std::array<std::uint8_t, 16> bytes{};
  bytes[0] = kind;
  bytes[14] = static_cast<std::uint8_t>(n >> 8);
  bytes[15] = static_cast<std::uint8_t>(n & 0xff);
  return Guid(bytes);
}

// 2026-11-{day}T{hour}:00:00Z.
inline Timestamp Nov(int day, int hour = 0) {
  return Timestamp::FromCivil(CivilTime{2026, 11, day, hour, 0, 0, 0});
}

// The standard world. Partners: provider "contoso" (indirect provider) with
// reseller "fabrikam" below it; direct partner "adatum"; unrelated direct
// partner "northwind".
namespace world {
inline constexpr char kProvider[] = "contoso";
inline constexpr char kReseller[] = "fabrikam";
inline constexpr char kDirect[] = "adatum";
inline constexpr char kStranger[] = "northwind";

// Directories.
inline constexpr Guid kProviderDir = TestGuid(0xd0, 1);
inline constexpr Guid kResellerDir = TestGuid(0xd0, 2);
inline constexpr Guid kDirectDir = TestGuid(0xd0, 3);
inline constexpr Guid kStrangerDir = TestGuid(0xd0, 4);
inline constexpr Guid kTenantA = TestGuid(0xd0, 0xa);  // fabrikam's customer
inline constexpr Guid kTenantB = TestGuid(0xd0, 0xb);  // fabrikam's customer
inline constexpr Guid kTenantC = TestGuid(0xd0, 0xc);  // adatum's customer
inline constexpr Guid kTenantS = TestGuid(0xd0, 0x5);  // northwind's customer
inline constexpr Guid kPaygDir = TestGuid(0xd0, 0x9);

// Subscriptions.
inline constexpr Guid kProviderApss = TestGuid(0x50, 1);  // APSS, contoso
inline constexpr Guid kResellerCsp = TestGuid(0x50, 2);   // CSP, fabrikam's own directory
inline constexpr Guid kDirectApss = TestGuid(0x50, 3);    // APSS, adatum
inline constexpr Guid kCspA = TestGuid(0x50, 0xa);        // CSP, tenant A, fabrikam
inline constexpr Guid kCspA2 = TestGuid(0x50, 0xa2);      // CSP, tenant A, fabrikam
inline constexpr Guid kCspB = TestGuid(0x50, 0xb);        // CSP, tenant B, fabrikam
inline constexpr Guid kCspC = TestGuid(0x50, 0xc);        // CSP, tenant C, adatum
inline constexpr Guid kCspS = TestGuid(0x50, 0x5);        // CSP, tenant S, northwind
inline constexpr Guid kPayg = TestGuid(0x50, 0x9);        // PayAsYouGo, no partner

// Stacks.
inline constexpr Guid kCloud1 = TestGuid(0xc1, 1);
inline constexpr Guid kCloud2 = TestGuid(0xc1, 2);

// Principals.
inline constexpr Guid kAdminPrincipal = TestGuid(0xa0, 1);
inline constexpr Guid kSomePrincipal = TestGuid(0xa0, 2);
}  // namespace world

inline RegistrationName RegName(Guid default_subscription, std::string name = "reg1",
                                std::string resource_group = "rg1") {
  RegistrationName n;
  n.subscription_id = default_subscription;
  n.resource_group = std::move(resource_group);
  n.name = std::move(name);
  return n;
}

// One registration version: PayAsYouUse, multi-tenant, usage reporting on.
inline Registration RegVersion(const RegistrationName& name, Guid cloud_id, Timestamp from,
                               std::optional<Timestamp> to = std::nullopt) {
  Registration r;
  r.name = name;
  r.cloud_id = cloud_id;
  r.object_id = TestGuid(0x0b, 1);
  r.billing_model = BillingModel::kPayAsYouUse;
  r.multi_tenant = true;
  r.usage_reporting_enabled = true;
  r.valid.from = from;
  r.valid.to = to;
  return r;
}

class HistoryBuilder {
 public:
  HistoryBuilder& AddPartner(const PartnerId& id, PartnerKind kind) {
    Partner p;
    p.id = id;
    p.name = id;
    p.kind = kind;
    p.billing_currency = "USD";
    history_.partners.push_back(std::move(p));
    return *this;
  }

  HistoryBuilder& AddParentLink(const PartnerId& partner, std::optional<PartnerId> parent,
                                Timestamp from, std::optional<Timestamp> to = std::nullopt) {
    PartnerParentLink l;
    l.partner_id = partner;
    l.parent_partner_id = std::move(parent);
    l.valid.from = from;
    l.valid.to = to;
    history_.partner_parents.push_back(std::move(l));
    return *this;
  }

  HistoryBuilder& AddSubscription(Guid id, OfferType offer, Guid directory,
                                  std::optional<PartnerId> partner = std::nullopt) {
    Subscription s;
    s.id = id;
    s.offer_type = offer;
    s.directory_id = directory;
    s.partner_id = std::move(partner);
    if (IsDirectBilled(offer)) s.billing_currency = "USD";
    s.display_name = id.ToString();
    history_.subscriptions.push_back(std::move(s));
    return *this;
  }

  HistoryBuilder& AddOwnership(Guid subscription, std::optional<PartnerId> partner, Timestamp from,
                               std::optional<Timestamp> to = std::nullopt) {
    SubscriptionOwnership o;
    o.subscription_id = subscription;
    o.partner_id = std::move(partner);
    o.valid.from = from;
    o.valid.to = to;
    history_.subscription_owners.push_back(std::move(o));
    return *this;
  }

  HistoryBuilder& AddApproval(Guid cloud_id, BillingModel model,
                              std::optional<std::string> agreement_number = std::nullopt,
                              std::optional<std::string> ms_asset_tag = std::nullopt) {
    BillingModelApproval a;
    a.cloud_id = cloud_id;
    a.billing_model = model;
    a.agreement_number = std::move(agreement_number);
    a.ms_asset_tag = std::move(ms_asset_tag);
    history_.approvals.push_back(std::move(a));
    return *this;
  }

  HistoryBuilder& AddRegistration(Registration r) {
    history_.registrations.push_back(std::move(r));
    return *this;
  }

  HistoryBuilder& AddCustomerSubscription(const RegistrationName& registration, Guid cloud_id,
                                          Guid customer_subscription, Guid tenant, Timestamp from,
                                          std::optional<Timestamp> to = std::nullopt) {
    CustomerSubscription c;
    c.registration = registration;
    c.cloud_id = cloud_id;
    c.customer_subscription_id = customer_subscription;
    c.tenant_id = tenant;
    c.valid.from = from;
    c.valid.to = to;
    history_.customer_subscriptions.push_back(std::move(c));
    return *this;
  }

  HistoryBuilder& AddSubscriber(Guid cloud_id, Guid local_subscription, Guid tenant, Timestamp from,
                                std::optional<Timestamp> to = std::nullopt) {
    StackSubscriber s;
    s.cloud_id = cloud_id;
    s.local_subscription_id = local_subscription;
    s.tenant_id = tenant;
    s.valid.from = from;
    s.valid.to = to;
    history_.stack_subscribers.push_back(std::move(s));
    return *this;
  }

  History& history() { return history_; }
  History Build() const { return history_; }

 private:
  History history_;
};

// The standard world without stacks: partners, parent links since the epoch,
// and the subscriptions listed in `world`.
inline HistoryBuilder StandardWorld() {
  using namespace world;
  HistoryBuilder b;
  b.AddPartner(kProvider, PartnerKind::kIndirectProvider)
      .AddPartner(kReseller, PartnerKind::kIndirectReseller)
      .AddPartner(kDirect, PartnerKind::kDirect)
      .AddPartner(kStranger, PartnerKind::kDirect)
      .AddParentLink(kReseller, PartnerId(kProvider), Timestamp())
      .AddSubscription(kProviderApss, OfferType::kApss, kProviderDir, kProvider)
      .AddSubscription(kResellerCsp, OfferType::kCsp, kResellerDir, kReseller)
      .AddSubscription(kDirectApss, OfferType::kApss, kDirectDir, kDirect)
      .AddSubscription(kCspA, OfferType::kCsp, kTenantA, kReseller)
      .AddSubscription(kCspA2, OfferType::kCsp, kTenantA, kReseller)
      .AddSubscription(kCspB, OfferType::kCsp, kTenantB, kReseller)
      .AddSubscription(kCspC, OfferType::kCsp, kTenantC, kDirect)
      .AddSubscription(kCspS, OfferType::kCsp, kTenantS, kStranger)
      .AddSubscription(kPayg, OfferType::kPayAsYouGo, kPaygDir);
  return b;
}

// Callers holding one role.
inline Caller CallerWithRole(Role role, std::string scope, Guid directory,
                             Guid principal = world::kSomePrincipal) {
  Caller c;
  c.principal_id = principal;
  c.directory_id = directory;
  RoleAssignment a;
  a.id = "ra-1";
  a.principal_id = principal;
  a.role = role;
  a.scope = std::move(scope);
  c.roles.push_back(std::move(a));
  return c;
}
inline Caller PlatformAdmin() {
  return CallerWithRole(Role::kPlatformAdmin, "/", TestGuid(0xd0, 0xff), world::kAdminPrincipal);
}
inline Caller PartnerAdminOf(const PartnerId& partner, Guid directory) {
  return CallerWithRole(Role::kPartnerAdmin, "/partners/" + partner, directory);
}
inline Caller OwnerOf(Guid subscription, Guid directory) {
  return CallerWithRole(Role::kOwner, "/subscriptions/" + subscription.ToString(), directory);
}
inline Caller ReaderOf(Guid subscription, Guid directory) {
  return CallerWithRole(Role::kReader, "/subscriptions/" + subscription.ToString(), directory);
}

}  // namespace stackbill::testing
