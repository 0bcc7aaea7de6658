#pragma once

// Routing of usage records (R7, R8, R9, R13): which subscription one record is
// charged to, who is billed for it, and why. A pure function of the
// effective-dated history and the record's usageStartTime, never of arrival
// order, node or clock (R13).

#include <optional>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/time.h"

namespace stackbill {

// The registration that covers usage of `cloud_id` dated `usage_start` (R7):
// the version in force then; when `usage_start` precedes the cloud's first
// registration version, that first version (a registration covers all usage
// its stack forwards, whatever the usage time). FailedPrecondition /
// "StackNotRegistered" when the cloud was never registered, or when
// `usage_start` falls after a registration's DELETE and no later version is in
// force (the record is quarantined until a registration covers it).
absl::StatusOr<const Registration*> RegistrationForUsage(const HistoryView& view, Guid cloud_id,
                                                         Timestamp usage_start);

// The tenant of a record (SPEC §4): the stack subscriber mapping of
// (`cloud_id`, `local_subscription_id`) in force at `usage_start`
// (HistoryView::SubscriberTenantAt) checked against the record's own
// `record_tenant`. Returns the record's tenant when present and consistent,
// else the mapped one. FailedPrecondition / "UnknownTenant" when neither is
// known; InvalidArgument / "SubscriberTenantMismatch" when they differ.
absl::StatusOr<Guid> ResolveTenant(const HistoryView& view, Guid cloud_id,
                                   Guid local_subscription_id, std::optional<Guid> record_tenant,
                                   Timestamp usage_start);

// Routes one record of `tenant_id` on `cloud_id` dated `usage_start`:
//  - the registration is RegistrationForUsage (codes as there);
//  - when the registration takes customer subscriptions (R5:
//    CheckCustomerSubscriptionsAllowed) and one of its customer subscriptions
//    is in force for the tenant at `usage_start`, that one (RegisteredCustomer);
//  - otherwise the registration's default subscription (R4), with reason
//    DefaultBeforeRegistration when `usage_start` precedes the registration,
//    else DefaultNotMultiTenant when R5 fails, else DefaultUnregisteredTenant;
//  - Development and Ruggedized registrations (R9) keep the billed subscription
//    so chosen and take reason ZeroRatedBillingModel;
//  - bill_to is BillToAt(billed subscription, usage_start) (R8).
// NotFound / "SubscriptionNotFound" when the default or customer subscription
// is missing from history; the codes of BillToAt otherwise.
absl::StatusOr<Routing> Route(const HistoryView& view, Guid cloud_id, Guid tenant_id,
                              Timestamp usage_start);

}  // namespace stackbill
