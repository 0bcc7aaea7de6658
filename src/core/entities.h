#pragma once

// The domain model of SPEC §1 as plain value types. No I/O and no behaviour
// beyond naming: the rules live in rules.h, routing in routing.h, history
// look-ups in history.h.
//
// Effective dating: registrations, customer subscriptions, stack subscribers,
// partner parent links and subscription ownership are versions with a
// half-open Validity [from, to). A deletion ends the interval; nothing that
// has usage is ever hard-deleted.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/decimal.h"
#include "core/guid.h"
#include "core/time.h"

namespace stackbill {

enum class PartnerKind { kDirect, kIndirectProvider, kIndirectReseller };
enum class OfferType { kCsp, kApss, kPayAsYouGo, kEnterpriseAgreement, kDevTest };
enum class SubscriptionState { kActive, kDisabled, kDeleted };
enum class BillingModel { kPayAsYouUse, kCapacity, kDevelopment, kCustom, kRuggedized };
enum class PrincipalKind { kUser, kServicePrincipal };
enum class Role { kPlatformAdmin, kPartnerAdmin, kOwner, kReader };

// Wire names ("indirectProvider", "CSP", "PayAsYouUse", "servicePrincipal",
// "PartnerAdmin") and their parsers; parsing is case-insensitive and returns
// InvalidArgument with error code "InvalidEnumValue" naming the accepted
// values.
std::string_view ToString(PartnerKind kind);
std::string_view ToString(OfferType offer);
std::string_view ToString(SubscriptionState state);
std::string_view ToString(BillingModel model);
std::string_view ToString(PrincipalKind kind);
std::string_view ToString(Role role);
absl::StatusOr<PartnerKind> ParsePartnerKind(std::string_view text);
absl::StatusOr<OfferType> ParseOfferType(std::string_view text);
absl::StatusOr<SubscriptionState> ParseSubscriptionState(std::string_view text);
absl::StatusOr<BillingModel> ParseBillingModel(std::string_view text);
absl::StatusOr<PrincipalKind> ParsePrincipalKind(std::string_view text);
absl::StatusOr<Role> ParseRole(std::string_view text);

// Direct-billed offers get their own invoice (R8); CSP and APSS are billed to
// the top of the owner partner's roll-up chain.
bool IsDirectBilled(OfferType offer);

// The list an offer is priced from (SPEC §6.1): its own, APSS the CSP list.
OfferType PricedAs(OfferType offer);
// Azure's offer durable ID of that list ("MS-AZR-0145P" for CSP and APSS,
// "MS-AZR-0003P" PayAsYouGo, "MS-AZR-0017P" EnterpriseAgreement,
// "MS-AZR-0023P" DevTest), as the RateCard $filter names it; parsing is
// case-insensitive, "InvalidEnumValue" otherwise.
std::string_view OfferDurableId(OfferType offer);
absl::StatusOr<OfferType> ParseOfferDurableId(std::string_view text);

// Half-open interval [from, to); `to` empty means still in force.
struct Validity {
  Timestamp from;
  std::optional<Timestamp> to;

  bool Contains(Timestamp t) const { return from <= t && (!to || t < *to); }
  bool IsOpen() const { return !to.has_value(); }
  friend bool operator==(const Validity&, const Validity&) = default;
};

using PartnerId = std::string;

struct Directory {
  Guid id;
  std::string display_name;
  std::vector<std::string> domains;           // "contosocsp.onmicrosoft.com"
  std::optional<PartnerId> owner_partner_id;  // none for platform-created customer directories
  friend bool operator==(const Directory&, const Directory&) = default;
};

struct Principal {
  Guid object_id;
  Guid directory_id;
  std::string name;  // UPN or service principal name
  PrincipalKind kind = PrincipalKind::kUser;
  friend bool operator==(const Principal&, const Principal&) = default;
};

struct Partner {
  PartnerId id;
  std::string name;
  PartnerKind kind = PartnerKind::kDirect;
  std::string billing_currency;  // ISO 4217
  friend bool operator==(const Partner&, const Partner&) = default;
};

// reseller → provider: one version of a partner's parent link.
struct PartnerParentLink {
  PartnerId partner_id;
  std::optional<PartnerId> parent_partner_id;
  Validity valid;
  friend bool operator==(const PartnerParentLink&, const PartnerParentLink&) = default;
};

struct Subscription {
  Guid id;
  OfferType offer_type = OfferType::kCsp;
  Guid directory_id;
  std::optional<PartnerId> partner_id;          // CSP and APSS: the owner partner (current)
  std::optional<std::string> billing_currency;  // direct-billed offers
  std::string display_name;
  SubscriptionState state = SubscriptionState::kActive;
  friend bool operator==(const Subscription&, const Subscription&) = default;
};

// One version of which partner owns (sold) a subscription.
struct SubscriptionOwnership {
  Guid subscription_id;
  std::optional<PartnerId> partner_id;
  Validity valid;
  friend bool operator==(const SubscriptionOwnership&, const SubscriptionOwnership&) = default;
};

// A stack as decoded from its registration token (SPEC §3.1).
struct Stack {
  Guid cloud_id;
  Guid deployment_directory_id;
  BillingModel billing_model = BillingModel::kPayAsYouUse;
  bool usage_reporting_enabled = true;
  bool multi_tenant = false;
  friend bool operator==(const Stack&, const Stack&) = default;
};

// A PlatformAdmin's approval of a non-PayAsYouUse billing model for a cloudId (R9).
struct BillingModelApproval {
  Guid cloud_id;
  BillingModel billing_model = BillingModel::kPayAsYouUse;
  std::optional<std::string> agreement_number;  // Capacity
  std::optional<std::string> ms_asset_tag;      // Custom
  friend bool operator==(const BillingModelApproval&, const BillingModelApproval&) = default;
};

// Identifies a registration resource: /subscriptions/{sub}/resourceGroups/{rg}/
// providers/Microsoft.AzureStack/registrations/{name}. ARM compares resource
// group and name case-insensitively; Key() is the lower-cased form used for
// look-ups, while the fields keep the case the caller used.
struct RegistrationName {
  Guid subscription_id;  // the default subscription (R4)
  std::string resource_group;
  std::string name;

  std::string Key() const;
  // The ARM resource id with the provider's canonical casing.
  std::string ResourceId() const;
  friend bool operator==(const RegistrationName&, const RegistrationName&) = default;
};

// One version of a registration's terms. An update (re-PUT with a token for
// the same cloudId) ends the current version and starts the next; DELETE ends
// the last one.
struct Registration {
  RegistrationName name;
  Guid cloud_id;
  Guid object_id;  // from the token
  BillingModel billing_model = BillingModel::kPayAsYouUse;
  bool multi_tenant = false;
  bool usage_reporting_enabled = true;
  std::optional<std::string> agreement_number;
  std::optional<std::string> ms_asset_tag;
  std::map<std::string, std::string> tags;
  Validity valid;
  friend bool operator==(const Registration&, const Registration&) = default;
};

// One version of a customer subscription on a registration (R6): usage of
// `tenant_id` on the registration's stack goes to `customer_subscription_id`.
struct CustomerSubscription {
  RegistrationName registration;
  Guid cloud_id;
  Guid customer_subscription_id;
  Guid tenant_id;
  Validity valid;
  friend bool operator==(const CustomerSubscription&, const CustomerSubscription&) = default;
};

// One version of (cloudId, stack-local subscription) → tenant (SPEC §4).
struct StackSubscriber {
  Guid cloud_id;
  Guid local_subscription_id;
  Guid tenant_id;
  Validity valid;
  friend bool operator==(const StackSubscriber&, const StackSubscriber&) = default;
};

struct Meter {
  Guid meter_id;
  std::string name;
  std::string category;
  std::string unit;
  std::optional<Guid> commerce_meter_id;
  bool custom = false;  // added by a PlatformAdmin, not from the built-in catalogue
  friend bool operator==(const Meter&, const Meter&) = default;
};

struct RoleAssignment {
  std::string id;
  Guid principal_id;
  Role role = Role::kReader;
  std::string scope;  // "/", "/partners/{id}", "/subscriptions/{id}"
  friend bool operator==(const RoleAssignment&, const RoleAssignment&) = default;
};

// Who an invoice goes to (R8): the top partner of the roll-up chain, or a
// direct-billed subscription itself.
struct BillTo {
  enum class Kind { kPartner, kSubscription };
  Kind kind = Kind::kPartner;
  PartnerId partner_id;          // kPartner
  Guid subscription_id;          // kSubscription
  std::string ToString() const;  // "partner:contoso" / "subscription:{guid}"
  friend bool operator==(const BillTo&, const BillTo&) = default;
};

// Why a record went where it went (R7, R9); stored with every usage record.
enum class RoutingReason {
  kRegisteredCustomer,         // a customer subscription was in force for the tenant
  kDefaultUnregisteredTenant,  // no customer subscription in force: default subscription
  kDefaultBeforeRegistration,  // usage dated before the stack's first registration
  kDefaultNotMultiTenant,      // the registration is not approved for multi-tenancy
  kZeroRatedBillingModel,      // Development / Ruggedized: reported, rated at zero
};
std::string_view ToString(RoutingReason reason);
absl::StatusOr<RoutingReason> ParseRoutingReason(std::string_view text);

// Where one usage record is charged (R7, R8, R9).
struct Routing {
  Guid billed_subscription_id;
  BillTo bill_to;
  RoutingReason reason = RoutingReason::kDefaultUnregisteredTenant;
  friend bool operator==(const Routing&, const Routing&) = default;
};

// One accepted hourly usage record as stored (SPEC §4), with its routing.
struct UsageRecord {
  Guid cloud_id;
  std::string record_id;     // the `id` the stack sent; empty when identity is the natural key
  std::string identity;      // opaque dedupe key bytes, unique per cloud_id (R11)
  std::string content_hash;  // opaque digest of the normalised content (ConflictingDuplicate)
  Guid tenant_id;
  Guid local_subscription_id;
  Guid meter_id;
  Quantity quantity;
  Timestamp usage_start;
  Timestamp usage_end;
  std::string resource_uri;
  std::string instance_data;  // canonical JSON text
  Routing routing;
  Timestamp reported_time;  // acceptance or last re-route (SPEC §4)
  friend bool operator==(const UsageRecord&, const UsageRecord&) = default;
};

}  // namespace stackbill
