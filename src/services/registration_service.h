#pragma once

// RegistrationService: the use cases of SPEC §3 (Microsoft.AzureStack
// registrations, activation keys, customer subscriptions) and of the /v1
// stack endpoints of SPEC §6.1 (stack status, billing-model approval, claim
// release, stack subscribers), over the store. Each call loads the
// effective-dated history, runs core's checks in SPEC's fixed order (rules.h,
// access.h), writes through the store and audits every mutation (secrets
// redacted).
//
// Transport-neutral: requests are already parsed (request shape and
// api-version are the HTTP layer's); errors are statuses with SPEC's product
// error codes (core/error.h), which the HTTP layer maps to ARM envelopes.
//
// Thread-safe: mutations of one process are serialised by a mutex (so a
// check and the write it guards see the same history); across processes the
// store's own invariants (one live registration per cloudId, R3) hold.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/time.h"
#include "store/store.h"
#include "wire/registration_token.h"

namespace stackbill {

struct RegistrationServiceOptions {
  // How long the previous activation key stays valid after a rotation (SPEC §3).
  std::int64_t activation_key_grace_seconds = std::int64_t{24} * 3600;
  // How long a deleted registration's activation keys keep working (SPEC §3).
  std::int64_t registration_drain_seconds = 3600;
};

// A registration PUT or PATCH as received.
struct RegistrationRequest {
  RegistrationName name;
  std::string registration_token;  // base64 JSON (SPEC §3.1)
  // PUT replaces the tags (none given: none); PATCH keeps them unless given.
  std::optional<std::map<std::string, std::string>> tags;
};

struct RegistrationPutResult {
  Registration registration;  // the version now in force
  bool created = false;       // 201 rather than 200
};

// A customer-subscription PUT as received.
struct CustomerSubscriptionRequest {
  RegistrationName registration;
  std::string customer_subscription_id;  // the path segment, as sent (R6)
  Guid tenant_id;
  std::optional<Timestamp> effective_from;  // PlatformAdmin extension (SPEC §3)
};

// A stack as GET /v1/stacks shows it.
struct StackStatus {
  Stack stack;
  std::optional<Registration> registration;  // the live one (the cloudId's claim)
  std::optional<BillingModelApproval> approval;
  std::int64_t pending_quarantine = 0;     // quarantined records not yet replayed
  std::optional<StackIngestStats> ingest;  // absent until the stack's first accepted record
};

class RegistrationService {
 public:
  // `store` must outlive this.
  RegistrationService(Store& store, RegistrationServiceOptions options);

  // Registration PUT (SPEC §3): decodes the token (400 InvalidRegistrationToken),
  // then CheckRegistrationPut's order — billing-model terms (400), R2 (404
  // SubscriptionNotFound / 403 AuthorizationFailed), R9 approval (403
  // BillingModelNotApproved), R3 (409 CloudAlreadyRegistered /
  // RegistrationCloudMismatch) — and records the stack and the version.
  absl::StatusOr<RegistrationPutResult> PutRegistration(const Caller& caller,
                                                        const RegistrationRequest& request,
                                                        Timestamp now);
  // Registration PATCH: as PUT, for a registration in force (else 404
  // ResourceNotFound after the role check); tags kept unless given.
  absl::StatusOr<Registration> PatchRegistration(const Caller& caller,
                                                 const RegistrationRequest& request, Timestamp now);
  // The live registration. Codes of CheckSubscriptionAccess(kRead); NotFound /
  // ResourceNotFound when none is live.
  absl::StatusOr<Registration> GetRegistration(const Caller& caller, const RegistrationName& name,
                                               Timestamp now);
  // Ends the live registration (and its claim and customer subscriptions);
  // its activation keys stop after the drain window. Returns false when none
  // was live (the 204). Codes of CheckSubscriptionAccess(kWrite).
  absl::StatusOr<bool> DeleteRegistration(const Caller& caller, const RegistrationName& name,
                                          Timestamp now);
  // Live registrations under a subscription (and resource group, when
  // given), ordered by resource group and name. Codes of
  // CheckSubscriptionAccess(kRead).
  absl::StatusOr<std::vector<Registration>> ListRegistrations(
      const Caller& caller, Guid subscription_id, const std::optional<std::string>& resource_group,
      Timestamp now);
  // Rotates the stack's activation key and returns the new one (shown once;
  // only its hash is kept); the previous key stays valid for the grace
  // period. Owner, PartnerAdmin or PlatformAdmin (a Reader: 403
  // AuthorizationFailed); 404 ResourceNotFound without a live registration.
  absl::StatusOr<std::string> GetActivationKey(const Caller& caller, const RegistrationName& name,
                                               Timestamp now);

  // Customer-subscription PUT: CheckCustomerSubscriptionPut's order (R4, R5,
  // R6); a tenant already mapped is re-mapped from now (or effectiveFrom).
  absl::StatusOr<CustomerSubscription> PutCustomerSubscription(
      const Caller& caller, const CustomerSubscriptionRequest& request, Timestamp now);
  // The live customer subscription; NotFound / ResourceNotFound otherwise.
  absl::StatusOr<CustomerSubscription> GetCustomerSubscription(
      const Caller& caller, const RegistrationName& registration,
      std::string_view customer_subscription_id, Timestamp now);
  // Ends the customer subscription at now (or a PlatformAdmin's effectiveTo).
  // Returns false when there was nothing to end (the 204).
  absl::StatusOr<bool> DeleteCustomerSubscription(const Caller& caller,
                                                  const RegistrationName& registration,
                                                  std::string_view customer_subscription_id,
                                                  std::optional<Timestamp> effective_to,
                                                  Timestamp now);
  // Live customer subscriptions of a live registration, by id.
  absl::StatusOr<std::vector<CustomerSubscription>> ListCustomerSubscriptions(
      const Caller& caller, const RegistrationName& registration, Timestamp now);

  // Stacks the caller can see: PlatformAdmins all; others the stacks whose
  // live registration's default subscription they can read. Ordered by cloudId.
  absl::StatusOr<std::vector<StackStatus>> ListStacks(const Caller& caller, Timestamp now);
  // One stack; NotFound / StackNotFound when unknown or not visible.
  absl::StatusOr<StackStatus> GetStack(const Caller& caller, Guid cloud_id, Timestamp now);
  // PlatformAdmin (403 AuthorizationFailed otherwise): approves a billing
  // model for a cloudId (R9); replaces any earlier approval.
  absl::StatusOr<BillingModelApproval> PutApproval(const Caller& caller,
                                                   const BillingModelApproval& approval,
                                                   Timestamp now);
  // PlatformAdmin: releases the claim on a cloudId by ending its live
  // registration (R3), as a DELETE does. NotFound / CloudNotClaimed when
  // nothing holds it.
  absl::StatusOr<Registration> ReleaseClaim(const Caller& caller, Guid cloud_id, Timestamp now);
  // Maps stack-local subscription `local_subscription_id` to `tenant_id`
  // from now (SPEC §4): the stack's own activation key, a PartnerAdmin over
  // the registration's default subscription or a PlatformAdmin
  // (CheckSubscriberMappingAccess). NotFound / StackNotRegistered without a
  // live registration. Returns the version in force.
  absl::StatusOr<StackSubscriber> PutStackSubscriber(const Caller& caller, Guid cloud_id,
                                                     Guid local_subscription_id, Guid tenant_id,
                                                     Timestamp now);

 private:
  // PutRegistration once the token is decoded. REQUIRES: mutex_ held.
  absl::StatusOr<RegistrationPutResult> PutRegistrationLocked(const Caller& caller,
                                                              const RegistrationRequest& request,
                                                              const RegistrationToken& token,
                                                              Timestamp now);

  Store& store_;
  RegistrationServiceOptions options_;
  std::mutex mutex_;  // serialises check-then-write of mutations
};

}  // namespace stackbill
