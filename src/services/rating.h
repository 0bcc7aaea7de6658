#pragma once

// Rating (SPEC §5, R12, R14): what a (billed subscription, meter, period)
// total costs under a meter's price — Azure RateCard semantics: the
// subscription's `IncludedQuantity` is free, then the graduated `MeterRates`
// tiers apply to the rest, each tier's unit price from its start up to the
// next tier's start. Exact: every tier's amount is quantity × unit price with
// no rounding; a line's amount is then rounded once, by RoundToCurrency
// (core/decimal.h: half-even to the currency's minor unit, R14). Units below the first tier's start
// are not charged (no tier covers them). PriceBook picks, for a billing period, the sheet versions
// in force and a meter's price in them (a partner's override before the offer's list price). Pure:
// no store, no clock.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/decimal.h"
#include "store/store.h"

namespace stackbill {

// A rated total before rounding.
struct RatedUsage {
  Quantity billable;               // what the tiers were applied to
  std::vector<AppliedTier> tiers;  // in tier order, only those used
  Amount amount;                   // the sum of the tiers' exact amounts
  friend bool operator==(const RatedUsage&, const RatedUsage&) = default;
};

// A period's total: billable = max(0, total − included), over the tiers.
// InvalidArgument for a negative total or a price without tiers; OutOfRange
// when an amount exceeds its bound.
absl::StatusOr<RatedUsage> RateUsage(const MeterPrice& price, Quantity total);

// Late usage of a closed period (R12), marginally at that period's price:
// rate(closed + late) − rate(closed) — its tiers are those that the late
// quantity climbs from where the closed total stopped, and it takes only
// what was left of the included quantity. InvalidArgument for a negative
// closed total or late quantity.
absl::StatusOr<RatedUsage> RateLateUsage(const MeterPrice& price, Quantity closed_total,
                                         Quantity late);

// A meter's price for one billing period, and the sheet version it came from
// (a close locks the versions it used).
struct ResolvedPrice {
  MeterPrice price;
  PriceSheetKey sheet;
};

// The prices in force for one billing period (SPEC §5): per owner (an offer
// type's list, a partner's overrides) and currency, the latest version whose
// effective date is on or before the period's start — a version applies from
// the first period that starts on or after its effective date. Built once a
// close from every sheet; thread-compatible.
class PriceBook {
 public:
  PriceBook(const std::vector<PriceSheet>& sheets, YearMonth period);

  // The partner's override when its sheet in `currency` prices the meter,
  // else the offer type's list price in `currency` (APSS: the CSP list);
  // nullopt when neither does (the close's MissingPrice). No currency
  // conversion.
  std::optional<ResolvedPrice> Find(OfferType offer, const std::optional<PartnerId>& partner,
                                    std::string_view currency, const Guid& meter) const;
  // Every meter that Find prices for (offer, partner, currency), ordered by
  // meter id: the list's prices with the partner's overrides in their place
  // (a RateCard).
  std::vector<ResolvedPrice> Sheet(OfferType offer, const std::optional<PartnerId>& partner,
                                   std::string_view currency) const;
  // The version of `owner`'s sheet in `currency` in force; null when none is.
  const PriceSheet* InForce(const PriceSheetOwner& owner, std::string_view currency) const;
  // The meter's price in that version only; nullopt when it has none.
  std::optional<ResolvedPrice> FindIn(const PriceSheetOwner& owner, std::string_view currency,
                                      const Guid& meter) const;

 private:
  std::vector<PriceSheet> sheets_;
  // (owner, currency) → the index in sheets_ of the version in force.
  std::map<std::pair<std::string, std::string>, std::size_t> in_force_;
};

// A partner's price for its own customers (SPEC §5 re-billing), from its
// customer sheet in force (`book.InForce(Customers(partner), currency)`):
// the sheet's explicit price for the meter, else the offer's list price ×
// (1 + the sheet's markup) tier by tier (MarkUp: exact), with the list's
// included quantity; without a sheet, the list price. nullopt when neither
// prices the meter. InexactMarkup / OutOfRange from MarkUp.
absl::StatusOr<std::optional<MeterPrice>> CustomerPrice(const PriceBook& book,
                                                        const PartnerId& partner, OfferType offer,
                                                        std::string_view currency,
                                                        const Guid& meter);

}  // namespace stackbill
