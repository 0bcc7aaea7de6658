#include "core/routing.h"

#include "absl/strings/str_cat.h"
#include "core/error.h"
#include "core/rules.h"

namespace stackbill {

absl::StatusOr<const Registration*> RegistrationForUsage(const HistoryView& view, Guid cloud_id,
                                                         Timestamp usage_start) {
  if (const Registration* r = view.RegistrationAt(cloud_id, usage_start)) return r;
  // R7: the registration covers all usage its stack forwards, including usage
  // dated before it was created.
  const Registration* first = view.FirstRegistration(cloud_id);
  if (first != nullptr && usage_start < first->valid.from) return first;
  // SPEC §4: after a registration's DELETE, records dated later are refused.
  return FailedPreconditionError(
      "StackNotRegistered", absl::StrCat("cloud ", cloud_id.ToString(),
                                         ": no registration in force at ", usage_start.ToString()));
}

absl::StatusOr<Guid> ResolveTenant(const HistoryView& view, Guid cloud_id,
                                   Guid local_subscription_id, std::optional<Guid> record_tenant,
                                   Timestamp usage_start) {
  const std::optional<Guid> mapped =
      view.SubscriberTenantAt(cloud_id, local_subscription_id, usage_start);
  if (record_tenant && mapped && *record_tenant != *mapped) {
    return InvalidArgumentError(
        "SubscriberTenantMismatch",
        absl::StrCat("local subscription ", local_subscription_id.ToString(), " on cloud ",
                     cloud_id.ToString(), " belongs to tenant ", mapped->ToString(), ", not ",
                     record_tenant->ToString()));
  }
  if (record_tenant) return *record_tenant;
  if (mapped) return *mapped;
  return FailedPreconditionError(
      "UnknownTenant",
      absl::StrCat("local subscription ", local_subscription_id.ToString(), " on cloud ",
                   cloud_id.ToString(), ": no tenantId and no stack subscriber mapping"));
}

absl::StatusOr<Routing> Route(const HistoryView& view, Guid cloud_id, Guid tenant_id,
                              Timestamp usage_start) {
  absl::StatusOr<const Registration*> found = RegistrationForUsage(view, cloud_id, usage_start);
  if (!found.ok()) return found.status();
  const Registration& registration = **found;
  const Guid default_id = DefaultSubscriptionOf(registration);
  const Subscription* default_subscription = view.FindSubscription(default_id);
  if (default_subscription == nullptr) {
    return NotFoundError("SubscriptionNotFound",
                         absl::StrCat("default subscription ", default_id.ToString(),
                                      " of registration ", registration.name.name, " not found"));
  }

  Routing routing;
  routing.billed_subscription_id = default_id;
  // R5 is judged on the registration version that covers the record, so a
  // registration later made single-tenant or Capacity stops routing to its
  // customer subscriptions from that moment.
  const bool multi_tenant =
      CheckCustomerSubscriptionsAllowed(*default_subscription, registration).ok();
  const CustomerSubscription* customer =
      multi_tenant ? view.CustomerSubscriptionAt(registration, tenant_id, usage_start) : nullptr;
  if (customer != nullptr) {
    // R7: the customer subscription in force at usageStartTime.
    routing.billed_subscription_id = customer->customer_subscription_id;
    routing.reason = RoutingReason::kRegisteredCustomer;
  } else if (usage_start < registration.valid.from) {
    routing.reason = RoutingReason::kDefaultBeforeRegistration;
  } else if (!multi_tenant) {
    routing.reason = RoutingReason::kDefaultNotMultiTenant;
  } else {
    routing.reason = RoutingReason::kDefaultUnregisteredTenant;
  }
  // R9: zero-rated models still say which subscription the usage belongs to.
  if (IsZeroRated(registration.billing_model)) {
    routing.reason = RoutingReason::kZeroRatedBillingModel;
  }

  absl::StatusOr<BillTo> bill_to = BillToAt(view, routing.billed_subscription_id, usage_start);
  if (!bill_to.ok()) return bill_to.status();
  routing.bill_to = *std::move(bill_to);
  return routing;
}

}  // namespace stackbill
