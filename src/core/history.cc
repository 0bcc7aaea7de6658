#include "core/history.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/abseil_compat.h"
#include "core/error.h"

namespace stackbill {
namespace {

template <typename T>
void SortByStart(std::vector<const T*>& versions) {
  std::stable_sort(versions.begin(), versions.end(),
                   [](const T* a, const T* b) { return a->valid.from < b->valid.from; });
}

template <typename Map>
void SortAll(Map& map) {
  for (auto& [key, versions] : map) SortByStart(versions);
}

// Versions are sorted by start, so the first hit from the back is the version
// in force that started last (the deterministic choice among overlaps).
template <typename T>
const T* InForce(std::span<const T* const> versions, Timestamp t) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if ((*it)->valid.Contains(t)) return *it;
  }
  return nullptr;
}

template <typename T>
const T* InForceOrEarliest(std::span<const T* const> versions, Timestamp t) {
  if (const T* v = InForce(versions, t)) return v;
  if (!versions.empty() && t < versions.front()->valid.from) return versions.front();
  return nullptr;
}

template <typename Map, typename Key>
auto VersionsOf(const Map& map, const Key& key)
    -> std::span<const typename Map::mapped_type::value_type> {
  auto it = map.find(key);
  if (it == map.end()) return {};
  return it->second;
}

template <typename Map, typename Key>
auto FindIn(const Map& map, const Key& key) -> typename Map::mapped_type {
  auto it = map.find(key);
  return it == map.end() ? nullptr : it->second;
}

}  // namespace

HistoryView::HistoryView(const History& history) : history_(&history) {
  for (const Partner& p : history.partners) partners_[p.id] = &p;
  for (const Subscription& s : history.subscriptions) subscriptions_[s.id] = &s;
  for (const Stack& s : history.stacks) stacks_[s.cloud_id] = &s;
  for (const BillingModelApproval& a : history.approvals) approvals_[a.cloud_id] = &a;
  for (const PartnerParentLink& l : history.partner_parents) parents_[l.partner_id].push_back(&l);
  for (const SubscriptionOwnership& o : history.subscription_owners) {
    owners_[o.subscription_id].push_back(&o);
  }
  for (const Registration& r : history.registrations) {
    registrations_by_cloud_[r.cloud_id].push_back(&r);
    registrations_by_name_[r.name.Key()].push_back(&r);
  }
  for (const CustomerSubscription& c : history.customer_subscriptions) {
    customers_by_tenant_[GuidPair(c.cloud_id, c.tenant_id)].push_back(&c);
    customers_by_registration_[c.registration.Key()].push_back(&c);
  }
  for (const StackSubscriber& s : history.stack_subscribers) {
    subscribers_[GuidPair(s.cloud_id, s.local_subscription_id)].push_back(&s);
  }
  SortAll(parents_);
  SortAll(owners_);
  SortAll(registrations_by_cloud_);
  SortAll(registrations_by_name_);
  SortAll(customers_by_tenant_);
  SortAll(customers_by_registration_);
  SortAll(subscribers_);
}

const Partner* HistoryView::FindPartner(std::string_view partner_id) const {
  auto it = partners_.find(AbslView(partner_id));
  return it == partners_.end() ? nullptr : it->second;
}

const Subscription* HistoryView::FindSubscription(Guid subscription_id) const {
  return FindIn(subscriptions_, subscription_id);
}

const Stack* HistoryView::FindStack(Guid cloud_id) const { return FindIn(stacks_, cloud_id); }

const BillingModelApproval* HistoryView::FindApproval(Guid cloud_id) const {
  return FindIn(approvals_, cloud_id);
}

std::optional<PartnerId> HistoryView::OwnerPartnerAt(Guid subscription_id, Timestamp t) const {
  const Subscription* subscription = FindSubscription(subscription_id);
  if (subscription == nullptr) return std::nullopt;
  if (const SubscriptionOwnership* o = InForceOrEarliest(VersionsOf(owners_, subscription_id), t)) {
    return o->partner_id;
  }
  return subscription->partner_id;
}

std::optional<PartnerId> HistoryView::ParentAt(std::string_view partner_id, Timestamp t) const {
  auto it = parents_.find(AbslView(partner_id));
  if (it == parents_.end()) return std::nullopt;
  const PartnerParentLink* link =
      InForceOrEarliest(std::span<const PartnerParentLink* const>(it->second), t);
  if (link == nullptr) return std::nullopt;
  return link->parent_partner_id;
}

absl::StatusOr<std::vector<PartnerId>> HistoryView::PartnerChainAt(const PartnerId& partner_id,
                                                                   Timestamp t) const {
  std::vector<PartnerId> chain{partner_id};
  for (std::optional<PartnerId> parent = ParentAt(partner_id, t); parent;
       parent = ParentAt(*parent, t)) {
    if (std::find(chain.begin(), chain.end(), *parent) != chain.end()) {
      return FailedPreconditionError(
          "PartnerCycle", absl::StrCat("partner ", partner_id, ": roll-up chain at ", t.ToString(),
                                       " loops back to partner ", *parent));
    }
    chain.push_back(*parent);
  }
  return chain;
}

absl::StatusOr<std::vector<PartnerId>> HistoryView::RollUpChain(Guid subscription_id,
                                                                Timestamp t) const {
  if (FindSubscription(subscription_id) == nullptr) {
    return NotFoundError("SubscriptionNotFound",
                         absl::StrCat("subscription ", subscription_id.ToString(), " not found"));
  }
  std::optional<PartnerId> owner = OwnerPartnerAt(subscription_id, t);
  if (!owner) return std::vector<PartnerId>();
  return PartnerChainAt(*owner, t);
}

absl::StatusOr<PartnerId> HistoryView::TopOfChain(Guid subscription_id, Timestamp t) const {
  absl::StatusOr<std::vector<PartnerId>> chain = RollUpChain(subscription_id, t);
  if (!chain.ok()) return chain.status();
  if (chain->empty()) {
    return FailedPreconditionError("NoOwnerPartner",
                                   absl::StrCat("subscription ", subscription_id.ToString(),
                                                ": no owner partner at ", t.ToString()));
  }
  return chain->back();
}

std::span<const Registration* const> HistoryView::RegistrationVersions(Guid cloud_id) const {
  return VersionsOf(registrations_by_cloud_, cloud_id);
}

const Registration* HistoryView::RegistrationAt(Guid cloud_id, Timestamp t) const {
  return InForce(RegistrationVersions(cloud_id), t);
}

const Registration* HistoryView::FirstRegistration(Guid cloud_id) const {
  std::span<const Registration* const> versions = RegistrationVersions(cloud_id);
  return versions.empty() ? nullptr : versions.front();
}

std::span<const Registration* const> HistoryView::RegistrationVersions(
    const RegistrationName& name) const {
  return VersionsOf(registrations_by_name_, name.Key());
}

const Registration* HistoryView::RegistrationAt(const RegistrationName& name, Timestamp t) const {
  return InForce(RegistrationVersions(name), t);
}

const CustomerSubscription* HistoryView::CustomerSubscriptionAt(Guid cloud_id, Guid tenant_id,
                                                                Timestamp t) const {
  return InForce(VersionsOf(customers_by_tenant_, GuidPair(cloud_id, tenant_id)), t);
}

const CustomerSubscription* HistoryView::CustomerSubscriptionAt(const Registration& registration,
                                                                Guid tenant_id, Timestamp t) const {
  std::span<const CustomerSubscription* const> versions =
      VersionsOf(customers_by_tenant_, GuidPair(registration.cloud_id, tenant_id));
  std::optional<std::string> key;  // built only when a version is in force: routing is hot
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (!(*it)->valid.Contains(t)) continue;
    if (!key) key = registration.name.Key();
    if ((*it)->registration.Key() == *key) return *it;
  }
  return nullptr;
}

std::span<const CustomerSubscription* const> HistoryView::CustomerSubscriptionVersions(
    const RegistrationName& registration) const {
  return VersionsOf(customers_by_registration_, registration.Key());
}

std::optional<Guid> HistoryView::SubscriberTenantAt(Guid cloud_id, Guid local_subscription_id,
                                                    Timestamp t) const {
  const StackSubscriber* s =
      InForceOrEarliest(VersionsOf(subscribers_, GuidPair(cloud_id, local_subscription_id)), t);
  if (s == nullptr) return std::nullopt;
  return s->tenant_id;
}

}  // namespace stackbill
