#pragma once

// History: every effective-dated fact that decides where usage goes and who is
// billed (SPEC §1), as loaded from the store. A plain aggregate; HistoryView
// (below) indexes it for the as-of look-ups that rules and routing make.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/entities.h"

namespace stackbill {

struct History {
  std::vector<Partner> partners;
  std::vector<PartnerParentLink> partner_parents;
  std::vector<Subscription> subscriptions;
  std::vector<SubscriptionOwnership> subscription_owners;
  std::vector<Stack> stacks;
  std::vector<BillingModelApproval> approvals;
  std::vector<Registration> registrations;
  std::vector<CustomerSubscription> customer_subscriptions;
  std::vector<StackSubscriber> stack_subscribers;
  // The store's history version when this snapshot was read (it changes with
  // every change of the facts above); 0 when unknown.
  std::int64_t version = 0;
};

// HistoryView: the as-of look-ups of SPEC §1 over one History. Every look-up
// that decides where usage goes or who is billed is made as of the record's
// usageStartTime, passed in as `t`.
//
// "In force at t" means the version whose half-open validity contains t. When
// versions of one key overlap (inconsistent data), the one that started last
// wins, so answers stay deterministic (R13). Some look-ups fall back to the
// earliest version when t precedes every version; each says so.
//
// Borrows `history`, which must outlive the view and must not change while it
// is in use; returned pointers point into it. Immutable once built, so const
// use from several threads is safe.
class HistoryView {
 public:
  explicit HistoryView(const History& history);

  const History& history() const { return *history_; }

  // Entities without versions; nullptr when unknown. When History holds the
  // same key twice, the later entry wins.
  const Partner* FindPartner(std::string_view partner_id) const;
  const Subscription* FindSubscription(Guid subscription_id) const;
  const Stack* FindStack(Guid cloud_id) const;
  // The PlatformAdmin's billing-model approval for `cloud_id` (R9); the later
  // entry wins.
  const BillingModelApproval* FindApproval(Guid cloud_id) const;

  // The owner partner of a subscription at t (SPEC §1: for CSP and APSS, the
  // partner on it): the ownership version in force at t; when t precedes every
  // version, the earliest; when no version is in force otherwise (or none is
  // recorded), Subscription::partner_id. Empty for unknown subscriptions and
  // subscriptions without a partner (direct-billed offers).
  std::optional<PartnerId> OwnerPartnerAt(Guid subscription_id, Timestamp t) const;

  // The parent of `partner_id` at t: the parent-link version in force at t;
  // when t precedes every version, the earliest; otherwise none.
  std::optional<PartnerId> ParentAt(std::string_view partner_id, Timestamp t) const;

  // `partner_id`, then its parent, and so on, at t. FailedPrecondition /
  // "PartnerCycle" when the chain loops.
  absl::StatusOr<std::vector<PartnerId>> PartnerChainAt(const PartnerId& partner_id,
                                                        Timestamp t) const;

  // The roll-up chain of a subscription at t: its owner partner, then that
  // partner's parents. Empty when the subscription has no owner partner.
  // NotFound / "SubscriptionNotFound" for an unknown subscription;
  // FailedPrecondition / "PartnerCycle" when the chain loops.
  absl::StatusOr<std::vector<PartnerId>> RollUpChain(Guid subscription_id, Timestamp t) const;

  // The last partner of RollUpChain (the CSP partner, R8). Codes as
  // RollUpChain, plus FailedPrecondition / "NoOwnerPartner" for an empty chain.
  absl::StatusOr<PartnerId> TopOfChain(Guid subscription_id, Timestamp t) const;

  // Every registration version of a cloud, by validity start.
  std::span<const Registration* const> RegistrationVersions(Guid cloud_id) const;
  // The registration version in force at t for `cloud_id`, or nullptr.
  const Registration* RegistrationAt(Guid cloud_id, Timestamp t) const;
  // The earliest registration version of `cloud_id`, or nullptr.
  const Registration* FirstRegistration(Guid cloud_id) const;
  // Every version of one registration resource (matched by name.Key()), by
  // validity start.
  std::span<const Registration* const> RegistrationVersions(const RegistrationName& name) const;
  // The version of the registration resource `name` in force at t, or nullptr.
  const Registration* RegistrationAt(const RegistrationName& name, Timestamp t) const;

  // The customer subscription in force at t for `tenant_id` on `cloud_id`,
  // under any registration; nullptr when none. Strict: a customer subscription
  // covers usage only inside its validity (R7).
  const CustomerSubscription* CustomerSubscriptionAt(Guid cloud_id, Guid tenant_id,
                                                     Timestamp t) const;
  // The same, restricted to the customer subscriptions of `registration`
  // (matched by registration.name.Key() and cloud id).
  const CustomerSubscription* CustomerSubscriptionAt(const Registration& registration,
                                                     Guid tenant_id, Timestamp t) const;
  // Every customer-subscription version of one registration resource, by
  // validity start.
  std::span<const CustomerSubscription* const> CustomerSubscriptionVersions(
      const RegistrationName& registration) const;

  // The tenant that owns stack-local subscription `local_subscription_id` on
  // `cloud_id` at t (SPEC §4): the version in force at t; when t precedes every
  // version, the earliest (a local subscription belongs to one directory from
  // its creation); otherwise none.
  std::optional<Guid> SubscriberTenantAt(Guid cloud_id, Guid local_subscription_id,
                                         Timestamp t) const;

 private:
  using GuidPair = std::pair<Guid, Guid>;

  const History* history_;
  absl::flat_hash_map<PartnerId, const Partner*> partners_;
  absl::flat_hash_map<Guid, const Subscription*> subscriptions_;
  absl::flat_hash_map<Guid, const Stack*> stacks_;
  absl::flat_hash_map<Guid, const BillingModelApproval*> approvals_;
  absl::flat_hash_map<PartnerId, std::vector<const PartnerParentLink*>> parents_;
  absl::flat_hash_map<Guid, std::vector<const SubscriptionOwnership*>> owners_;
  absl::flat_hash_map<Guid, std::vector<const Registration*>> registrations_by_cloud_;
  absl::flat_hash_map<std::string, std::vector<const Registration*>> registrations_by_name_;
  absl::flat_hash_map<GuidPair, std::vector<const CustomerSubscription*>> customers_by_tenant_;
  absl::flat_hash_map<std::string, std::vector<const CustomerSubscription*>>
      customers_by_registration_;
  absl::flat_hash_map<GuidPair, std::vector<const StackSubscriber*>> subscribers_;
};

}  // namespace stackbill
