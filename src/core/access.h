#pragma once

// Access control of SPEC §6: who the caller is, what its role assignments
// reach, and the no-escalation rules. Pure functions over a Caller and a
// HistoryView; "now" is a parameter because PartnerAdmin scopes follow the
// roll-up chain, which is effective-dated.
//
// Scopes:
//   "/"                    everything (PlatformAdmin only)
//   "/partners/{id}"       that partner and the partners below it in its chain,
//                          their subscriptions and registrations, and their
//                          customers' CSP subscriptions (PartnerAdmin)
//   "/subscriptions/{id}"  one subscription and the ARM resources under it
//                          (Owner, Reader)
// A PartnerAdmin reaches a subscription when its partner is in the
// subscription's roll-up chain (HistoryView::RollUpChain). Direct-billed
// subscriptions have no chain: only their Owners/Readers and PlatformAdmins
// reach them.
//
// Codes: 403 PermissionDenied / "AuthorizationFailed" when the caller can see
// a resource but lacks the role; 404 NotFound ("SubscriptionNotFound",
// "PartnerNotFound", "InvoiceNotFound") when the resource belongs to someone
// the caller cannot see, so that existence does not leak. Authentication
// (401) happens before any of this, in the HTTP layer.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/time.h"

namespace stackbill {

// An authenticated caller: a principal with its directory and its role
// assignments, or a stack authenticated by its activation key.
struct Caller {
  Guid principal_id;
  Guid directory_id;
  std::vector<RoleAssignment> roles;
  // Set when the caller is a stack authenticated by an activation key: it may
  // ingest and map subscribers for this cloudId only.
  std::optional<Guid> stack_cloud_id;
};

struct Scope {
  enum class Kind { kRoot, kPartner, kSubscription };
  Kind kind = Kind::kRoot;
  PartnerId partner_id;  // kPartner
  Guid subscription_id;  // kSubscription

  // "/", "/partners/{id}", "/subscriptions/{guid}" (GUID lower-case).
  std::string ToString() const;
  friend bool operator==(const Scope&, const Scope&) = default;
};

// Parses a scope. The words "partners" and "subscriptions" match
// case-insensitively (as ARM path segments do); partner ids are exact; the
// subscription GUID may be in any case. A trailing '/' is tolerated.
// InvalidArgument / "InvalidScope" otherwise.
absl::StatusOr<Scope> ParseScope(std::string_view text);

// What the caller wants to do with a subscription or partner.
enum class AccessKind {
  kRead,   // Reader, Owner, PartnerAdmin over it, PlatformAdmin
  kWrite,  // Owner, PartnerAdmin over it, PlatformAdmin
};

// True when the caller holds PlatformAdmin on "/".
bool IsPlatformAdmin(const Caller& caller);

// True when the caller holds PartnerAdmin on "/partners/{P}" for a P in the
// roll-up chain of `partner_id` at `now` (the partner itself or one above it).
bool IsPartnerAdminOverPartner(const Caller& caller, const HistoryView& view,
                               const PartnerId& partner_id, Timestamp now);

// True when the caller holds PartnerAdmin on "/partners/{P}" for a P in the
// subscription's roll-up chain at `now`.
bool IsPartnerAdminOverSubscription(const Caller& caller, const HistoryView& view,
                                    Guid subscription_id, Timestamp now);

// True when the caller holds Owner on "/subscriptions/{subscription_id}".
bool IsOwnerOf(const Caller& caller, Guid subscription_id);
// True when the caller holds Reader or Owner on "/subscriptions/{subscription_id}".
bool IsReaderOf(const Caller& caller, Guid subscription_id);

// OK when the caller may `kind` the subscription and what lies under it (its
// registrations, their customer subscriptions, provider usage of its stacks).
// NotFound / "SubscriptionNotFound" when it does not exist or the caller has
// no role reaching it; PermissionDenied / "AuthorizationFailed" when the
// caller reaches it only as a Reader and asks to write.
absl::Status CheckSubscriptionAccess(const Caller& caller, const HistoryView& view,
                                     Guid subscription_id, AccessKind kind, Timestamp now);

// OK when the caller is a PlatformAdmin or a PartnerAdmin over `partner_id`
// (reading and writing alike); NotFound / "PartnerNotFound" otherwise.
absl::Status CheckPartnerAccess(const Caller& caller, const HistoryView& view,
                                const PartnerId& partner_id, Timestamp now);

// A partner's re-billing (SPEC §5: its customer price sheet and customer
// statements): PlatformAdmins and PartnerAdmins of that very partner — not
// the partners above it, whose own prices to it these are not. PermissionDenied
// / "AuthorizationFailed" for a PartnerAdmin above it; NotFound /
// "PartnerNotFound" for everyone else.
absl::Status CheckRebillingAccess(const Caller& caller, const HistoryView& view,
                                  const PartnerId& partner_id, Timestamp now);

// OK for PlatformAdmins; PermissionDenied / "AuthorizationFailed" otherwise.
absl::Status CheckPlatformAdmin(const Caller& caller);

// OK when the caller is the stack identity of `cloud_id` (its activation key);
// PermissionDenied / "AuthorizationFailed" otherwise.
absl::Status CheckStackIdentity(const Caller& caller, Guid cloud_id);

// Who may map stack subscribers of `registration`'s cloud (SPEC §4): the
// stack's own activation key, a PartnerAdmin over the default subscription,
// or a PlatformAdmin. PermissionDenied / "AuthorizationFailed" for a stack key
// of another cloud; otherwise the codes of CheckSubscriptionAccess, with
// Owners of the default subscription refused 403 (they are not listed).
absl::Status CheckSubscriberMappingAccess(const Caller& caller, const HistoryView& view,
                                          const Registration& registration, Timestamp now);

// Quarantine of a stack (SPEC §6): Owners and Readers of the registration's
// default subscription, partners over it, PlatformAdmins. Codes as
// CheckSubscriptionAccess with kRead.
absl::Status CheckQuarantineAccess(const Caller& caller, const HistoryView& view,
                                   const Registration& registration, Timestamp now);

// Invoices billed to `bill_to` (SPEC §6): for a partner, PartnerAdmins of that
// partner (or of a partner above it) and PlatformAdmins; for a direct-billed
// subscription, its Owners and Readers and PlatformAdmins. NotFound /
// "InvoiceNotFound" otherwise. Customer-directory principals never reach a
// partner's invoice because they hold no PartnerAdmin role on it (R8); a
// subscription a partner owns is not a bill-to party of its own, so its
// Owners and Readers find nothing there either (only the partner chain does).
absl::Status CheckInvoiceAccess(const Caller& caller, const HistoryView& view,
                                const BillTo& bill_to, Timestamp now);

// Commerce usage of one subscription (SPEC §6 read access, R8): the bill-to
// chain — PartnerAdmins over the subscription — and PlatformAdmins; for a
// direct-billed subscription (no partner owns it) also its Owners and
// Readers. A principal of the customer's side — an Owner or Reader of a
// partner-owned subscription, or any principal of its directory — gets
// PermissionDenied / "BillingDataNotVisible": that usage is billed through
// the partner. NotFound / "SubscriptionNotFound" for everyone else.
absl::Status CheckBillingDataAccess(const Caller& caller, const HistoryView& view,
                                    Guid subscription_id, Timestamp now);

// No escalation (SPEC §6): may the caller grant `assignment`?
//  - the role must fit the scope: PlatformAdmin on "/", PartnerAdmin on
//    "/partners/{id}", Owner/Reader on "/subscriptions/{id}" (else
//    InvalidArgument / "InvalidRoleAssignment"; malformed scope: "InvalidScope");
//  - only a PlatformAdmin grants PlatformAdmin or scope "/";
//  - a PartnerAdmin grants PartnerAdmin/Owner/Reader only inside its own chain
//    (a partner at or below its own, a subscription it is PartnerAdmin over);
//  - an Owner grants Owner/Reader on its own subscription (ARM's Owner);
//  - nobody else grants anything.
// PermissionDenied / "AuthorizationFailed" for every refusal above, except a
// subscription scope the caller cannot even read (another partner's, or
// none): NotFound / "SubscriptionNotFound", so existence does not leak.
absl::Status CheckCanGrant(const Caller& caller, const HistoryView& view,
                           const RoleAssignment& assignment, Timestamp now);

// May the caller create a principal in `directory`? PlatformAdmins anywhere; a
// PartnerAdmin only in a directory owned by a partner it is PartnerAdmin over.
// PermissionDenied / "AuthorizationFailed" otherwise.
absl::Status CheckCanCreatePrincipal(const Caller& caller, const HistoryView& view,
                                     const Directory& directory, Timestamp now);

// Tokens are minted only for oneself unless by a PlatformAdmin.
// PermissionDenied / "AuthorizationFailed" otherwise.
absl::Status CheckCanMintToken(const Caller& caller, Guid principal_id);

}  // namespace stackbill
