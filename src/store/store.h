#pragma once

// The storage interfaces of stackbill: what every backend (SQLite now,
// PostgreSQL later) must do. One abstract interface per area, all reached
// through a Store; only the wiring names a backend, which returns a Store from
// a factory of the form
//   absl::StatusOr<std::unique_ptr<Store>> Open(const BackendOptions&);
// The store-contract suite (store/testing/store_contract.h) checks every
// statement made here against each backend.
//
// Conventions shared by every interface below:
//
//  * Atomicity. Every method is one transaction: it either takes full effect
//    or none (a failed call changes nothing).
//  * Thread-safety. Implementations are thread-safe: any method may be called
//    from any thread at once, and several Store instances, in one process or
//    in several, may share one database. Writes are serialised by the
//    database; a method that could not get the database within the backend's
//    busy timeout returns Unavailable (retry the call).
//  * Status codes. NotFound for an unknown key (the key named in the message);
//    AlreadyExists for a duplicate key; FailedPrecondition when the state of
//    the store forbids the change (a locked price sheet, a version that would
//    start before the current one); InvalidArgument for arguments that break
//    a stated REQUIRES; Unavailable for a busy database or a failed I/O that
//    may succeed when retried; DataLoss for a corrupt database; Internal for
//    anything else. Store-level product error codes are in `store_errors`.
//  * Effective dating (SPEC §1). Versioned facts (partner parent links,
//    subscription ownership, registrations, customer subscriptions, stack
//    subscribers) have a half-open Validity [from, to). Nothing is deleted:
//    ending a fact sets `to`. A new version starting at `at` ends the version
//    in force at `at`; a version can never start before the start of the
//    version it replaces (FailedPrecondition / VersionOutOfOrder), and a
//    version starting exactly at the start of the version in force replaces
//    it in place (so no version is ever empty except one ended at its start).
//  * Money. Quantities, unit prices and amounts round-trip exactly (R14); no
//    backend may sum them in SQL.
//  * Time. The store never reads the clock: every instant it records is passed
//    in by the caller. Timestamps round-trip to the microsecond at least
//    (SQLite keeps nanoseconds; PostgreSQL keeps microseconds).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/decimal.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/time.h"

namespace stackbill {

// Product error codes (see core/error.h) used by the stores.
namespace store_errors {
inline constexpr std::string_view kVersionOutOfOrder = "VersionOutOfOrder";
inline constexpr std::string_view kInvalidToken = "InvalidToken";
inline constexpr std::string_view kInvalidActivationKey = "InvalidActivationKey";
inline constexpr std::string_view kCloudAlreadyRegistered = "CloudAlreadyRegistered";
inline constexpr std::string_view kRegistrationCloudIdMismatch = "RegistrationCloudIdMismatch";
inline constexpr std::string_view kPriceSheetLocked = "PriceSheetLocked";
inline constexpr std::string_view kPeriodsCloseInOrder = "PeriodsCloseInOrder";
inline constexpr std::string_view kPeriodClosed = "PeriodClosed";
inline constexpr std::string_view kInvalidCursor = "InvalidCursor";
inline constexpr std::string_view kInvalidPageSize = "InvalidPageSize";
inline constexpr std::string_view kStoreSchemaTooNew = "StoreSchemaTooNew";
inline constexpr std::string_view kHistoryChanged = "HistoryChanged";
inline constexpr std::string_view kUsageNotFound = "UsageNotFound";
}  // namespace store_errors

// ---------------------------------------------------------------------------
// Paging. Lists that can grow without bound are read a page at a time.

inline constexpr int kMaxPageSize = 10000;

// Filters and requests below give every field a default (`{}`) so that they
// read well as designated initializers: ListUsage({.cloud_id = id}, {}).

struct PageRequest {
  std::string cursor{};  // empty: the first page; else a Page::next_cursor
  int limit = 100;       // REQUIRES: 1 <= limit <= kMaxPageSize (else InvalidPageSize)
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;  // empty when there is nothing after this page
};

// ---------------------------------------------------------------------------
// Identity: directories, principals, bearer tokens and role assignments (§6).

// A bearer token as stored: only a hash of the secret is ever kept.
struct TokenRecord {
  std::string id;     // public id (DELETE /v1/tokens/{id})
  Guid principal_id;  // whose token it is
  std::string hash;   // digest of the secret (bytes); unique
  Timestamp created_at;
  Timestamp expires_at;  // exclusive
  std::optional<Timestamp> revoked_at;

  // Not revoked at or before `now`, and `now` < expires_at.
  bool IsActiveAt(Timestamp now) const;
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  // Adds a directory. Domains are unique across directories, compared
  // case-insensitively. REQUIRES: no domain repeated (InvalidArgument).
  // AlreadyExists when the id or a domain is taken; NotFound when
  // owner_partner_id names no partner.
  virtual absl::Status CreateDirectory(const Directory& directory) = 0;
  // Replaces display name, domains and owner partner of an existing directory.
  // NotFound for an unknown id or owner partner; AlreadyExists when a domain
  // belongs to another directory.
  virtual absl::Status UpdateDirectory(const Directory& directory) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<Directory> GetDirectory(const Guid& id) = 0;
  // The directory owning `domain` (case-insensitive). NotFound when none does.
  virtual absl::StatusOr<Directory> FindDirectoryByDomain(std::string_view domain) = 0;
  // Every directory, ordered by id.
  virtual absl::StatusOr<std::vector<Directory>> ListDirectories() = 0;

  // Adds a principal. Names are unique per directory, case-insensitively.
  // AlreadyExists for a taken object id or name; NotFound for an unknown
  // directory.
  virtual absl::Status CreatePrincipal(const Principal& principal) = 0;
  // NotFound for an unknown object id.
  virtual absl::StatusOr<Principal> GetPrincipal(const Guid& object_id) = 0;
  // By (directory, name), name compared case-insensitively. NotFound if none.
  virtual absl::StatusOr<Principal> FindPrincipalByName(const Guid& directory_id,
                                                        std::string_view name) = 0;
  // Principals of one directory, or all of them; ordered by object id.
  virtual absl::StatusOr<std::vector<Principal>> ListPrincipals(
      const std::optional<Guid>& directory_id) = 0;

  // Stores a token. REQUIRES: non-empty id and hash, no revoked_at
  // (InvalidArgument). AlreadyExists when the id or the hash is taken;
  // NotFound for an unknown principal.
  virtual absl::Status CreateToken(const TokenRecord& token) = 0;
  // NotFound for an unknown id (the record is returned revoked or expired).
  virtual absl::StatusOr<TokenRecord> GetToken(std::string_view id) = 0;
  // The token whose hash is `hash`, if it is active at `now`. NotFound /
  // InvalidToken when no token has that hash, or it expired, or was revoked —
  // the three are deliberately not told apart.
  virtual absl::StatusOr<TokenRecord> FindTokenByHash(std::string_view hash, Timestamp now) = 0;
  // A principal's tokens (active or not), ordered by created_at then id.
  virtual absl::StatusOr<std::vector<TokenRecord>> ListTokens(const Guid& principal_id) = 0;
  // Revokes a token from `at` on and returns it. Revoking a revoked token
  // keeps the first revocation time. NotFound for an unknown id.
  virtual absl::StatusOr<TokenRecord> RevokeToken(std::string_view id, Timestamp at) = 0;

  // Creates or replaces the assignment with this id; returns true when it was
  // created. REQUIRES: non-empty id. NotFound for an unknown principal.
  virtual absl::StatusOr<bool> PutRoleAssignment(const RoleAssignment& assignment) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<RoleAssignment> GetRoleAssignment(std::string_view id) = 0;
  // One principal's assignments, or all; ordered by id.
  virtual absl::StatusOr<std::vector<RoleAssignment>> ListRoleAssignments(
      const std::optional<Guid>& principal_id) = 0;
  // NotFound for an unknown id.
  virtual absl::Status DeleteRoleAssignment(std::string_view id) = 0;

  // The server secret `name` shared by every node on this store (e.g. the
  // key that signs continuation tokens): `candidate` becomes it when none is
  // stored yet, atomically; the stored one is returned either way.
  // REQUIRES: candidate not empty (InvalidArgument).
  virtual absl::StatusOr<std::string> ServerSecret(std::string_view name,
                                                   std::string_view candidate) = 0;
};

// ---------------------------------------------------------------------------
// Parties: partners with their effective-dated parent links, subscriptions
// with their effective-dated ownership.

struct SubscriptionFilter {
  std::optional<PartnerId> partner_id{};  // current owner partner
  std::optional<Guid> directory_id{};
};

class PartyStore {
 public:
  virtual ~PartyStore() = default;

  // Adds a partner and its first parent-link version [at, open) (with no
  // parent when `parent` is empty). AlreadyExists for a taken id; NotFound for
  // an unknown parent; InvalidArgument when the partner is its own parent.
  virtual absl::Status CreatePartner(const Partner& partner, const std::optional<PartnerId>& parent,
                                     Timestamp at) = 0;
  // Replaces name, kind and billing currency. NotFound for an unknown id.
  virtual absl::Status UpdatePartner(const Partner& partner) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<Partner> GetPartner(std::string_view id) = 0;
  // Ordered by id.
  virtual absl::StatusOr<std::vector<Partner>> ListPartners() = 0;
  // Starts a new parent-link version at `at` (see the versioning rules at the
  // top); a no-op when the parent in force is already `parent`. NotFound for
  // an unknown partner or parent; InvalidArgument for a self-parent;
  // FailedPrecondition / VersionOutOfOrder.
  virtual absl::Status SetPartnerParent(std::string_view partner_id,
                                        const std::optional<PartnerId>& parent, Timestamp at) = 0;
  // Every version of a partner's parent link, ordered by from. NotFound for
  // an unknown partner.
  virtual absl::StatusOr<std::vector<PartnerParentLink>> ListPartnerParentLinks(
      std::string_view partner_id) = 0;

  // Adds a subscription and its first ownership version [at, open) with
  // subscription.partner_id. AlreadyExists for a taken id; NotFound for an
  // unknown directory or partner.
  virtual absl::Status CreateSubscription(const Subscription& subscription, Timestamp at) = 0;
  // Replaces display name, state, offer type, directory and billing currency;
  // the owner partner changes only through TransferSubscription
  // (InvalidArgument when subscription.partner_id differs). NotFound for an
  // unknown id or directory.
  virtual absl::Status UpdateSubscription(const Subscription& subscription) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<Subscription> GetSubscription(const Guid& id) = 0;
  // Ordered by id.
  virtual absl::StatusOr<std::vector<Subscription>> ListSubscriptions(
      const SubscriptionFilter& filter) = 0;
  // Starts a new ownership version at `at` and sets the subscription's
  // partner_id; a no-op when `partner` already owns it. NotFound for an
  // unknown subscription or partner; FailedPrecondition / VersionOutOfOrder.
  virtual absl::Status TransferSubscription(const Guid& subscription_id,
                                            const std::optional<PartnerId>& partner,
                                            Timestamp at) = 0;
  // Every ownership version, ordered by from. NotFound for an unknown id.
  virtual absl::StatusOr<std::vector<SubscriptionOwnership>> ListSubscriptionOwnership(
      const Guid& subscription_id) = 0;
};

// ---------------------------------------------------------------------------
// Registrations: stacks, billing-model approvals, registration versions (and
// with them the cloudId claims of R3), customer subscriptions, stack
// subscribers and activation keys.
//
// Invariant: at most one registration version per cloudId is live (to empty):
// the live registration *is* the claim on its cloudId (R3), and the versions
// of one cloudId never overlap in time.

struct PutRegistrationResult {
  Registration registration;  // the version now in force
  bool created = false;       // no registration of that name was live before
  // The version this put ended, if any (none when the new version replaced
  // one that started at the same instant).
  std::optional<Registration> previous;
};

struct PutCustomerSubscriptionResult {
  CustomerSubscription customer_subscription;  // the version now in force
  bool created = false;  // no version of this customer subscription was live before
  // Earlier versions that this put ended (as they are now): the tenant's
  // earlier mapping, or this customer subscription's mapping of another tenant.
  std::vector<CustomerSubscription> ended;
};

struct RegistrationFilter {
  std::optional<Guid> subscription_id{};        // the default subscription
  std::optional<std::string> resource_group{};  // case-insensitive; needs subscription_id
};

// An activation key (§3) as stored: a hash of the secret and its cloudId.
struct ActivationKeyRecord {
  std::string hash;  // unique
  Guid cloud_id;
  Timestamp created_at;
  std::optional<Timestamp> expires_at;  // exclusive; none until rotated or drained

  bool IsActiveAt(Timestamp now) const { return !expires_at || now < *expires_at; }
  friend bool operator==(const ActivationKeyRecord&, const ActivationKeyRecord&) = default;
};

class RegistrationStore {
 public:
  virtual ~RegistrationStore() = default;

  // NotFound for an unknown cloudId. Stacks are written only by
  // PutRegistration, so that a refused registration never changes a stack.
  virtual absl::StatusOr<Stack> GetStack(const Guid& cloud_id) = 0;
  // Ordered by cloudId.
  virtual absl::StatusOr<std::vector<Stack>> ListStacks() = 0;

  // Creates or replaces the approval for approval.cloud_id (R9).
  virtual absl::Status PutBillingModelApproval(const BillingModelApproval& approval) = 0;
  // NotFound when the cloudId has no approval.
  virtual absl::StatusOr<BillingModelApproval> GetBillingModelApproval(const Guid& cloud_id) = 0;

  // Records `stack` (as decoded from the token) and a registration version
  // starting at registration.valid.from, atomically:
  //  * the live registration of that name has the same terms (everything but
  //    validity): nothing changes, created = false;
  //  * it has other terms: it is ended at from and the new version starts
  //    (versioning rules at the top);
  //  * none is live: the new version starts, created = true.
  // REQUIRES: registration.valid.to empty, stack.cloud_id ==
  // registration.cloud_id (InvalidArgument). AlreadyExists /
  // CloudAlreadyRegistered when another registration is live for the cloudId
  // (R3); FailedPrecondition / RegistrationCloudIdMismatch when the live
  // version of this name has another cloudId; FailedPrecondition /
  // VersionOutOfOrder when a version of this name or cloudId ends after from;
  // NotFound for an unknown default subscription. The stack is written
  // whenever the call succeeds, and only then.
  virtual absl::StatusOr<PutRegistrationResult> PutRegistration(const Registration& registration,
                                                                const Stack& stack) = 0;
  // The live version of a registration (names compare as RegistrationName::Key
  // does: subscription, case-insensitive resource group and name). NotFound
  // when none is live.
  virtual absl::StatusOr<Registration> GetRegistration(const RegistrationName& name) = 0;
  // The live registration of a cloudId — its claim holder. NotFound if none.
  virtual absl::StatusOr<Registration> FindRegistrationByCloud(const Guid& cloud_id) = 0;
  // Live registrations matching `filter`, ordered by subscription, resource
  // group and name. InvalidArgument for a resource group without subscription.
  virtual absl::StatusOr<std::vector<Registration>> ListRegistrations(
      const RegistrationFilter& filter) = 0;
  // Every version of a registration, ordered by from (empty if never put).
  virtual absl::StatusOr<std::vector<Registration>> ListRegistrationVersions(
      const RegistrationName& name) = 0;
  // Ends the live version at `at` (DELETE), and with it the cloudId claim and
  // every customer subscription of the registration still in force (one that
  // would only start after `at` is ended at its start). Returns
  // the ended version. NotFound when none is live; FailedPrecondition /
  // VersionOutOfOrder when at < its from.
  virtual absl::StatusOr<Registration> EndRegistration(const RegistrationName& name,
                                                       Timestamp at) = 0;
  // PlatformAdmin (R3): releases the claim on `cloud_id` by ending its live
  // registration at `at` exactly as EndRegistration does. Returns the ended
  // version. NotFound when the cloudId is not claimed.
  virtual absl::StatusOr<Registration> ReleaseCloudClaim(const Guid& cloud_id, Timestamp at) = 0;

  // Maps a tenant to a customer subscription on a live registration from
  // cs.valid.from on (R6), in one transaction:
  //  * the live version of this customer subscription for this tenant started
  //    at or before from: nothing changes (an idempotent re-PUT);
  //  * otherwise every version on this registration for the same tenant or the
  //    same customer subscription that is in force at or after from is ended
  //    at from (they are returned in `ended`), and the new version starts; if
  //    the live version for this subscription and tenant started after from
  //    (a PlatformAdmin's effectiveFrom correction), its start moves to from.
  // cs.registration and cs.cloud_id are taken from the live registration.
  // REQUIRES: cs.valid.to empty (InvalidArgument). NotFound when the
  // registration is not live or the customer subscription is not a known
  // subscription; FailedPrecondition / VersionOutOfOrder when one of those
  // versions started at or after from (other than the one being moved).
  virtual absl::StatusOr<PutCustomerSubscriptionResult> PutCustomerSubscription(
      const CustomerSubscription& cs) = 0;
  // The live version. NotFound when none is live.
  virtual absl::StatusOr<CustomerSubscription> GetCustomerSubscription(
      const RegistrationName& registration, const Guid& customer_subscription_id) = 0;
  // Live versions on a registration, ordered by customer subscription id.
  virtual absl::StatusOr<std::vector<CustomerSubscription>> ListCustomerSubscriptions(
      const RegistrationName& registration) = 0;
  // Every version on a registration, ordered by customer subscription id, from.
  virtual absl::StatusOr<std::vector<CustomerSubscription>> ListCustomerSubscriptionVersions(
      const RegistrationName& registration) = 0;
  // Ends the live version at `at` and returns it. NotFound when none is live
  // (the 204 of DELETE); FailedPrecondition / VersionOutOfOrder if at < from.
  virtual absl::StatusOr<CustomerSubscription> EndCustomerSubscription(
      const RegistrationName& registration, const Guid& customer_subscription_id, Timestamp at) = 0;

  // Maps (cloudId, local subscription) to a tenant from subscriber.valid.from
  // on (versioning rules at the top); a no-op returning false when that
  // tenant is already mapped, true otherwise. REQUIRES: valid.to empty.
  // NotFound for an unknown stack; FailedPrecondition / VersionOutOfOrder.
  virtual absl::StatusOr<bool> PutStackSubscriber(const StackSubscriber& subscriber) = 0;
  // The live version. NotFound when none is live.
  virtual absl::StatusOr<StackSubscriber> GetStackSubscriber(const Guid& cloud_id,
                                                             const Guid& local_subscription_id) = 0;
  // Live versions of a stack, ordered by local subscription id.
  virtual absl::StatusOr<std::vector<StackSubscriber>> ListStackSubscribers(
      const Guid& cloud_id) = 0;
  // Ends the live version at `at` and returns it. NotFound when none is live;
  // FailedPrecondition / VersionOutOfOrder if at < its from.
  virtual absl::StatusOr<StackSubscriber> EndStackSubscriber(const Guid& cloud_id,
                                                             const Guid& local_subscription_id,
                                                             Timestamp at) = 0;

  // Stores a new activation key for key.cloud_id and makes every other key of
  // that cloudId expire at `previous_expire_at` (or earlier, if it already
  // expires earlier): the grace period of §3. REQUIRES: non-empty hash.
  // AlreadyExists for a taken hash; NotFound for an unknown stack.
  virtual absl::Status RotateActivationKey(const ActivationKeyRecord& key,
                                           Timestamp previous_expire_at) = 0;
  // The key with this hash if it is active at `now`. NotFound /
  // InvalidActivationKey when unknown or expired (not told apart).
  virtual absl::StatusOr<ActivationKeyRecord> FindActivationKeyByHash(std::string_view hash,
                                                                      Timestamp now) = 0;
  // Makes every key of the cloudId expire at `at` or earlier (the drain window
  // after a DELETE). Not an error when the cloudId has no keys.
  virtual absl::Status ExpireActivationKeys(const Guid& cloud_id, Timestamp at) = 0;

  // Every effective-dated fact (all versions) in one consistent snapshot, for
  // the routing core, with the history version it was read at. Each list is
  // ordered by its key, then from.
  virtual absl::StatusOr<History> LoadHistory() = 0;
  // The history version: it increases with every committed change of a fact
  // that LoadHistory returns (any Store sharing the database sees it).
  virtual absl::StatusOr<std::int64_t> HistoryVersion() = 0;
};

// ---------------------------------------------------------------------------
// Meters: the built-in catalogue and PlatformAdmins' custom meters.

class MeterStore {
 public:
  virtual ~MeterStore() = default;

  // Adds a meter. AlreadyExists for a taken meter id.
  virtual absl::Status CreateMeter(const Meter& meter) = 0;
  // Creates or replaces each meter, all in one transaction; returns how many
  // were created. REQUIRES: no meter id repeated (InvalidArgument).
  virtual absl::StatusOr<int> PutMeters(std::span<const Meter> meters) = 0;
  // NotFound for an unknown meter id.
  virtual absl::StatusOr<Meter> GetMeter(const Guid& meter_id) = 0;
  // Ordered by meter id.
  virtual absl::StatusOr<std::vector<Meter>> ListMeters() = 0;
};

// ---------------------------------------------------------------------------
// Usage: accepted records, deduplicated per (cloudId, identity) (R10, R11).

enum class UsageOutcome {
  kAccepted,              // stored now
  kDuplicate,             // that identity was stored before with the same content_hash
  kConflictingDuplicate,  // stored before with another content_hash; nothing changed
};
std::string_view ToString(UsageOutcome outcome);

struct UsageFilter {
  std::optional<Guid> cloud_id{};
  std::optional<Guid> billed_subscription_id{};
  std::optional<Timestamp> usage_start_from{};  // inclusive, on usage_start
  std::optional<Timestamp> usage_start_to{};    // exclusive
  std::optional<Timestamp> reported_from{};     // inclusive, on reported_time
  std::optional<Timestamp> reported_to{};       // exclusive
};

// The stored usage of one (billed subscription, meter): how many records and
// their exact total quantity.
struct UsageTotal {
  Guid billed_subscription_id;
  Guid meter_id;
  std::int64_t records = 0;
  Quantity quantity;
  friend bool operator==(const UsageTotal&, const UsageTotal&) = default;
};

// Aggregates of stored usage (SPEC §7), answered from rollups that the store
// keeps in the same transaction as every write of usage — ingest, re-route,
// supersede — so a query never scans raw records and is exact under all of
// them. Quantities are summed in C++ decimals, never in SQL (R14).
enum class UsageTimeBasis {
  kReported,  // the window selects by reported time (SPEC §4; Azure's UsageAggregates)
  kUsage,     // by usage start time
};
enum class UsageGranularity { kHour, kDay, kMonth };

// One aggregate: the usage in one usage-time bucket [start, end) of one
// combination of the requested dimensions (the others are unset).
struct UsageAggregate {
  Timestamp start;
  Timestamp end;
  std::optional<Guid> billed_subscription_id{};
  std::optional<Guid> tenant_id{};
  std::optional<Guid> meter_id{};
  std::optional<Guid> cloud_id{};
  std::optional<Guid> local_subscription_id{};
  std::optional<std::string> resource_uri{};
  std::string instance_data{};  // per resource: the latest record's canonical instanceData
  std::int64_t records = 0;
  Quantity quantity{};
  friend bool operator==(const UsageAggregate&, const UsageAggregate&) = default;
};

// Where an aggregate sorts in AggregateUsage's order — (start, subscription,
// tenant, meter, stack, stack-local subscription, resource), unset before
// set — for paging: the next page starts after the last aggregate's key.
struct UsageAggregateKey {
  Timestamp start;
  std::optional<Guid> billed_subscription_id{};
  std::optional<Guid> tenant_id{};
  std::optional<Guid> meter_id{};
  std::optional<Guid> cloud_id{};
  std::optional<Guid> local_subscription_id{};
  std::optional<std::string> resource_uri{};

  static UsageAggregateKey Of(const UsageAggregate& a) {
    return {a.start,    a.billed_subscription_id, a.tenant_id,   a.meter_id,
            a.cloud_id, a.local_subscription_id,  a.resource_uri};
  }
  friend bool operator==(const UsageAggregateKey&, const UsageAggregateKey&) = default;
  friend auto operator<=>(const UsageAggregateKey&, const UsageAggregateKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const UsageAggregateKey& k) {
    return H::combine(std::move(h), k.start.unix_seconds(), k.start.nanos(),
                      k.billed_subscription_id, k.tenant_id, k.meter_id, k.cloud_id,
                      k.local_subscription_id, k.resource_uri);
  }
};

struct UsageAggregateFilter {
  UsageTimeBasis basis = UsageTimeBasis::kReported;
  // The window, [from, to), on `basis`: whole UTC hours (InvalidArgument /
  // "InvalidTimeWindow" otherwise). A window of whole days at a day or month
  // granularity reads the daily rollups, any other the hourly ones.
  Timestamp from;
  Timestamp to;
  UsageGranularity granularity = UsageGranularity::kDay;
  // Only usage billed to these subscriptions (the caller's visible ones; an
  // empty list: none), of these stacks.
  std::optional<std::vector<Guid>> billed_subscription_ids{};
  std::optional<std::vector<Guid>> cloud_ids{};
  // … reported under these stack-local subscriptions (the provider API's
  // subscriberId).
  std::optional<std::vector<Guid>> local_subscription_ids{};
  // The dimensions the result is per, besides the usage-time bucket.
  bool by_subscription = false;
  bool by_tenant = false;
  bool by_meter = false;
  bool by_stack = false;
  bool by_local_subscription = false;
  bool by_resource = false;
  // Paging: only the aggregates after `after` in the result's order, and at
  // most `limit` of them (0: all).
  std::optional<UsageAggregateKey> after{};
  std::size_t limit = 0;
};

// A re-route (R13): a stored record's new routing and reported time.
struct RoutingUpdate {
  Guid cloud_id;
  std::string identity;
  Routing routing;
  Timestamp reported_time;
};

// A record that failed validation, kept with the reason and raw text until
// replayed (R10); the quarantine area below stores them.
struct QuarantineEntry {
  std::int64_t id = 0;  // assigned by the store (increasing); ignored by AddQuarantine
  Guid cloud_id;
  Timestamp received_at;
  std::string code;  // "UnknownMeter", "ConflictingDuplicate", …
  std::string message;
  std::string raw_text;   // the record exactly as received (bytes, need not be UTF-8)
  std::string record_id;  // the record's `id`, when it had one
  std::optional<Timestamp> replayed_at;  // set by MarkReplayed
  friend bool operator==(const QuarantineEntry&, const QuarantineEntry&) = default;
};

// What a store works out about an ingest write's records before their
// transaction, on the caller's thread (UsageStore::PrepareIngest), so that
// the write, which a store serializes, does less (issue 8).
class PreparedIngest {
 public:
  virtual ~PreparedIngest() = default;
};

// One ingest request's write: accepted-to-be records, the records that failed
// validation, and the checks that must hold at commit.
struct IngestWrite {
  std::span<const UsageRecord> records;
  // Parallel to records: each record's raw text, quarantined with
  // ConflictingDuplicate when its identity is stored with other content.
  std::span<const std::string_view> raw_texts;
  // Parallel to records when non-empty: the quarantine entry a record is a
  // replay of (0: none). Accepted and duplicate replays mark their entry
  // replayed at received_at; a replay that conflicts is not quarantined again.
  std::span<const std::int64_t> replay_of;
  // Records that failed validation, added to the quarantine.
  std::span<const QuarantineEntry> quarantine;
  Timestamp received_at;
  // When set, the write commits only if the history version is still this
  // one (FailedPrecondition / HistoryChanged otherwise, nothing written): the
  // records were routed with that history (R13).
  std::optional<std::int64_t> history_version;
  // Optional: this store's PrepareIngest(records). The write only reads it,
  // so that a write run again (after a deadlock) finds it whole.
  PreparedIngest* prepared = nullptr;
};

struct IngestWriteResult {
  std::vector<UsageOutcome> outcomes;        // per record, as WriteUsage
  std::vector<std::int64_t> quarantine_ids;  // per IngestWrite::quarantine entry
  // Per record: the quarantine id of a conflicting duplicate (0: none).
  std::vector<std::int64_t> conflict_ids;
};

// A pending re-route (R13): stored usage of `cloud_id` (none: every cloud)
// whose usageStartTime is at or after `from` may route differently since a
// change of the effective-dated history.
struct RerouteMarker {
  std::int64_t id = 0;
  std::optional<Guid> cloud_id;
  Timestamp from;
  friend bool operator==(const RerouteMarker&, const RerouteMarker&) = default;
};

// R11: a PlatformAdmin's replacement of a stored record's content.
struct UsageSupersession {
  std::int64_t id = 0;  // assigned by the store
  Guid cloud_id;
  std::string identity;
  Timestamp at;
  Guid actor_principal_id;
  std::string reason;
  // What was replaced (for closed-period adjustments).
  Guid old_meter_id;
  Quantity old_quantity;
  Timestamp old_usage_start;
  Guid old_billed_subscription_id;
  std::string old_content_hash;
  Quantity new_quantity;
  friend bool operator==(const UsageSupersession&, const UsageSupersession&) = default;
};

// Per stack: the last accepted usage and how many records were accepted.
struct StackIngestStats {
  Timestamp last_received_at;
  std::int64_t accepted = 0;
};

class UsageStore {
 public:
  virtual ~UsageStore() = default;

  // THE INGEST CONTRACT (R10, R11). Writes a batch and returns one outcome per
  // input record, in input order:
  //  * All or nothing, and durable: when it returns OK every accepted record
  //    is stored and survives a crash of the process (and, with the backend's
  //    full durability, power loss); on error nothing of the batch is stored.
  //  * Exactly once: each identity (cloud_id, identity bytes) is accepted at
  //    most once over the life of the database, however many callers —
  //    threads, Store instances, processes, server nodes — write it at the
  //    same time. A later write of a stored identity is kDuplicate when its
  //    content_hash equals the stored one and kConflictingDuplicate otherwise;
  //    neither changes anything.
  //  * Within one batch a repeated identity is a duplicate (or conflicting
  //    duplicate) of its first occurrence.
  // REQUIRES: every record has a non-empty identity and content_hash
  // (InvalidArgument; nothing is written).
  virtual absl::StatusOr<std::vector<UsageOutcome>> WriteUsage(
      std::span<const UsageRecord> batch) = 0;
  // NotFound for an unknown (cloudId, identity).
  virtual absl::StatusOr<UsageRecord> GetUsage(const Guid& cloud_id, std::string_view identity) = 0;
  // Records matching `filter` in acceptance order. InvalidArgument for a bad
  // cursor or page size.
  virtual absl::StatusOr<Page<UsageRecord>> ListUsage(const UsageFilter& filter,
                                                      const PageRequest& page) = 0;
  // How many records match `filter` (a count of records, never a sum).
  virtual absl::StatusOr<std::int64_t> CountUsage(const UsageFilter& filter) = 0;
  // The records matching `filter` per (billed subscription, meter), summed
  // exactly, in (subscription, meter) order. OutOfRange when a total exceeds
  // a quantity's bound.
  virtual absl::StatusOr<std::vector<UsageTotal>> SumUsage(const UsageFilter& filter) = 0;
  // Applies every update or none. NotFound (and nothing changes) when one
  // names an unknown (cloudId, identity).
  virtual absl::Status UpdateRouting(std::span<const RoutingUpdate> updates) = 0;
  // The usage matching `filter`, summed exactly per bucket and requested
  // dimensions, ordered by (start, subscription, tenant, meter, stack,
  // stack-local subscription, resource). OutOfRange when a sum exceeds a quantity's bound.
  virtual absl::StatusOr<std::vector<UsageAggregate>> AggregateUsage(
      const UsageAggregateFilter& filter) = 0;

  // The ingest path (SPEC §4): in ONE transaction, writes the records with
  // WriteUsage's contract, quarantines conflicting duplicates and the
  // validation failures, marks replayed entries, and counts the stack's
  // accepted records (StackIngestStats). All or nothing; durable when OK.
  // REQUIRES: raw_texts (and replay_of, when non-empty) parallel to records
  // (InvalidArgument). FailedPrecondition / HistoryChanged as documented on
  // IngestWrite::history_version.
  absl::StatusOr<IngestWriteResult> WriteIngest(const IngestWrite& write);
  // Several requests' writes in ONE transaction (a group commit), each as
  // WriteIngest would write it, in order — a later write's record whose
  // identity an earlier one accepted is its duplicate — and one result per
  // write. All or nothing. REQUIRES: a non-empty group, every write with the
  // same history_version (InvalidArgument).
  virtual absl::StatusOr<std::vector<IngestWriteResult>> WriteIngestGroup(
      std::span<const IngestWrite* const> writes) = 0;
  // Work on `records` that needs no transaction — done by the caller's thread
  // before the write, for IngestWrite::prepared. None (the default) when the
  // store has nothing to prepare; the write is exact either way.
  virtual std::unique_ptr<PreparedIngest> PrepareIngest(std::span<const UsageRecord> records);
  // How many WriteIngestGroup transactions are worth running at once: 1 (the
  // default) where write transactions run one at a time (SQLite); more where
  // ingest groups are written side by side (PostgreSQL).
  virtual int IngestGroupsAtOnce() const { return 1; }

  // Pending re-routes, oldest first.
  virtual absl::StatusOr<std::vector<RerouteMarker>> ListRerouteMarkers() = 0;
  // Deletes markers (done); unknown ids are ignored.
  virtual absl::Status DeleteRerouteMarkers(std::span<const std::int64_t> ids) = 0;

  // R11: replaces the content of the stored record (replacement.cloud_id,
  // replacement.identity) — tenant, subscription, meter, quantity, window,
  // resource, instanceData, content hash, routing, reported time — and records
  // the supersession, in one transaction. Returns the record as it was.
  // NotFound / UsageNotFound for an unknown record.
  virtual absl::StatusOr<UsageRecord> SupersedeUsage(const UsageRecord& replacement,
                                                     const UsageSupersession& supersession) = 0;
  // Supersessions, oldest first; of one cloud when given.
  virtual absl::StatusOr<std::vector<UsageSupersession>> ListSupersessions(
      const std::optional<Guid>& cloud_id) = 0;
  // Per stack with accepted usage.
  virtual absl::StatusOr<std::map<Guid, StackIngestStats>> ListStackIngestStats() = 0;
};

// ---------------------------------------------------------------------------
// Quarantine: records that failed validation, kept with the reason and raw
// text until replayed (R10).

struct QuarantineFilter {
  std::optional<Guid> cloud_id{};
  // Only entries of these stacks (a caller's visible stacks); empty list: none.
  std::optional<std::vector<Guid>> cloud_ids{};
  // Only these entries.
  std::optional<std::vector<std::int64_t>> ids{};
  std::optional<std::string> code{};
  std::optional<Timestamp> received_from{};  // inclusive
  std::optional<Timestamp> received_to{};    // exclusive
  bool include_replayed = false;
};

class QuarantineStore {
 public:
  virtual ~QuarantineStore() = default;

  // Adds the entries in one transaction and returns their ids, in order. An
  // entry whose raw_text is already pending (not replayed) for its cloud is
  // not added again (R11: a resent bad record changes nothing): that entry's
  // id is returned and it takes the new code and message.
  // REQUIRES: non-empty code, no replayed_at (InvalidArgument).
  virtual absl::StatusOr<std::vector<std::int64_t>> AddQuarantine(
      std::span<const QuarantineEntry> entries) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<QuarantineEntry> GetQuarantine(std::int64_t id) = 0;
  // Entries matching `filter`, oldest (lowest id) first. InvalidArgument for a
  // bad cursor or page size.
  virtual absl::StatusOr<Page<QuarantineEntry>> ListQuarantine(const QuarantineFilter& filter,
                                                               const PageRequest& page) = 0;
  virtual absl::StatusOr<std::int64_t> CountQuarantine(const QuarantineFilter& filter) = 0;
  // Entries not yet replayed, per stack (stacks with none are absent).
  virtual absl::StatusOr<std::map<Guid, std::int64_t>> CountPendingQuarantineByStack() = 0;
  // Marks entries replayed at `at`, all or none; an entry already replayed
  // keeps its first time. NotFound (nothing changes) for an unknown id.
  virtual absl::Status MarkReplayed(std::span<const std::int64_t> ids, Timestamp at) = 0;
};

// ---------------------------------------------------------------------------
// Price sheets (Azure RateCard semantics, SPEC §5).

// Whose list a sheet is: an offer type's list prices, a partner's overrides
// (what the partner is billed), or a partner's customer price sheet (what
// the partner re-bills its own customers at, SPEC §5; never used by a close).
struct PriceSheetOwner {
  enum class Kind { kOffer, kPartner, kCustomers };
  Kind kind = Kind::kOffer;
  OfferType offer_type = OfferType::kCsp;  // kOffer
  PartnerId partner_id;                    // kPartner, kCustomers

  static PriceSheetOwner Offer(OfferType offer);
  static PriceSheetOwner Partner(PartnerId partner);
  static PriceSheetOwner Customers(PartnerId partner);
  std::string ToString() const;  // "offer:CSP" / "partner:contoso" / "customers:contoso"
  friend bool operator==(const PriceSheetOwner&, const PriceSheetOwner&) = default;
};

struct PriceSheetKey {
  PriceSheetOwner owner;
  std::string currency;      // ISO 4217
  Timestamp effective_date;  // midnight UTC
  friend bool operator==(const PriceSheetKey&, const PriceSheetKey&) = default;
};

// One graduated tier: `unit_price` applies to the quantity from `start` up to
// the next tier's start (RateCard MeterRates).
struct PriceTier {
  Quantity start;
  UnitPrice unit_price;
  friend bool operator==(const PriceTier&, const PriceTier&) = default;
};

struct MeterPrice {
  Guid meter_id;
  std::vector<PriceTier> tiers;  // non-empty, strictly increasing start
  Quantity included_quantity;    // free units per subscription per period
  friend bool operator==(const MeterPrice&, const MeterPrice&) = default;
};

struct PriceSheet {
  PriceSheetKey key;
  std::vector<MeterPrice> meters;  // ordered by meter id when read back
  // Customer sheets only: meters not in `meters` are priced at the list
  // price × (1 + markup); without a markup, only `meters` are priced.
  std::optional<Markup> markup;
  std::optional<Timestamp> locked_at;  // set by the store; ignored by PutPriceSheet
  friend bool operator==(const PriceSheet&, const PriceSheet&) = default;
};

struct PriceSheetFilter {
  std::optional<PriceSheetOwner> owner{};
  std::optional<std::string> currency{};
};

class PriceSheetStore {
 public:
  virtual ~PriceSheetStore() = default;

  // Creates the version sheet.key or replaces its meters; returns true when it
  // was created. REQUIRES: each meter once, tiers non-empty with strictly
  // increasing start (InvalidArgument). FailedPrecondition / PriceSheetLocked
  // when that version is locked; NotFound for an unknown partner owner.
  virtual absl::StatusOr<bool> PutPriceSheet(const PriceSheet& sheet) = 0;
  // NotFound for an unknown key.
  virtual absl::StatusOr<PriceSheet> GetPriceSheet(const PriceSheetKey& key) = 0;
  // Versions matching `filter`, ordered by owner, currency, effective date.
  virtual absl::StatusOr<std::vector<PriceSheet>> ListPriceSheets(
      const PriceSheetFilter& filter) = 0;
  // Makes a version immutable from `at` on (a closed period used it). Locking
  // a locked version keeps its first time. NotFound for an unknown key.
  virtual absl::Status LockPriceSheet(const PriceSheetKey& key, Timestamp at) = 0;
};

// ---------------------------------------------------------------------------
// Billing periods and invoices (SPEC §5).

struct BillingPeriodRecord {
  YearMonth period;
  std::optional<Timestamp> closed_at;  // empty: open
  bool closed() const { return closed_at.has_value(); }
  friend bool operator==(const BillingPeriodRecord&, const BillingPeriodRecord&) = default;
};

// One tier of a rated line: `quantity` units at `unit_price` from `start`.
struct AppliedTier {
  Quantity start;
  Quantity quantity;
  UnitPrice unit_price;
  Amount amount;  // exact quantity × unit_price
  friend bool operator==(const AppliedTier&, const AppliedTier&) = default;
};

// An invoice line per (subscription, meter) (or an adjustment), with the names
// it is printed with captured at issue: an invoice never changes.
struct InvoiceLine {
  Guid subscription_id;
  std::string subscription_name;
  std::optional<Guid> customer_directory_id;  // the customer (CSP lines)
  std::string customer_name;
  std::optional<Guid> tenant_id;  // none on default-subscription lines
  std::optional<PartnerId> reseller_partner_id;
  std::string reseller_name;
  std::optional<Guid> meter_id;  // none on an adjustment not tied to a meter
  std::string meter_name;
  std::string unit;
  Quantity quantity;
  Quantity included_quantity;
  std::vector<AppliedTier> tiers;
  Amount amount;                              // rounded once, to the currency's minor unit (R14)
  std::optional<YearMonth> late_usage_month;  // set on late lines (R12)
  bool zero_rated = false;
  bool unpriced = false;
  bool adjustment = false;
  std::string description;  // an adjustment's reason
  friend bool operator==(const InvoiceLine&, const InvoiceLine&) = default;
};

struct Invoice {
  Guid id;             // chosen by the caller
  std::string number;  // "SB-2026-000001"; assigned by ClosePeriod
  YearMonth period;
  BillTo bill_to;
  std::string currency;
  Timestamp issued_at;  // the close time; set by ClosePeriod
  std::vector<InvoiceLine> lines;
  Amount total;  // the sum of the rounded line amounts, computed by the caller
  friend bool operator==(const Invoice&, const Invoice&) = default;
};

// "SB-{year}-{6-digit sequence}".
std::string FormatInvoiceNumber(int year, std::int64_t sequence);

// The ledger of what closes billed (R12): per usage month, billed
// subscription, meter and zero rating, the quantity invoiced so far — by the
// close of that month, then by late and adjustment lines of later closes. A
// later close bills the difference between the month's usage now and this.
struct BilledUsage {
  YearMonth usage_month;
  Guid billed_subscription_id;
  Guid meter_id;
  bool zero_rated = false;
  Quantity quantity;
  friend bool operator==(const BilledUsage&, const BilledUsage&) = default;
};

// A PlatformAdmin's credit (negative) or debit line on an open period's
// invoice for a subscription (SPEC §5), audited; immutable once added.
struct Adjustment {
  Guid id;  // chosen by the caller
  YearMonth period;
  Guid subscription_id;
  std::optional<Guid> meter_id;
  Amount amount;         // in `currency`, at most its minor unit's digits
  std::string currency;  // ISO 4217: the bill-to party's
  std::string reason;    // required
  Guid actor_principal_id;
  Timestamp created_at;
  friend bool operator==(const Adjustment&, const Adjustment&) = default;
};

struct ClosePeriodRequest {
  YearMonth period;
  Timestamp closed_at;
  std::vector<Invoice> invoices{};  // without number and issued_at
  std::vector<PriceSheetKey> price_sheets_to_lock{};
  // Ledger rows after this close, each replacing the row of its key (the
  // quantity is the new total billed, not an increment).
  std::vector<BilledUsage> billed{};
};

struct ClosePeriodResult {
  BillingPeriodRecord period;
  std::vector<Invoice> invoices;  // as stored, ordered by number
  bool newly_closed = false;      // false: the period was closed before (idempotent replay)
};

struct InvoiceFilter {
  std::optional<YearMonth> period{};
  std::optional<BillTo> bill_to{};
};

class BillingStore {
 public:
  virtual ~BillingStore() = default;

  // A period's state; a period never closed is open.
  virtual absl::StatusOr<BillingPeriodRecord> GetBillingPeriod(YearMonth period) = 0;
  // Closed periods, oldest first.
  virtual absl::StatusOr<std::vector<BillingPeriodRecord>> ListClosedBillingPeriods() = 0;
  // Closes a period in one transaction: marks it closed at closed_at, locks
  // the listed price sheets, and issues the invoices with numbers
  // SB-{year of closed_at}-{sequence}, the sequence continuing gap-free from
  // the last number issued that year, in the order given; issued_at =
  // closed_at. Idempotent: when the period is already closed it returns what
  // that close issued (newly_closed = false) and ignores the request's
  // invoices. Periods close in order: FailedPrecondition /
  // PeriodsCloseInOrder unless no period was closed yet or `period` is the
  // month after the last closed one. REQUIRES: each invoice has lines, the
  // request's period, a distinct id (InvalidArgument). AlreadyExists when an
  // invoice id is taken; NotFound for an unknown price sheet key.
  virtual absl::StatusOr<ClosePeriodResult> ClosePeriod(const ClosePeriodRequest& request) = 0;
  // NotFound for an unknown id.
  virtual absl::StatusOr<Invoice> GetInvoice(const Guid& id) = 0;
  // NotFound for an unknown number.
  virtual absl::StatusOr<Invoice> GetInvoiceByNumber(std::string_view number) = 0;
  // Ordered by number.
  virtual absl::StatusOr<std::vector<Invoice>> ListInvoices(const InvoiceFilter& filter) = 0;

  // The ledger rows of usage months in [from, to], ordered by (month,
  // subscription, meter, zero rating).
  virtual absl::StatusOr<std::vector<BilledUsage>> ListBilledUsage(YearMonth from,
                                                                   YearMonth to) = 0;
  // Adds an adjustment to an open period. REQUIRES: a non-empty reason
  // (InvalidArgument). FailedPrecondition / "PeriodClosed" when the period is
  // closed (checked in the same transaction as the insert, so an adjustment
  // is either on that close's invoices or refused); AlreadyExists for a taken
  // id.
  virtual absl::Status AddAdjustment(const Adjustment& adjustment) = 0;
  // A period's adjustments in the order they were added.
  virtual absl::StatusOr<std::vector<Adjustment>> ListAdjustments(YearMonth period) = 0;
};

// ---------------------------------------------------------------------------
// The audit log: append-only (§6).

struct AuditEntry {
  std::int64_t id = 0;  // assigned by the store (increasing); ignored by Append
  Timestamp at;
  Guid actor_principal_id;  // the principal, or the cloudId for a stack identity
  Guid actor_directory_id;
  std::string action;                   // "registration.put", "claim.release", …
  std::string resource;                 // the resource path acted on
  std::optional<PartnerId> partner_id;  // the partner whose resource it is, if any
  std::string before_json;              // secrets redacted by the caller
  std::string after_json;
  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

struct AuditFilter {
  // Only entries about one of these partners' resources (a PartnerAdmin's
  // view); empty: all entries.
  std::optional<std::vector<PartnerId>> partner_ids{};
  std::optional<std::string> resource_prefix{};
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // Appends an entry and returns its id. REQUIRES: non-empty action
  // (InvalidArgument). Entries are never changed or removed.
  virtual absl::StatusOr<std::int64_t> Append(const AuditEntry& entry) = 0;
  // Entries matching `filter`, newest (highest id) first. InvalidArgument for
  // a bad cursor or page size.
  virtual absl::StatusOr<Page<AuditEntry>> ListAudit(const AuditFilter& filter,
                                                     const PageRequest& page) = 0;
};

// ---------------------------------------------------------------------------

// One database: owns every area store. Thread-safe (see the conventions at
// the top). Destroying it closes the database; the references it returned
// must not be used after that.
class Store {
 public:
  virtual ~Store() = default;

  virtual IdentityStore& identity() = 0;
  virtual PartyStore& parties() = 0;
  virtual RegistrationStore& registrations() = 0;
  virtual MeterStore& meters() = 0;
  virtual UsageStore& usage() = 0;
  virtual QuarantineStore& quarantine() = 0;
  virtual PriceSheetStore& price_sheets() = 0;
  virtual BillingStore& billing() = 0;
  virtual AuditLog& audit() = 0;

  // The time on the store's own clock, for stores that have one (a database
  // server: several `serve` nodes then read one clock, issue 9).
  // Unimplemented for an embedded store, whose clock is the machine's;
  // Unavailable when the server cannot be reached.
  virtual absl::StatusOr<Timestamp> ServerTime() {
    return absl::UnimplementedError("the store has no clock of its own");
  }
};

}  // namespace stackbill
