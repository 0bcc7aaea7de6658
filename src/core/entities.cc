#include "core/entities.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/abseil_compat.h"
#include "core/error.h"

namespace stackbill {
namespace {

template <typename Enum, std::size_t N>
using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

constexpr NameTable<PartnerKind, 3> kPartnerKinds{{
    {PartnerKind::kDirect, "direct"},
    {PartnerKind::kIndirectProvider, "indirectProvider"},
    {PartnerKind::kIndirectReseller, "indirectReseller"},
}};
constexpr NameTable<OfferType, 5> kOfferTypes{{
    {OfferType::kCsp, "CSP"},
    {OfferType::kApss, "APSS"},
    {OfferType::kPayAsYouGo, "PayAsYouGo"},
    {OfferType::kEnterpriseAgreement, "EnterpriseAgreement"},
    {OfferType::kDevTest, "DevTest"},
}};

// The Azure offer durable IDs of the price lists (SPEC §6.1); APSS has none
// of its own (it is priced from the CSP list).
constexpr NameTable<OfferType, 4> kOfferDurableIds{{
    {OfferType::kCsp, "MS-AZR-0145P"},
    {OfferType::kPayAsYouGo, "MS-AZR-0003P"},
    {OfferType::kEnterpriseAgreement, "MS-AZR-0017P"},
    {OfferType::kDevTest, "MS-AZR-0023P"},
}};
constexpr NameTable<SubscriptionState, 3> kSubscriptionStates{{
    {SubscriptionState::kActive, "Active"},
    {SubscriptionState::kDisabled, "Disabled"},
    {SubscriptionState::kDeleted, "Deleted"},
}};
constexpr NameTable<BillingModel, 5> kBillingModels{{
    {BillingModel::kPayAsYouUse, "PayAsYouUse"},
    {BillingModel::kCapacity, "Capacity"},
    {BillingModel::kDevelopment, "Development"},
    {BillingModel::kCustom, "Custom"},
    {BillingModel::kRuggedized, "Ruggedized"},
}};
constexpr NameTable<PrincipalKind, 2> kPrincipalKinds{{
    {PrincipalKind::kUser, "user"},
    {PrincipalKind::kServicePrincipal, "servicePrincipal"},
}};
constexpr NameTable<Role, 4> kRoles{{
    {Role::kPlatformAdmin, "PlatformAdmin"},
    {Role::kPartnerAdmin, "PartnerAdmin"},
    {Role::kOwner, "Owner"},
    {Role::kReader, "Reader"},
}};
constexpr NameTable<RoutingReason, 5> kRoutingReasons{{
    {RoutingReason::kRegisteredCustomer, "RegisteredCustomer"},
    {RoutingReason::kDefaultUnregisteredTenant, "DefaultUnregisteredTenant"},
    {RoutingReason::kDefaultBeforeRegistration, "DefaultBeforeRegistration"},
    {RoutingReason::kDefaultNotMultiTenant, "DefaultNotMultiTenant"},
    {RoutingReason::kZeroRatedBillingModel, "ZeroRatedBillingModel"},
}};

template <typename Enum, std::size_t N>
std::string_view NameOf(const NameTable<Enum, N>& table, Enum value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "";
}

template <typename Enum, std::size_t N>
absl::StatusOr<Enum> ParseName(const NameTable<Enum, N>& table, std::string_view what,
                               std::string_view text) {
  for (const auto& [e, name] : table) {
    if (absl::EqualsIgnoreCase(AbslView(name), AbslView(text))) return e;
  }
  return InvalidArgumentError(
      "InvalidEnumValue",
      absl::StrCat("invalid ", AbslView(what), " '", AbslView(text), "'; accepted values: ",
                   absl::StrJoin(table, ", ", [](std::string* out, const auto& entry) {
                     absl::StrAppend(out, AbslView(entry.second));
                   })));
}

}  // namespace

std::string_view ToString(PartnerKind kind) { return NameOf(kPartnerKinds, kind); }
std::string_view ToString(OfferType offer) { return NameOf(kOfferTypes, offer); }
std::string_view ToString(SubscriptionState state) { return NameOf(kSubscriptionStates, state); }
std::string_view ToString(BillingModel model) { return NameOf(kBillingModels, model); }
std::string_view ToString(PrincipalKind kind) { return NameOf(kPrincipalKinds, kind); }
std::string_view ToString(Role role) { return NameOf(kRoles, role); }
std::string_view ToString(RoutingReason reason) { return NameOf(kRoutingReasons, reason); }

absl::StatusOr<PartnerKind> ParsePartnerKind(std::string_view text) {
  return ParseName(kPartnerKinds, "partner kind", text);
}
absl::StatusOr<OfferType> ParseOfferType(std::string_view text) {
  return ParseName(kOfferTypes, "offer type", text);
}
absl::StatusOr<SubscriptionState> ParseSubscriptionState(std::string_view text) {
  return ParseName(kSubscriptionStates, "subscription state", text);
}
absl::StatusOr<BillingModel> ParseBillingModel(std::string_view text) {
  return ParseName(kBillingModels, "billing model", text);
}
absl::StatusOr<PrincipalKind> ParsePrincipalKind(std::string_view text) {
  return ParseName(kPrincipalKinds, "principal kind", text);
}
absl::StatusOr<Role> ParseRole(std::string_view text) { return ParseName(kRoles, "role", text); }
absl::StatusOr<RoutingReason> ParseRoutingReason(std::string_view text) {
  return ParseName(kRoutingReasons, "routing reason", text);
}

OfferType PricedAs(OfferType offer) { return offer == OfferType::kApss ? OfferType::kCsp : offer; }
std::string_view OfferDurableId(OfferType offer) {
  return NameOf(kOfferDurableIds, PricedAs(offer));
}
absl::StatusOr<OfferType> ParseOfferDurableId(std::string_view text) {
  return ParseName(kOfferDurableIds, "offer durable id", text);
}

bool IsDirectBilled(OfferType offer) {
  switch (offer) {
    case OfferType::kPayAsYouGo:
    case OfferType::kEnterpriseAgreement:
    case OfferType::kDevTest:
      return true;
    case OfferType::kCsp:
    case OfferType::kApss:
      return false;
  }
  return false;
}

std::string RegistrationName::Key() const {
  return absl::AsciiStrToLower(absl::StrCat("subscriptions/", subscription_id.ToString(),
                                            "/resourcegroups/", resource_group, "/registrations/",
                                            name));
}

std::string RegistrationName::ResourceId() const {
  return absl::StrCat("/subscriptions/", subscription_id.ToString(), "/resourceGroups/",
                      resource_group, "/providers/Microsoft.AzureStack/registrations/", name);
}

std::string BillTo::ToString() const {
  switch (kind) {
    case Kind::kPartner:
      return absl::StrCat("partner:", partner_id);
    case Kind::kSubscription:
      return absl::StrCat("subscription:", subscription_id.ToString());
  }
  return "";
}

}  // namespace stackbill
