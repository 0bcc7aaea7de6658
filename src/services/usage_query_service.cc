#include "services/usage_query_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/error.h"
#include "core/status_macros.h"

namespace stackbill {

UsageQueryService::UsageQueryService(Store& store)
    : store_(store), history_(store, std::chrono::milliseconds(1000)) {}

absl::StatusOr<std::vector<UsageAggregate>> UsageQueryService::QueryUsage(
    const Caller& caller, UsageAggregateFilter filter, Timestamp now) {
  if (IsPlatformAdmin(caller)) return store_.usage().AggregateUsage(filter);
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  const HistoryView& view = snapshot->view;
  std::vector<Guid> visible;
  for (const Subscription& s : snapshot->history.subscriptions) {
    if (IsPartnerAdminOverSubscription(caller, view, s.id, now)) visible.push_back(s.id);
  }
  const bool partner_admin =
      std::any_of(caller.roles.begin(), caller.roles.end(),
                  [](const RoleAssignment& r) { return r.role == Role::kPartnerAdmin; });
  if (!partner_admin) {
    return PermissionDeniedError("AuthorizationFailed",
                                 "usage queries need a PartnerAdmin or a PlatformAdmin");
  }
  if (filter.billed_subscription_ids) {
    for (const Guid& wanted : *filter.billed_subscription_ids) {
      if (std::find(visible.begin(), visible.end(), wanted) == visible.end()) {
        return NotFoundError("SubscriptionNotFound",
                             absl::StrCat("subscription ", wanted.ToString(), " not found"));
      }
    }
  } else {
    filter.billed_subscription_ids = std::move(visible);
  }
  return store_.usage().AggregateUsage(filter);
}

absl::StatusOr<std::vector<UsageAggregate>> UsageQueryService::SubscriptionUsage(
    const Caller& caller, Guid subscription_id, UsageAggregateFilter filter, Timestamp now) {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  STACKBILL_RETURN_IF_ERROR(CheckBillingDataAccess(caller, snapshot->view, subscription_id, now));
  filter.billed_subscription_ids = std::vector<Guid>{subscription_id};
  return store_.usage().AggregateUsage(filter);
}

absl::StatusOr<std::vector<UsageAggregate>> UsageQueryService::ProviderUsage(
    const Caller& caller, Guid default_subscription_id, UsageAggregateFilter filter,
    Timestamp now) {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             history_.Current(false));
  const HistoryView& view = snapshot->view;
  STACKBILL_RETURN_IF_ERROR(
      CheckSubscriptionAccess(caller, view, default_subscription_id, AccessKind::kRead, now));
  // Stacks with a registration (any version) under the subscription.
  std::vector<Guid> stacks;
  for (const Stack& stack : snapshot->history.stacks) {
    for (const Registration* r : view.RegistrationVersions(stack.cloud_id)) {
      if (r->name.subscription_id == default_subscription_id) {
        stacks.push_back(stack.cloud_id);
        break;
      }
    }
  }
  filter.billed_subscription_ids.reset();
  filter.cloud_ids = std::move(stacks);
  return store_.usage().AggregateUsage(filter);
}

absl::StatusOr<std::shared_ptr<const std::vector<Meter>>> UsageQueryService::Meters() {
  STACKBILL_ASSIGN_OR_RETURN(std::vector<Meter> meters, store_.meters().ListMeters());
  return std::make_shared<const std::vector<Meter>>(std::move(meters));
}

}  // namespace stackbill
