#pragma once

// The registration rules of SPEC §2 (R1–R9) as pure checks over a HistoryView.
// Each check returns OK or the first failure with SPEC's product error code
// (ErrorCode(status)) and a canonical status code. Routing (R7, R13) lives in
// routing.h, access in access.h.
//
// Status codes chosen for SPEC's HTTP statuses (the HTTP layer maps back):
//   400  InvalidArgument     InvalidCustomerSubscriptionId, InvalidCSPSubscription,
//                            TenantMismatch, InvalidRegistrationToken,
//                            InvalidEffectiveFrom, InvalidEffectiveTo
//   401  Unauthenticated     (the HTTP layer's; nothing in core returns it)
//   403  PermissionDenied    AuthorizationFailed, BadCustomerSubscriptionId,
//                            BillingModelNotApproved, UsageReportingDisabled,
//                            BillingDataNotVisible
//   404  NotFound            SubscriptionNotFound, ResourceNotFound (registration)
//   409  AlreadyExists       CloudAlreadyRegistered, RegistrationCloudMismatch
//                            (something already holds the claim)
//   409  FailedPrecondition  UnauthorizedCspRegistration,
//                            CustomerSubscriptionsNotAllowed (the registration's
//                            state forbids the request)
//
// "now" is always a parameter; nothing here reads the clock.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/time.h"

namespace stackbill {

// R1: only CSP and APSS subscriptions can be the default subscription of a
// multi-tenant stack.
bool CanRegisterMultiTenant(OfferType offer);

// R5: may `registration` (whose default subscription is `default_subscription`)
// take customer subscriptions? FailedPrecondition / "UnauthorizedCspRegistration"
// ("registration is not approved to use multi-tenancy") unless the default
// subscription is CSP or APSS (R1) and the stack registered as multi-tenant;
// then FailedPrecondition / "CustomerSubscriptionsNotAllowed" for Capacity.
// Routing uses the same check: a registration that fails it routes every
// tenant to its default subscription.
absl::Status CheckCustomerSubscriptionsAllowed(const Subscription& default_subscription,
                                               const Registration& registration);

// R2: the registrant must be an Owner of `subscription_id`, a PartnerAdmin
// over it, or a PlatformAdmin. The caller's directory is never compared with
// the stack's deployment directory. Codes of CheckSubscriptionAccess(kWrite):
// NotFound / "SubscriptionNotFound", PermissionDenied / "AuthorizationFailed".
absl::Status CheckRegistrant(const Caller& caller, const HistoryView& view, Guid subscription_id,
                             Timestamp now);

enum class RegistrationPutKind { kCreate, kUpdate };

// R3: may registration `name` claim `cloud_id` at `now`? kUpdate when `name`
// is in force with the same cloudId (a re-PUT), kCreate when `name` is not in
// force and no other registration holds `cloud_id`. AlreadyExists /
// "RegistrationCloudMismatch" when `name` is in force with another cloudId;
// AlreadyExists / "CloudAlreadyRegistered" ("Cloud identifier {id} is already
// registered") when another registration holds `cloud_id`. A DELETE ends the
// claim; a PlatformAdmin's release of a claim is such a DELETE.
absl::StatusOr<RegistrationPutKind> CheckCloudClaim(const HistoryView& view,
                                                    const RegistrationName& name, Guid cloud_id,
                                                    Timestamp now);

// R4: the default subscription is the one the registration is created under.
inline Guid DefaultSubscriptionOf(const Registration& registration) {
  return registration.name.subscription_id;
}

// R4: customer subscriptions are added only to an existing registration: the
// version of `name` in force at `now`, else NotFound / "ResourceNotFound".
absl::StatusOr<const Registration*> FindRegistrationInForce(const HistoryView& view,
                                                            const RegistrationName& name,
                                                            Timestamp now);

// R6, in the order written: `customer_subscription_id` is the lower-case GUID
// text of an existing subscription (else InvalidArgument /
// "InvalidCustomerSubscriptionId"), of type CSP (else InvalidArgument /
// "InvalidCSPSubscription"), whose roll-up chain at `now` contains the owner
// partner of `default_subscription` (else PermissionDenied /
// "BadCustomerSubscriptionId"), and `tenant_id` is that subscription's
// directory (else InvalidArgument / "TenantMismatch"). Returns the parsed id.
absl::StatusOr<Guid> CheckCustomerSubscription(const HistoryView& view,
                                               const Subscription& default_subscription,
                                               std::string_view customer_subscription_id,
                                               Guid tenant_id, Timestamp now);

// The versions a customer-subscription PUT or DELETE writes. `ended` holds
// existing versions with their new validity; `valid.from` is unchanged, so
// (registration, tenant, customer subscription, valid.from) identifies the
// stored row to update. A version cut before it began ends at its own start
// (an empty interval: kept, covering nothing). `started` is the new version.
struct CustomerSubscriptionChange {
  std::vector<CustomerSubscription> ended;
  std::optional<CustomerSubscription> started;
  bool IsNoop() const { return ended.empty() && !started; }
};

// R6's replacement semantics for a PUT of `requested` (its valid.from is the
// moment it takes effect: now, or a PlatformAdmin's effectiveFrom; valid.to
// empty). One tenant maps to at most one customer subscription per
// registration, and one customer subscription to one tenant: every version of
// the registration for the same tenant or the same customer subscription that
// extends past valid.from ends there. Re-PUT of a mapping already in force
// since valid.from or earlier changes nothing.
CustomerSubscriptionChange PlanCustomerSubscriptionPut(const HistoryView& view,
                                                       const CustomerSubscription& requested);

// A DELETE of customer subscription `customer_subscription_id` of
// `registration` taking effect at `effective_to` (now, or a PlatformAdmin's
// effectiveTo): every version of it extending past `effective_to` ends there.
// No-op when there is none (the API's 204).
CustomerSubscriptionChange PlanCustomerSubscriptionDelete(const HistoryView& view,
                                                          const RegistrationName& registration,
                                                          Guid customer_subscription_id,
                                                          Timestamp effective_to);

// R8: the bill-to party of usage charged to `subscription_id` at t: the
// subscription itself for direct-billed offers, else the top of its roll-up
// chain (the direct partner or the indirect provider). Codes of
// HistoryView::TopOfChain.
absl::StatusOr<BillTo> BillToAt(const HistoryView& view, Guid subscription_id, Timestamp t);

// R8: may the caller see charges, prices, invoices and Commerce usage of
// `subscription_id`? PlatformAdmins and PartnerAdmins over it may. For a CSP
// subscription, principals of its directory (the customer's) get
// PermissionDenied / "BillingDataNotVisible" even as Owners, as do Owners and
// Readers from other directories; for other offers, Owners and Readers may.
// NotFound / "SubscriptionNotFound" when the caller reaches nothing.
absl::Status CheckBillingDataVisible(const Caller& caller, const HistoryView& view,
                                     Guid subscription_id, Timestamp now);

// R9 / SPEC §3.1: Azure Stack's default for usageReportingEnabled when the
// token omits it (Capacity and Custom false, others true).
bool DefaultUsageReportingEnabled(BillingModel model);

// R9: Development and Ruggedized usage is reported and rated at zero.
bool IsZeroRated(BillingModel model);

// R9: Capacity needs an agreement number, Custom an asset tag (non-empty).
// InvalidArgument / "InvalidRegistrationToken" naming the missing field.
absl::Status CheckBillingModelTerms(BillingModel model,
                                    const std::optional<std::string>& agreement_number,
                                    const std::optional<std::string>& ms_asset_tag);

// R9: any model other than PayAsYouUse needs the PlatformAdmin's approval of
// that model for `cloud_id`; when the approval names an agreement number or
// asset tag, the token's must equal it. PermissionDenied /
// "BillingModelNotApproved" otherwise.
absl::Status CheckBillingModelApproved(const HistoryView& view, Guid cloud_id, BillingModel model,
                                       const std::optional<std::string>& agreement_number,
                                       const std::optional<std::string>& ms_asset_tag);

// R9: a stack whose usage reporting is off may not forward usage.
// PermissionDenied / "UsageReportingDisabled".
absl::Status CheckUsageReportingEnabled(const Registration& registration);

// The terms a registration token carries (SPEC §3.1), as decoded.
struct RegistrationTerms {
  Guid cloud_id;
  Guid object_id;
  BillingModel billing_model = BillingModel::kPayAsYouUse;
  bool multi_tenant = false;
  std::optional<bool> usage_reporting_enabled;  // absent: DefaultUsageReportingEnabled
  std::optional<std::string> agreement_number;
  std::optional<std::string> ms_asset_tag;
};

// The registration version a PUT of `terms` under `name` writes, valid from
// `from`, with R9's default for usage reporting applied.
Registration MakeRegistrationVersion(const RegistrationName& name, const RegistrationTerms& terms,
                                     Timestamp from);

// Registration PUT, after request shape, api-version and token syntax: the
// billing-model terms (400), R2 (404/403), R9 approval (403), R3 (409). Returns
// the first failure, or whether the PUT creates or updates.
absl::StatusOr<RegistrationPutKind> CheckRegistrationPut(const Caller& caller,
                                                         const HistoryView& view,
                                                         const RegistrationName& name,
                                                         const RegistrationTerms& terms,
                                                         Timestamp now);

// A customer-subscription PUT as received.
struct CustomerSubscriptionPut {
  RegistrationName registration;
  std::string customer_subscription_id;  // the path segment, as sent
  Guid tenant_id;
  std::optional<Timestamp> effective_from;  // PlatformAdmin extension (SPEC §3)
  Timestamp open_periods_start;             // start of the earliest open billing period
};

// Customer-subscription PUT, after request shape and api-version:
// effectiveFrom inside an open period and not after `now` (400
// "InvalidEffectiveFrom"); access to the default subscription (R2's roles:
// 404/403); effectiveFrom only from a PlatformAdmin (403
// "AuthorizationFailed"); the registration in force (R4, 404); R5 (409); R6 in
// order (400/403/400). Returns the version to write (valid from effectiveFrom
// or `now`), for PlanCustomerSubscriptionPut.
absl::StatusOr<CustomerSubscription> CheckCustomerSubscriptionPut(
    const Caller& caller, const HistoryView& view, const CustomerSubscriptionPut& request,
    Timestamp now);

// Customer-subscription DELETE: effectiveTo as effectiveFrom above (400
// "InvalidEffectiveTo"), access
// (404/403), PlatformAdmin for effectiveTo (403), the registration in force
// (404). Returns the moment the deletion takes effect (effectiveTo or `now`),
// for PlanCustomerSubscriptionDelete.
absl::StatusOr<Timestamp> CheckCustomerSubscriptionDelete(
    const Caller& caller, const HistoryView& view, const RegistrationName& registration,
    std::optional<Timestamp> effective_to, Timestamp open_periods_start, Timestamp now);

}  // namespace stackbill
