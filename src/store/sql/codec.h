#pragma once

// How domain values are written into SQL columns (internal to store/sql).
// Enums are stored as stable text codes that belong to the
// schema: they never change when a wire name does. Composite values that are
// only ever read whole (registration tags, price tiers, applied tiers) are one
// TEXT column in a small, documented, exact format.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "store/sql/database.h"
#include "store/store.h"

namespace stackbill::sql {

template <typename E>
struct EnumCode {
  E value;
  std::string_view code;
};

// The code table of each stored enum (specialised in codec.cc).
template <typename E>
std::span<const EnumCode<E>> EnumCodes();

template <>
std::span<const EnumCode<PartnerKind>> EnumCodes<PartnerKind>();
template <>
std::span<const EnumCode<OfferType>> EnumCodes<OfferType>();
template <>
std::span<const EnumCode<SubscriptionState>> EnumCodes<SubscriptionState>();
template <>
std::span<const EnumCode<BillingModel>> EnumCodes<BillingModel>();
template <>
std::span<const EnumCode<PrincipalKind>> EnumCodes<PrincipalKind>();
template <>
std::span<const EnumCode<Role>> EnumCodes<Role>();
template <>
std::span<const EnumCode<RoutingReason>> EnumCodes<RoutingReason>();
template <>
std::span<const EnumCode<BillTo::Kind>> EnumCodes<BillTo::Kind>();
template <>
std::span<const EnumCode<PriceSheetOwner::Kind>> EnumCodes<PriceSheetOwner::Kind>();

template <typename E>
std::string_view EnumToCode(E value) {
  for (const auto& entry : EnumCodes<E>()) {
    if (entry.value == value) return entry.code;
  }
  return "?";
}

template <typename E>
std::optional<E> EnumFromCode(std::string_view code) {
  for (const auto& entry : EnumCodes<E>()) {
    if (entry.code == code) return entry.value;
  }
  return std::nullopt;
}

// Reads the next column as an enum code; an unknown code is DataLoss in
// stmt.read_status().
template <typename E>
E ReadEnum(Statement& stmt) {
  const std::string code = stmt.ReadText();
  auto value = EnumFromCode<E>(code);
  if (!value) {
    stmt.Corrupt("enum code", code);
    return E{};
  }
  return *value;
}

template <typename E>
Statement& BindEnum(Statement& stmt, E value) {
  return stmt.BindText(EnumToCode(value));
}

// Validity as four columns: from_s, from_ns, to_s, to_ns (to NULL when open).
void BindValidity(Statement& stmt, const Validity& valid);
Validity ReadValidity(Statement& stmt);

// BillTo as three columns: kind, partner_id, subscription_id.
void BindBillTo(Statement& stmt, const BillTo& bill_to);
BillTo ReadBillTo(Statement& stmt);

// Row readers shared by several stores; each reads the columns listed.
inline constexpr std::string_view kPartnerColumns = "id, name, kind, billing_currency";
Partner ReadPartner(Statement& stmt);
inline constexpr std::string_view kSubscriptionColumns =
    "id, offer_type, directory_id, partner_id, billing_currency, display_name, state";
Subscription ReadSubscription(Statement& stmt);

// Registration tags as netstring pairs: "3:env,4:prod," (length:bytes,).
std::string EncodeTags(const std::map<std::string, std::string>& tags);
std::optional<std::map<std::string, std::string>> DecodeTags(std::string_view text);

// Price tiers: "start:price" pairs separated by spaces, canonical decimals
// ("0:0.008 1000:0.006").
std::string EncodePriceTiers(std::span<const PriceTier> tiers);
std::optional<std::vector<PriceTier>> DecodePriceTiers(std::string_view text);

// Applied tiers: "start:quantity:price:amount" separated by spaces.
std::string EncodeAppliedTiers(std::span<const AppliedTier> tiers);
std::optional<std::vector<AppliedTier>> DecodeAppliedTiers(std::string_view text);

// Paging: validates the request and returns the id after which the page
// starts (or std::nullopt for the first page). InvalidArgument /
// InvalidPageSize or InvalidCursor.
absl::StatusOr<std::optional<std::int64_t>> ParsePage(const PageRequest& page);
std::string CursorAfter(std::int64_t id);

// ASCII lower-casing for case-insensitive keys.
std::string Lower(std::string_view text);

}  // namespace stackbill::sql
