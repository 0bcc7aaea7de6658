#pragma once

// UsageQueryService: the read side of usage (SPEC §7) with its visibility
// rules (SPEC §6 read access, R8). Every call authorises the caller against
// the current history, so each page of a paged answer is authorised again.
// Answers come from the store's rollups (UsageStore::AggregateUsage), never
// from a scan of raw records. Thread-safe.

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/entities.h"
#include "services/history_cache.h"
#include "store/store.h"

namespace stackbill {

class UsageQueryService {
 public:
  explicit UsageQueryService(Store& store);

  // GET /v1/usage: PlatformAdmins see every subscription's usage;
  // PartnerAdmins the subscriptions whose roll-up chain holds their partner
  // (`filter.billed_subscription_ids`, when given, must be among them: else
  // NotFound / "SubscriptionNotFound"). Anyone else: PermissionDenied /
  // "AuthorizationFailed".
  absl::StatusOr<std::vector<UsageAggregate>> QueryUsage(const Caller& caller,
                                                         UsageAggregateFilter filter,
                                                         Timestamp now);

  // Commerce UsageAggregates of one subscription: CheckBillingDataAccess
  // (R8), then its usage (filter's subscriptions are replaced by it).
  absl::StatusOr<std::vector<UsageAggregate>> SubscriptionUsage(const Caller& caller,
                                                                Guid subscription_id,
                                                                UsageAggregateFilter filter,
                                                                Timestamp now);

  // The provider usage API (subscriberUsageAggregates): the raw usage of the
  // stacks registered under `default_subscription_id`, whoever it is billed
  // to, for the stack operator — Owners and Readers of that subscription —,
  // the partners over it and PlatformAdmins (CheckSubscriptionAccess, read).
  // The filter's stacks are replaced by those stacks.
  absl::StatusOr<std::vector<UsageAggregate>> ProviderUsage(const Caller& caller,
                                                            Guid default_subscription_id,
                                                            UsageAggregateFilter filter,
                                                            Timestamp now);

  // The meters usage is reported with, by id (names, categories, units).
  absl::StatusOr<std::shared_ptr<const std::vector<Meter>>> Meters();

 private:
  Store& store_;
  HistoryCache history_;
};

}  // namespace stackbill
