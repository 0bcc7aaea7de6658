#include "services/registration_service.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"
#include "core/history.h"
#include "core/rules.h"
#include "services/access_tokens.h"
#include "services/audit.h"
#include "wire/registration_token.h"

namespace stackbill {
namespace {

nlohmann::json ToAuditJson(const Registration& r) {
  nlohmann::json tags = nlohmann::json::object();
  for (const auto& [key, value] : r.tags) tags[key] = value;
  nlohmann::json out = {
      {"id", r.name.ResourceId()},
      {"cloudId", r.cloud_id.ToString()},
      {"objectId", r.object_id.ToString()},
      {"billingModel", std::string(ToString(r.billing_model))},
      {"multiTenant", r.multi_tenant},
      {"usageReportingEnabled", r.usage_reporting_enabled},
      {"tags", std::move(tags)},
      {"validFrom", r.valid.from.ToString()},
  };
  if (r.agreement_number) out["agreementNumber"] = *r.agreement_number;
  if (r.ms_asset_tag) out["msAssetTag"] = *r.ms_asset_tag;
  if (r.valid.to) out["validTo"] = r.valid.to->ToString();
  return out;
}

nlohmann::json ToAuditJson(const CustomerSubscription& cs) {
  nlohmann::json out = {
      {"registration", cs.registration.ResourceId()},
      {"customerSubscriptionId", cs.customer_subscription_id.ToString()},
      {"tenantId", cs.tenant_id.ToString()},
      {"validFrom", cs.valid.from.ToString()},
  };
  if (cs.valid.to) out["validTo"] = cs.valid.to->ToString();
  return out;
}

nlohmann::json ToAuditJson(const BillingModelApproval& a) {
  nlohmann::json out = {{"cloudId", a.cloud_id.ToString()},
                        {"billingModel", std::string(ToString(a.billing_model))}};
  if (a.agreement_number) out["agreementNumber"] = *a.agreement_number;
  if (a.ms_asset_tag) out["msAssetTag"] = *a.ms_asset_tag;
  return out;
}

std::string CustomerSubscriptionResource(const RegistrationName& registration,
                                         std::string_view customer_subscription_id) {
  return fmt::format("{}/customerSubscriptions/{}", registration.ResourceId(),
                     customer_subscription_id);
}

absl::Status RegistrationNotFound(const RegistrationName& name) {
  return NotFoundError("ResourceNotFound",
                       fmt::format("registration {} was not found under resource group {}",
                                   name.name, name.resource_group));
}

RegistrationTerms TermsOf(const RegistrationToken& token) {
  RegistrationTerms terms;
  terms.cloud_id = token.cloud_id;
  terms.object_id = token.object_id;
  terms.billing_model = token.billing_model;
  terms.multi_tenant = token.multi_tenant;
  terms.usage_reporting_enabled = token.usage_reporting_enabled;
  terms.agreement_number = token.agreement_number;
  terms.ms_asset_tag = token.ms_asset_tag;
  return terms;
}

Stack StackOf(const RegistrationToken& token, const Registration& version) {
  Stack stack;
  stack.cloud_id = token.cloud_id;
  stack.deployment_directory_id = token.deployment_directory_id.value_or(Guid());
  stack.billing_model = version.billing_model;
  stack.usage_reporting_enabled = version.usage_reporting_enabled;
  stack.multi_tenant = version.multi_tenant;
  return stack;
}

}  // namespace

RegistrationService::RegistrationService(Store& store, RegistrationServiceOptions options)
    : store_(store), options_(options) {}

absl::StatusOr<RegistrationPutResult> RegistrationService::PutRegistration(
    const Caller& caller, const RegistrationRequest& request, Timestamp now) {
  // Token syntax first (400), before anything that needs the store.
  absl::StatusOr<RegistrationToken> token = DecodeRegistrationToken(request.registration_token);
  if (!token.ok()) return token.status();
  std::lock_guard<std::mutex> lock(mutex_);
  return PutRegistrationLocked(caller, request, *token, now);
}

absl::StatusOr<RegistrationPutResult> RegistrationService::PutRegistrationLocked(
    const Caller& caller, const RegistrationRequest& request, const RegistrationToken& token,
    Timestamp now) {
  const RegistrationTerms terms = TermsOf(token);
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  absl::StatusOr<RegistrationPutKind> kind =
      CheckRegistrationPut(caller, view, request.name, terms, now);
  if (!kind.ok()) return kind.status();

  Registration version = MakeRegistrationVersion(request.name, terms, now);
  if (request.tags) version.tags = *request.tags;
  absl::StatusOr<PutRegistrationResult> result =
      store_.registrations().PutRegistration(version, StackOf(token, version));
  if (!result.ok()) return result.status();

  AuditRecord record{
      .action = "registration.put",
      .resource = request.name.ResourceId(),
      .partner_id = view.OwnerPartnerAt(request.name.subscription_id, now),
      .before = nullptr,
      .after = ToAuditJson(result->registration),
  };
  if (result->previous) record.before = ToAuditJson(*result->previous);
  if (absl::Status s = WriteAudit(store_, caller, now, std::move(record)); !s.ok()) return s;
  return RegistrationPutResult{.registration = result->registration, .created = result->created};
}

absl::StatusOr<Registration> RegistrationService::PatchRegistration(
    const Caller& caller, const RegistrationRequest& request, Timestamp now) {
  absl::StatusOr<RegistrationToken> token = DecodeRegistrationToken(request.registration_token);
  if (!token.ok()) return token.status();
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s = CheckRegistrant(caller, view, request.name.subscription_id, now); !s.ok()) {
    return s;
  }
  const Registration* live = view.RegistrationAt(request.name, now);
  if (live == nullptr) return RegistrationNotFound(request.name);
  // PATCH keeps what it does not name: the tags.
  RegistrationRequest put = request;
  if (!put.tags) put.tags = live->tags;
  absl::StatusOr<RegistrationPutResult> result = PutRegistrationLocked(caller, put, *token, now);
  if (!result.ok()) return result.status();
  return result->registration;
}

absl::StatusOr<Registration> RegistrationService::GetRegistration(const Caller& caller,
                                                                  const RegistrationName& name,
                                                                  Timestamp now) {
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s =
          CheckSubscriptionAccess(caller, view, name.subscription_id, AccessKind::kRead, now);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<Registration> live = store_.registrations().GetRegistration(name);
  if (absl::IsNotFound(live.status())) return RegistrationNotFound(name);
  return live;
}

absl::StatusOr<bool> RegistrationService::DeleteRegistration(const Caller& caller,
                                                             const RegistrationName& name,
                                                             Timestamp now) {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s =
          CheckSubscriptionAccess(caller, view, name.subscription_id, AccessKind::kWrite, now);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<Registration> ended = store_.registrations().EndRegistration(name, now);
  if (absl::IsNotFound(ended.status())) return false;
  if (!ended.ok()) return ended.status();
  // The drain window (SPEC §3): keys keep working a while, then stop.
  if (absl::Status s = store_.registrations().ExpireActivationKeys(
          ended->cloud_id, now.AddSeconds(options_.registration_drain_seconds));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteAudit(store_, caller, now,
                                  AuditRecord{
                                      .action = "registration.delete",
                                      .resource = name.ResourceId(),
                                      .partner_id = view.OwnerPartnerAt(name.subscription_id, now),
                                      .before = ToAuditJson(*ended),
                                      .after = nullptr,
                                  });
      !s.ok()) {
    return s;
  }
  return true;
}

absl::StatusOr<std::vector<Registration>> RegistrationService::ListRegistrations(
    const Caller& caller, Guid subscription_id, const std::optional<std::string>& resource_group,
    Timestamp now) {
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s =
          CheckSubscriptionAccess(caller, view, subscription_id, AccessKind::kRead, now);
      !s.ok()) {
    return s;
  }
  return store_.registrations().ListRegistrations(
      RegistrationFilter{.subscription_id = subscription_id, .resource_group = resource_group});
}

absl::StatusOr<std::string> RegistrationService::GetActivationKey(const Caller& caller,
                                                                  const RegistrationName& name,
                                                                  Timestamp now) {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s =
          CheckSubscriptionAccess(caller, view, name.subscription_id, AccessKind::kWrite, now);
      !s.ok()) {
    return s;
  }
  const Registration* live = view.RegistrationAt(name, now);
  if (live == nullptr) return RegistrationNotFound(name);
  absl::StatusOr<MintedSecret> secret = MintSecret("sbk_");
  if (!secret.ok()) return secret.status();
  ActivationKeyRecord key;
  key.hash = secret->hash;
  key.cloud_id = live->cloud_id;
  key.created_at = now;
  if (absl::Status s = store_.registrations().RotateActivationKey(
          key, now.AddSeconds(options_.activation_key_grace_seconds));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteAudit(store_, caller, now,
                                  AuditRecord{
                                      .action = "registration.getactivationkey",
                                      .resource = name.ResourceId() + "/getactivationkey",
                                      .partner_id = view.OwnerPartnerAt(name.subscription_id, now),
                                      .before = nullptr,
                                      .after = {{"cloudId", live->cloud_id.ToString()},
                                                {"activationKey", secret->plaintext}},
                                  });
      !s.ok()) {
    return s;
  }
  return std::move(secret->plaintext);
}

namespace {

// The start of the earliest open billing period (SPEC §5: periods close in
// order, so it is the month after the last closed one); the epoch when none
// has closed.
absl::StatusOr<Timestamp> OpenPeriodsStart(Store& store) {
  absl::StatusOr<std::vector<BillingPeriodRecord>> closed =
      store.billing().ListClosedBillingPeriods();
  if (!closed.ok()) return closed.status();
  if (closed->empty()) return Timestamp();
  return closed->back().period.Next().Start();
}

}  // namespace

absl::StatusOr<CustomerSubscription> RegistrationService::PutCustomerSubscription(
    const Caller& caller, const CustomerSubscriptionRequest& request, Timestamp now) {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<Timestamp> open_start = OpenPeriodsStart(store_);
  if (!open_start.ok()) return open_start.status();
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  absl::StatusOr<CustomerSubscription> version =
      CheckCustomerSubscriptionPut(caller, view,
                                   CustomerSubscriptionPut{
                                       .registration = request.registration,
                                       .customer_subscription_id = request.customer_subscription_id,
                                       .tenant_id = request.tenant_id,
                                       .effective_from = request.effective_from,
                                       .open_periods_start = *open_start,
                                   },
                                   now);
  if (!version.ok()) return version.status();
  absl::StatusOr<PutCustomerSubscriptionResult> result =
      store_.registrations().PutCustomerSubscription(*version);
  if (!result.ok()) return result.status();

  nlohmann::json before = nullptr;
  if (!result->ended.empty()) {
    before = nlohmann::json::array();
    for (const CustomerSubscription& ended : result->ended) before.push_back(ToAuditJson(ended));
  }
  nlohmann::json after = ToAuditJson(result->customer_subscription);
  if (request.effective_from) after["effectiveFrom"] = request.effective_from->ToString();
  if (absl::Status s = WriteAudit(
          store_, caller, now,
          AuditRecord{
              .action = "customerSubscription.put",
              .resource = CustomerSubscriptionResource(
                  request.registration,
                  result->customer_subscription.customer_subscription_id.ToString()),
              .partner_id = view.OwnerPartnerAt(request.registration.subscription_id, now),
              .before = std::move(before),
              .after = std::move(after),
          });
      !s.ok()) {
    return s;
  }
  return result->customer_subscription;
}

absl::StatusOr<CustomerSubscription> RegistrationService::GetCustomerSubscription(
    const Caller& caller, const RegistrationName& registration,
    std::string_view customer_subscription_id, Timestamp now) {
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s = CheckSubscriptionAccess(caller, view, registration.subscription_id,
                                               AccessKind::kRead, now);
      !s.ok()) {
    return s;
  }
  if (view.RegistrationAt(registration, now) == nullptr) return RegistrationNotFound(registration);
  const absl::Status not_found = NotFoundError(
      "ResourceNotFound", fmt::format("registration {}: customer subscription {} was not found",
                                      registration.name, customer_subscription_id));
  absl::StatusOr<Guid> id = Guid::Parse(customer_subscription_id);
  if (!id.ok()) return not_found;
  absl::StatusOr<CustomerSubscription> live =
      store_.registrations().GetCustomerSubscription(registration, *id);
  if (absl::IsNotFound(live.status())) return not_found;
  return live;
}

absl::StatusOr<bool> RegistrationService::DeleteCustomerSubscription(
    const Caller& caller, const RegistrationName& registration,
    std::string_view customer_subscription_id, std::optional<Timestamp> effective_to,
    Timestamp now) {
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<Timestamp> open_start = OpenPeriodsStart(store_);
  if (!open_start.ok()) return open_start.status();
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  absl::StatusOr<Timestamp> at =
      CheckCustomerSubscriptionDelete(caller, view, registration, effective_to, *open_start, now);
  if (!at.ok()) return at.status();
  absl::StatusOr<Guid> id = Guid::Parse(customer_subscription_id);
  if (!id.ok()) return false;  // nothing of that id can exist
  absl::StatusOr<CustomerSubscription> ended =
      store_.registrations().EndCustomerSubscription(registration, *id, *at);
  if (absl::IsNotFound(ended.status())) return false;
  if (!ended.ok()) return ended.status();
  nlohmann::json after = nullptr;
  if (effective_to) after = {{"effectiveTo", effective_to->ToString()}};
  if (absl::Status s =
          WriteAudit(store_, caller, now,
                     AuditRecord{
                         .action = "customerSubscription.delete",
                         .resource = CustomerSubscriptionResource(registration, id->ToString()),
                         .partner_id = view.OwnerPartnerAt(registration.subscription_id, now),
                         .before = ToAuditJson(*ended),
                         .after = std::move(after),
                     });
      !s.ok()) {
    return s;
  }
  return true;
}

absl::StatusOr<std::vector<CustomerSubscription>> RegistrationService::ListCustomerSubscriptions(
    const Caller& caller, const RegistrationName& registration, Timestamp now) {
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s = CheckSubscriptionAccess(caller, view, registration.subscription_id,
                                               AccessKind::kRead, now);
      !s.ok()) {
    return s;
  }
  if (view.RegistrationAt(registration, now) == nullptr) return RegistrationNotFound(registration);
  return store_.registrations().ListCustomerSubscriptions(registration);
}

namespace {

// May the caller see the stack? PlatformAdmins any; others only a stack with
// a live registration whose default subscription they can read (SPEC §6:
// the stack operator and the partners over it).
bool CanSeeStack(const Caller& caller, const HistoryView& view, const Registration* live,
                 Timestamp now) {
  if (IsPlatformAdmin(caller)) return true;
  if (live == nullptr) return false;
  return CheckSubscriptionAccess(caller, view, live->name.subscription_id, AccessKind::kRead, now)
      .ok();
}

absl::Status StackNotFound(Guid cloud_id) {
  return NotFoundError("StackNotFound", fmt::format("stack {} was not found", cloud_id.ToString()));
}

}  // namespace

absl::StatusOr<std::vector<StackStatus>> RegistrationService::ListStacks(const Caller& caller,
                                                                         Timestamp now) {
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  absl::StatusOr<std::map<Guid, std::int64_t>> pending =
      store_.quarantine().CountPendingQuarantineByStack();
  if (!pending.ok()) return pending.status();
  absl::StatusOr<std::map<Guid, StackIngestStats>> ingested = store_.usage().ListStackIngestStats();
  if (!ingested.ok()) return ingested.status();
  std::vector<StackStatus> out;
  absl::StatusOr<std::vector<Stack>> stacks = store_.registrations().ListStacks();
  if (!stacks.ok()) return stacks.status();
  for (const Stack& stack : *stacks) {
    const Registration* live = view.RegistrationAt(stack.cloud_id, now);
    if (live != nullptr && live->valid.to) live = nullptr;
    if (!CanSeeStack(caller, view, live, now)) continue;
    StackStatus status;
    status.stack = stack;
    if (live != nullptr) status.registration = *live;
    if (const BillingModelApproval* approval = view.FindApproval(stack.cloud_id)) {
      status.approval = *approval;
    }
    if (auto it = pending->find(stack.cloud_id); it != pending->end()) {
      status.pending_quarantine = it->second;
    }
    if (auto it = ingested->find(stack.cloud_id); it != ingested->end()) {
      status.ingest = it->second;
    }
    out.push_back(std::move(status));
  }
  return out;
}

absl::StatusOr<StackStatus> RegistrationService::GetStack(const Caller& caller, Guid cloud_id,
                                                          Timestamp now) {
  absl::StatusOr<std::vector<StackStatus>> stacks = ListStacks(caller, now);
  if (!stacks.ok()) return stacks.status();
  for (StackStatus& status : *stacks) {
    if (status.stack.cloud_id == cloud_id) return std::move(status);
  }
  return StackNotFound(cloud_id);
}

absl::StatusOr<BillingModelApproval> RegistrationService::PutApproval(
    const Caller& caller, const BillingModelApproval& approval, Timestamp now) {
  if (absl::Status s = CheckPlatformAdmin(caller); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json before = nullptr;
  absl::StatusOr<BillingModelApproval> previous =
      store_.registrations().GetBillingModelApproval(approval.cloud_id);
  if (previous.ok()) {
    before = ToAuditJson(*previous);
  } else if (!absl::IsNotFound(previous.status())) {
    return previous.status();
  }
  if (absl::Status s = store_.registrations().PutBillingModelApproval(approval); !s.ok()) return s;
  if (absl::Status s = WriteAudit(
          store_, caller, now,
          AuditRecord{
              .action = "stack.approval.put",
              .resource = fmt::format("/v1/stacks/{}/approval", approval.cloud_id.ToString()),
              .partner_id = std::nullopt,
              .before = std::move(before),
              .after = ToAuditJson(approval),
          });
      !s.ok()) {
    return s;
  }
  return approval;
}

absl::StatusOr<Registration> RegistrationService::ReleaseClaim(const Caller& caller, Guid cloud_id,
                                                               Timestamp now) {
  if (absl::Status s = CheckPlatformAdmin(caller); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<Registration> ended = store_.registrations().ReleaseCloudClaim(cloud_id, now);
  if (absl::IsNotFound(ended.status())) {
    return NotFoundError(
        "CloudNotClaimed",
        fmt::format("cloud identifier {} is not claimed by any registration", cloud_id.ToString()));
  }
  if (!ended.ok()) return ended.status();
  if (absl::Status s = store_.registrations().ExpireActivationKeys(
          cloud_id, now.AddSeconds(options_.registration_drain_seconds));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  if (absl::Status s =
          WriteAudit(store_, caller, now,
                     AuditRecord{
                         .action = "claim.release",
                         .resource = fmt::format("/v1/stacks/{}/claim", cloud_id.ToString()),
                         .partner_id = view.OwnerPartnerAt(ended->name.subscription_id, now),
                         .before = ToAuditJson(*ended),
                         .after = nullptr,
                     });
      !s.ok()) {
    return s;
  }
  return ended;
}

absl::StatusOr<StackSubscriber> RegistrationService::PutStackSubscriber(const Caller& caller,
                                                                        Guid cloud_id,
                                                                        Guid local_subscription_id,
                                                                        Guid tenant_id,
                                                                        Timestamp now) {
  // A stack key answers for its own cloud only (SPEC §6), whatever exists.
  if (caller.stack_cloud_id && *caller.stack_cloud_id != cloud_id) {
    return PermissionDeniedError(
        "AuthorizationFailed",
        fmt::format("the activation key is not valid for stack {}", cloud_id.ToString()));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<History> history = store_.registrations().LoadHistory();
  if (!history.ok()) return history.status();
  const HistoryView view(*history);
  const Registration* live = view.RegistrationAt(cloud_id, now);
  if (live == nullptr || live->valid.to) {
    // Only the stack itself and PlatformAdmins learn that the cloudId exists.
    if (!caller.stack_cloud_id && !IsPlatformAdmin(caller)) return StackNotFound(cloud_id);
    return PermissionDeniedError(
        "StackNotRegistered",
        fmt::format("stack {} has no registration in force", cloud_id.ToString()));
  }
  if (absl::Status s = CheckSubscriberMappingAccess(caller, view, *live, now); !s.ok()) return s;
  const StackSubscriber subscriber{.cloud_id = cloud_id,
                                   .local_subscription_id = local_subscription_id,
                                   .tenant_id = tenant_id,
                                   .valid = {.from = now, .to = std::nullopt}};
  std::optional<StackSubscriber> before;
  absl::StatusOr<StackSubscriber> previous =
      store_.registrations().GetStackSubscriber(cloud_id, local_subscription_id);
  if (previous.ok()) before = *previous;
  absl::StatusOr<bool> changed = store_.registrations().PutStackSubscriber(subscriber);
  if (!changed.ok()) return changed.status();
  if (!*changed && before) return *before;
  const std::string resource = fmt::format("/v1/stacks/{}/subscribers/{}", cloud_id.ToString(),
                                           local_subscription_id.ToString());
  nlohmann::json before_json = nullptr;
  if (before) before_json = {{"tenantId", before->tenant_id.ToString()}};
  // A stack acts as itself: the audit names its cloudId as the actor.
  Caller actor = caller;
  if (caller.stack_cloud_id) actor.principal_id = *caller.stack_cloud_id;
  if (absl::Status s = WriteAudit(
          store_, actor, now,
          AuditRecord{
              .action = "stack.subscriber.put",
              .resource = resource,
              .partner_id = view.OwnerPartnerAt(live->name.subscription_id, now),
              .before = std::move(before_json),
              .after = {{"tenantId", tenant_id.ToString()}, {"validFrom", now.ToString()}},
          });
      !s.ok()) {
    return s;
  }
  return subscriber;
}

}  // namespace stackbill
