#include "store/sql/codec.h"

#include <array>
#include <charconv>

#include "core/error.h"

namespace stackbill::sql {

template <>
std::span<const EnumCode<PartnerKind>> EnumCodes<PartnerKind>() {
  static constexpr std::array<EnumCode<PartnerKind>, 3> kCodes = {{
      {PartnerKind::kDirect, "direct"},
      {PartnerKind::kIndirectProvider, "indirectProvider"},
      {PartnerKind::kIndirectReseller, "indirectReseller"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<OfferType>> EnumCodes<OfferType>() {
  static constexpr std::array<EnumCode<OfferType>, 5> kCodes = {{
      {OfferType::kCsp, "CSP"},
      {OfferType::kApss, "APSS"},
      {OfferType::kPayAsYouGo, "PayAsYouGo"},
      {OfferType::kEnterpriseAgreement, "EnterpriseAgreement"},
      {OfferType::kDevTest, "DevTest"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<SubscriptionState>> EnumCodes<SubscriptionState>() {
  static constexpr std::array<EnumCode<SubscriptionState>, 3> kCodes = {{
      {SubscriptionState::kActive, "Active"},
      {SubscriptionState::kDisabled, "Disabled"},
      {SubscriptionState::kDeleted, "Deleted"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<BillingModel>> EnumCodes<BillingModel>() {
  static constexpr std::array<EnumCode<BillingModel>, 5> kCodes = {{
      {BillingModel::kPayAsYouUse, "PayAsYouUse"},
      {BillingModel::kCapacity, "Capacity"},
      {BillingModel::kDevelopment, "Development"},
      {BillingModel::kCustom, "Custom"},
      {BillingModel::kRuggedized, "Ruggedized"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<PrincipalKind>> EnumCodes<PrincipalKind>() {
  static constexpr std::array<EnumCode<PrincipalKind>, 2> kCodes = {{
      {PrincipalKind::kUser, "user"},
      {PrincipalKind::kServicePrincipal, "servicePrincipal"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<Role>> EnumCodes<Role>() {
  static constexpr std::array<EnumCode<Role>, 4> kCodes = {{
      {Role::kPlatformAdmin, "PlatformAdmin"},
      {Role::kPartnerAdmin, "PartnerAdmin"},
      {Role::kOwner, "Owner"},
      {Role::kReader, "Reader"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<RoutingReason>> EnumCodes<RoutingReason>() {
  static constexpr std::array<EnumCode<RoutingReason>, 5> kCodes = {{
      {RoutingReason::kRegisteredCustomer, "registeredCustomer"},
      {RoutingReason::kDefaultUnregisteredTenant, "defaultUnregisteredTenant"},
      {RoutingReason::kDefaultBeforeRegistration, "defaultBeforeRegistration"},
      {RoutingReason::kDefaultNotMultiTenant, "defaultNotMultiTenant"},
      {RoutingReason::kZeroRatedBillingModel, "zeroRatedBillingModel"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<BillTo::Kind>> EnumCodes<BillTo::Kind>() {
  static constexpr std::array<EnumCode<BillTo::Kind>, 2> kCodes = {{
      {BillTo::Kind::kPartner, "partner"},
      {BillTo::Kind::kSubscription, "subscription"},
  }};
  return kCodes;
}

template <>
std::span<const EnumCode<PriceSheetOwner::Kind>> EnumCodes<PriceSheetOwner::Kind>() {
  static constexpr std::array<EnumCode<PriceSheetOwner::Kind>, 3> kCodes = {{
      {PriceSheetOwner::Kind::kOffer, "offer"},
      {PriceSheetOwner::Kind::kPartner, "partner"},
      {PriceSheetOwner::Kind::kCustomers, "customers"},
  }};
  return kCodes;
}

void BindValidity(Statement& stmt, const Validity& valid) {
  stmt.BindTime(valid.from);
  stmt.BindOptionalTime(valid.to);
}

Validity ReadValidity(Statement& stmt) {
  Validity valid;
  valid.from = stmt.ReadTime();
  valid.to = stmt.ReadOptionalTime();
  return valid;
}

void BindBillTo(Statement& stmt, const BillTo& bill_to) {
  BindEnum(stmt, bill_to.kind);
  stmt.BindText(bill_to.partner_id);
  stmt.BindGuid(bill_to.subscription_id);
}

BillTo ReadBillTo(Statement& stmt) {
  BillTo bill_to;
  bill_to.kind = ReadEnum<BillTo::Kind>(stmt);
  bill_to.partner_id = stmt.ReadText();
  bill_to.subscription_id = stmt.ReadGuid();
  return bill_to;
}

Partner ReadPartner(Statement& stmt) {
  Partner partner;
  partner.id = stmt.ReadText();
  partner.name = stmt.ReadText();
  partner.kind = ReadEnum<PartnerKind>(stmt);
  partner.billing_currency = stmt.ReadText();
  return partner;
}

Subscription ReadSubscription(Statement& stmt) {
  Subscription subscription;
  subscription.id = stmt.ReadGuid();
  subscription.offer_type = ReadEnum<OfferType>(stmt);
  subscription.directory_id = stmt.ReadGuid();
  subscription.partner_id = stmt.ReadOptionalText();
  subscription.billing_currency = stmt.ReadOptionalText();
  subscription.display_name = stmt.ReadText();
  subscription.state = ReadEnum<SubscriptionState>(stmt);
  return subscription;
}

namespace {

// The whole of `text` as a decimal integer.
template <typename Int>
bool ParseNumber(std::string_view text, Int& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

void AppendNetstring(std::string& out, std::string_view value) {
  out += Cat(value.size(), ":", value, ",");
}

// Reads one netstring from the front of `text`.
std::optional<std::string> TakeNetstring(std::string_view& text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::size_t size = 0;
  if (!ParseNumber(text.substr(0, colon), size)) return std::nullopt;
  text.remove_prefix(colon + 1);
  if (text.size() < size + 1 || text[size] != ',') return std::nullopt;
  std::string value(text.substr(0, size));
  text.remove_prefix(size + 1);
  return value;
}

template <typename T>
std::optional<T> ParseDecimal(std::string_view text) {
  auto value = T::Parse(text);
  if (!value.ok()) return std::nullopt;
  return *value;
}

}  // namespace

std::string EncodeTags(const std::map<std::string, std::string>& tags) {
  std::string out;
  for (const auto& [key, value] : tags) {
    AppendNetstring(out, key);
    AppendNetstring(out, value);
  }
  return out;
}

std::optional<std::map<std::string, std::string>> DecodeTags(std::string_view text) {
  std::map<std::string, std::string> tags;
  while (!text.empty()) {
    auto key = TakeNetstring(text);
    if (!key) return std::nullopt;
    auto value = TakeNetstring(text);
    if (!value) return std::nullopt;
    tags.emplace(std::move(*key), std::move(*value));
  }
  return tags;
}

std::string EncodePriceTiers(std::span<const PriceTier> tiers) {
  std::string out;
  for (const auto& tier : tiers) {
    if (!out.empty()) out.push_back(' ');
    out += Cat(tier.start.ToString(), ":", tier.unit_price.ToString());
  }
  return out;
}

std::optional<std::vector<PriceTier>> DecodePriceTiers(std::string_view text) {
  std::vector<PriceTier> tiers;
  if (text.empty()) return tiers;
  for (std::string_view item : Split(text, ' ')) {
    std::vector<std::string_view> parts = Split(item, ':');
    if (parts.size() != 2) return std::nullopt;
    auto start = ParseDecimal<Quantity>(parts[0]);
    auto price = ParseDecimal<UnitPrice>(parts[1]);
    if (!start || !price) return std::nullopt;
    tiers.push_back(PriceTier{*start, *price});
  }
  return tiers;
}

std::string EncodeAppliedTiers(std::span<const AppliedTier> tiers) {
  std::string out;
  for (const auto& tier : tiers) {
    if (!out.empty()) out.push_back(' ');
    out += Cat(tier.start.ToString(), ":", tier.quantity.ToString(), ":",
               tier.unit_price.ToString(), ":", tier.amount.ToString());
  }
  return out;
}

std::optional<std::vector<AppliedTier>> DecodeAppliedTiers(std::string_view text) {
  std::vector<AppliedTier> tiers;
  if (text.empty()) return tiers;
  for (std::string_view item : Split(text, ' ')) {
    std::vector<std::string_view> parts = Split(item, ':');
    if (parts.size() != 4) return std::nullopt;
    auto start = ParseDecimal<Quantity>(parts[0]);
    auto quantity = ParseDecimal<Quantity>(parts[1]);
    auto price = ParseDecimal<UnitPrice>(parts[2]);
    auto amount = ParseDecimal<Amount>(parts[3]);
    if (!start || !quantity || !price || !amount) return std::nullopt;
    tiers.push_back(AppliedTier{*start, *quantity, *price, *amount});
  }
  return tiers;
}

absl::StatusOr<std::optional<std::int64_t>> ParsePage(const PageRequest& page) {
  if (page.limit < 1 || page.limit > kMaxPageSize) {
    return InvalidArgumentError(store_errors::kInvalidPageSize,
                                Cat("page size ", page.limit, " is outside 1…", kMaxPageSize));
  }
  if (page.cursor.empty()) return std::optional<std::int64_t>();
  std::int64_t after = 0;
  if (!ParseNumber(page.cursor, after) || after < 0) {
    return InvalidArgumentError(
        store_errors::kInvalidCursor,
        Cat("'", page.cursor.substr(0, 64), "' is not a continuation cursor of this list"));
  }
  return std::optional<std::int64_t>(after);
}

std::string CursorAfter(std::int64_t id) { return Cat(id); }

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& ch : lower) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return lower;
}

}  // namespace stackbill::sql
