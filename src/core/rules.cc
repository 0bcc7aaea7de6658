#include "core/rules.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/abseil_compat.h"
#include "core/error.h"

namespace stackbill {
namespace {

std::string RegistrationLabel(const RegistrationName& name) {
  return absl::StrCat("registration ", name.name);
}

// SPEC §3: effectiveFrom/effectiveTo lie inside an open billing period and not
// in the future.
absl::Status CheckCorrectionTime(std::string_view field, std::string_view error_code,
                                 std::optional<Timestamp> when, Timestamp open_periods_start,
                                 Timestamp now) {
  if (!when) return absl::OkStatus();
  if (*when > now) {
    return InvalidArgumentError(
        error_code, absl::StrCat(AbslView(field), " ", when->ToString(), " is in the future"));
  }
  if (*when < open_periods_start) {
    return InvalidArgumentError(error_code,
                                absl::StrCat(AbslView(field), " ", when->ToString(),
                                             " is in a closed billing period (open periods start ",
                                             open_periods_start.ToString(), ")"));
  }
  return absl::OkStatus();
}

bool ExtendsPast(const CustomerSubscription& version, Timestamp t) {
  return !version.valid.to || *version.valid.to > t;
}

CustomerSubscription EndedAt(const CustomerSubscription& version, Timestamp t) {
  CustomerSubscription ended = version;
  ended.valid.to = std::max(version.valid.from, t);
  return ended;
}

}  // namespace

bool CanRegisterMultiTenant(OfferType offer) {
  return offer == OfferType::kCsp || offer == OfferType::kApss;
}

absl::Status CheckCustomerSubscriptionsAllowed(const Subscription& default_subscription,
                                               const Registration& registration) {
  // R5 (with R1): both the default subscription's offer and the stack's own
  // multi-tenant flag are required.
  if (!CanRegisterMultiTenant(default_subscription.offer_type) || !registration.multi_tenant) {
    return FailedPreconditionError(
        "UnauthorizedCspRegistration",
        absl::StrCat(RegistrationLabel(registration.name),
                     ": registration is not approved to use multi-tenancy (default subscription ",
                     default_subscription.id.ToString(), " is ",
                     AbslView(ToString(default_subscription.offer_type)), ", stack ",
                     registration.multi_tenant ? "multi-tenant" : "single-tenant", ")"));
  }
  if (registration.billing_model == BillingModel::kCapacity) {
    return FailedPreconditionError(
        "CustomerSubscriptionsNotAllowed",
        absl::StrCat(RegistrationLabel(registration.name),
                     ": a Capacity registration does not take customer subscriptions"));
  }
  return absl::OkStatus();
}

absl::Status CheckRegistrant(const Caller& caller, const HistoryView& view, Guid subscription_id,
                             Timestamp now) {
  // R2: roles only; the caller's directory and the stack's deployment
  // directory are deliberately never compared.
  return CheckSubscriptionAccess(caller, view, subscription_id, AccessKind::kWrite, now);
}

absl::StatusOr<RegistrationPutKind> CheckCloudClaim(const HistoryView& view,
                                                    const RegistrationName& name, Guid cloud_id,
                                                    Timestamp now) {
  if (const Registration* same = view.RegistrationAt(name, now)) {
    if (same->cloud_id != cloud_id) {
      return AlreadyExistsError(
          "RegistrationCloudMismatch",
          absl::StrCat(RegistrationLabel(name), " already registers cloud identifier ",
                       same->cloud_id.ToString(), "; a token for cloud identifier ",
                       cloud_id.ToString(), " needs its own registration"));
    }
    return RegistrationPutKind::kUpdate;
  }
  if (view.RegistrationAt(cloud_id, now) != nullptr) {
    return AlreadyExistsError(
        "CloudAlreadyRegistered",
        absl::StrCat("Cloud identifier ", cloud_id.ToString(), " is already registered"));
  }
  return RegistrationPutKind::kCreate;
}

absl::StatusOr<const Registration*> FindRegistrationInForce(const HistoryView& view,
                                                            const RegistrationName& name,
                                                            Timestamp now) {
  const Registration* registration = view.RegistrationAt(name, now);
  if (registration == nullptr) {
    return NotFoundError(
        "ResourceNotFound",
        absl::StrCat("The Resource 'Microsoft.AzureStack/registrations/", name.name,
                     "' under resource group '", name.resource_group, "' was not found."));
  }
  return registration;
}

absl::StatusOr<Guid> CheckCustomerSubscription(const HistoryView& view,
                                               const Subscription& default_subscription,
                                               std::string_view customer_subscription_id,
                                               Guid tenant_id, Timestamp now) {
  // R6, in the order SPEC writes it.
  const Subscription* customer = nullptr;
  if (Guid::IsCanonical(customer_subscription_id)) {
    absl::StatusOr<Guid> id = Guid::Parse(customer_subscription_id);
    if (id.ok()) customer = view.FindSubscription(*id);
  }
  if (customer == nullptr) {
    return InvalidArgumentError(
        "InvalidCustomerSubscriptionId",
        absl::StrCat("customer subscription '", AbslView(customer_subscription_id),
                     "' is not the lower-case GUID of an existing subscription"));
  }
  const std::string customer_text = customer->id.ToString();
  if (customer->offer_type != OfferType::kCsp) {
    return InvalidArgumentError(
        "InvalidCSPSubscription",
        absl::StrCat("customer subscription ", customer_text, " is ",
                     AbslView(ToString(customer->offer_type)), ", not CSP"));
  }
  const std::optional<PartnerId> owner = view.OwnerPartnerAt(default_subscription.id, now);
  absl::StatusOr<std::vector<PartnerId>> chain = view.RollUpChain(customer->id, now);
  if (!chain.ok()) return chain.status();
  if (!owner || std::find(chain->begin(), chain->end(), *owner) == chain->end()) {
    return PermissionDeniedError(
        "BadCustomerSubscriptionId",
        absl::StrCat("customer subscription ", customer_text, " does not roll up to partner ",
                     owner.value_or("(none)"), " of default subscription ",
                     default_subscription.id.ToString(),
                     ": you cannot register someone else's customers"));
  }
  if (tenant_id != customer->directory_id) {
    return InvalidArgumentError(
        "TenantMismatch", absl::StrCat("tenant ", tenant_id.ToString(), " is not the directory ",
                                       customer->directory_id.ToString(),
                                       " of customer subscription ", customer_text));
  }
  return customer->id;
}

CustomerSubscriptionChange PlanCustomerSubscriptionPut(const HistoryView& view,
                                                       const CustomerSubscription& requested) {
  const Timestamp from = requested.valid.from;
  std::vector<const CustomerSubscription*> affected;
  for (const CustomerSubscription* v : view.CustomerSubscriptionVersions(requested.registration)) {
    if ((v->tenant_id == requested.tenant_id ||
         v->customer_subscription_id == requested.customer_subscription_id) &&
        ExtendsPast(*v, from)) {
      affected.push_back(v);
    }
  }
  CustomerSubscriptionChange change;
  if (affected.size() == 1) {
    const CustomerSubscription& v = *affected.front();
    if (v.customer_subscription_id == requested.customer_subscription_id &&
        v.tenant_id == requested.tenant_id && v.valid.IsOpen() && v.valid.from <= from) {
      return change;
    }
  }
  // R6: a PUT for a tenant already mapped replaces the earlier mapping from
  // that moment; the earlier one stays in history as ended.
  for (const CustomerSubscription* v : affected) change.ended.push_back(EndedAt(*v, from));
  change.started = requested;
  change.started->valid.to.reset();
  return change;
}

CustomerSubscriptionChange PlanCustomerSubscriptionDelete(const HistoryView& view,
                                                          const RegistrationName& registration,
                                                          Guid customer_subscription_id,
                                                          Timestamp effective_to) {
  CustomerSubscriptionChange change;
  for (const CustomerSubscription* v : view.CustomerSubscriptionVersions(registration)) {
    if (v->customer_subscription_id == customer_subscription_id && ExtendsPast(*v, effective_to)) {
      change.ended.push_back(EndedAt(*v, effective_to));
    }
  }
  return change;
}

absl::StatusOr<BillTo> BillToAt(const HistoryView& view, Guid subscription_id, Timestamp t) {
  const Subscription* subscription = view.FindSubscription(subscription_id);
  if (subscription == nullptr) {
    return NotFoundError("SubscriptionNotFound",
                         absl::StrCat("subscription ", subscription_id.ToString(), " not found"));
  }
  BillTo bill_to;
  // R8: direct-billed subscriptions get their own invoice.
  if (IsDirectBilled(subscription->offer_type)) {
    bill_to.kind = BillTo::Kind::kSubscription;
    bill_to.subscription_id = subscription_id;
    return bill_to;
  }
  // R8: CSP and APSS charges go to the top of the roll-up chain.
  absl::StatusOr<PartnerId> top = view.TopOfChain(subscription_id, t);
  if (!top.ok()) return top.status();
  bill_to.kind = BillTo::Kind::kPartner;
  bill_to.partner_id = *std::move(top);
  return bill_to;
}

absl::Status CheckBillingDataVisible(const Caller& caller, const HistoryView& view,
                                     Guid subscription_id, Timestamp now) {
  const Subscription* subscription = view.FindSubscription(subscription_id);
  if (subscription == nullptr) {
    return NotFoundError("SubscriptionNotFound",
                         absl::StrCat("subscription ", subscription_id.ToString(), " not found"));
  }
  if (IsPlatformAdmin(caller)) return absl::OkStatus();
  const bool csp = subscription->offer_type == OfferType::kCsp;
  auto not_visible = [&] {
    return PermissionDeniedError(
        "BillingDataNotVisible",
        absl::StrCat("billing data of CSP subscription ", subscription_id.ToString(),
                     " is visible only to its partners"));
  };
  // R8: the customer's own directory never sees what its partner is billed,
  // whatever role its principals hold.
  if (csp && caller.directory_id == subscription->directory_id) return not_visible();
  if (IsPartnerAdminOverSubscription(caller, view, subscription_id, now)) {
    return absl::OkStatus();
  }
  if (IsReaderOf(caller, subscription_id)) {
    if (csp) return not_visible();
    return absl::OkStatus();
  }
  return NotFoundError("SubscriptionNotFound",
                       absl::StrCat("subscription ", subscription_id.ToString(), " not found"));
}

bool DefaultUsageReportingEnabled(BillingModel model) {
  switch (model) {
    case BillingModel::kCapacity:
    case BillingModel::kCustom:
      return false;
    case BillingModel::kPayAsYouUse:
    case BillingModel::kDevelopment:
    case BillingModel::kRuggedized:
      return true;
  }
  return true;
}

bool IsZeroRated(BillingModel model) {
  return model == BillingModel::kDevelopment || model == BillingModel::kRuggedized;
}

absl::Status CheckBillingModelTerms(BillingModel model,
                                    const std::optional<std::string>& agreement_number,
                                    const std::optional<std::string>& ms_asset_tag) {
  if (model == BillingModel::kCapacity && (!agreement_number || agreement_number->empty())) {
    return InvalidArgumentError(
        "InvalidRegistrationToken",
        "registration token: agreementNumber is required for the Capacity billing model");
  }
  if (model == BillingModel::kCustom && (!ms_asset_tag || ms_asset_tag->empty())) {
    return InvalidArgumentError(
        "InvalidRegistrationToken",
        "registration token: msAssetTag is required for the Custom billing model");
  }
  return absl::OkStatus();
}

absl::Status CheckBillingModelApproved(const HistoryView& view, Guid cloud_id, BillingModel model,
                                       const std::optional<std::string>& agreement_number,
                                       const std::optional<std::string>& ms_asset_tag) {
  // R9: the token is made by the registrant, so anything but PayAsYouUse must
  // match what a PlatformAdmin approved for this cloudId.
  if (model == BillingModel::kPayAsYouUse) return absl::OkStatus();
  const BillingModelApproval* approval = view.FindApproval(cloud_id);
  const std::string prefix =
      absl::StrCat("billing model ", AbslView(ToString(model)), " for cloud ", cloud_id.ToString());
  if (approval == nullptr || approval->billing_model != model) {
    return PermissionDeniedError("BillingModelNotApproved",
                                 absl::StrCat(prefix, " has not been approved by the platform"));
  }
  if (approval->agreement_number && approval->agreement_number != agreement_number) {
    return PermissionDeniedError(
        "BillingModelNotApproved",
        absl::StrCat(prefix, ": agreementNumber differs from the approved one"));
  }
  if (approval->ms_asset_tag && approval->ms_asset_tag != ms_asset_tag) {
    return PermissionDeniedError(
        "BillingModelNotApproved",
        absl::StrCat(prefix, ": msAssetTag differs from the approved one"));
  }
  return absl::OkStatus();
}

absl::Status CheckUsageReportingEnabled(const Registration& registration) {
  if (registration.usage_reporting_enabled) return absl::OkStatus();
  return PermissionDeniedError(
      "UsageReportingDisabled",
      absl::StrCat("usage reporting is disabled for cloud ", registration.cloud_id.ToString(),
                   " (billing model ", AbslView(ToString(registration.billing_model)), ")"));
}

Registration MakeRegistrationVersion(const RegistrationName& name, const RegistrationTerms& terms,
                                     Timestamp from) {
  Registration r;
  r.name = name;
  r.cloud_id = terms.cloud_id;
  r.object_id = terms.object_id;
  r.billing_model = terms.billing_model;
  r.multi_tenant = terms.multi_tenant;
  r.usage_reporting_enabled =
      terms.usage_reporting_enabled.value_or(DefaultUsageReportingEnabled(terms.billing_model));
  r.agreement_number = terms.agreement_number;
  r.ms_asset_tag = terms.ms_asset_tag;
  r.valid.from = from;
  return r;
}

absl::StatusOr<RegistrationPutKind> CheckRegistrationPut(const Caller& caller,
                                                         const HistoryView& view,
                                                         const RegistrationName& name,
                                                         const RegistrationTerms& terms,
                                                         Timestamp now) {
  // SPEC §3's fixed order: token content (400), role (R2), approval (R9),
  // claim (R3).
  if (absl::Status s =
          CheckBillingModelTerms(terms.billing_model, terms.agreement_number, terms.ms_asset_tag);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRegistrant(caller, view, name.subscription_id, now); !s.ok()) return s;
  if (absl::Status s = CheckBillingModelApproved(view, terms.cloud_id, terms.billing_model,
                                                 terms.agreement_number, terms.ms_asset_tag);
      !s.ok()) {
    return s;
  }
  return CheckCloudClaim(view, name, terms.cloud_id, now);
}

absl::StatusOr<CustomerSubscription> CheckCustomerSubscriptionPut(
    const Caller& caller, const HistoryView& view, const CustomerSubscriptionPut& request,
    Timestamp now) {
  // SPEC §3's fixed order: request shape (400), role (404/403), R4, R5, R6.
  if (absl::Status s = CheckCorrectionTime("effectiveFrom", "InvalidEffectiveFrom",
                                           request.effective_from, request.open_periods_start, now);
      !s.ok()) {
    return s;
  }
  const Guid default_id = request.registration.subscription_id;
  if (absl::Status s = CheckSubscriptionAccess(caller, view, default_id, AccessKind::kWrite, now);
      !s.ok()) {
    return s;
  }
  if (request.effective_from && !IsPlatformAdmin(caller)) {
    return PermissionDeniedError("AuthorizationFailed",
                                 "only a PlatformAdmin may set effectiveFrom");
  }
  absl::StatusOr<const Registration*> registration =
      FindRegistrationInForce(view, request.registration, now);
  if (!registration.ok()) return registration.status();
  const Subscription& default_subscription = *view.FindSubscription(default_id);
  if (absl::Status s = CheckCustomerSubscriptionsAllowed(default_subscription, **registration);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<Guid> customer_id = CheckCustomerSubscription(
      view, default_subscription, request.customer_subscription_id, request.tenant_id, now);
  if (!customer_id.ok()) return customer_id.status();
  CustomerSubscription version;
  version.registration = (*registration)->name;
  version.cloud_id = (*registration)->cloud_id;
  version.customer_subscription_id = *customer_id;
  version.tenant_id = request.tenant_id;
  version.valid.from = request.effective_from.value_or(now);
  return version;
}

absl::StatusOr<Timestamp> CheckCustomerSubscriptionDelete(
    const Caller& caller, const HistoryView& view, const RegistrationName& registration,
    std::optional<Timestamp> effective_to, Timestamp open_periods_start, Timestamp now) {
  if (absl::Status s = CheckCorrectionTime("effectiveTo", "InvalidEffectiveTo", effective_to,
                                           open_periods_start, now);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckSubscriptionAccess(caller, view, registration.subscription_id,
                                               AccessKind::kWrite, now);
      !s.ok()) {
    return s;
  }
  if (effective_to && !IsPlatformAdmin(caller)) {
    return PermissionDeniedError("AuthorizationFailed", "only a PlatformAdmin may set effectiveTo");
  }
  absl::StatusOr<const Registration*> in_force = FindRegistrationInForce(view, registration, now);
  if (!in_force.ok()) return in_force.status();
  return effective_to.value_or(now);
}

}  // namespace stackbill
