#include "services/rating.h"

#include <algorithm>

#include "core/error.h"
#include "core/status_macros.h"

namespace stackbill {
namespace {

// The tiers of `price` over the billable segment [from, to).
absl::StatusOr<RatedUsage> ApplyTiers(const MeterPrice& price, Quantity from, Quantity to) {
  if (price.tiers.empty()) {
    return InvalidArgumentError(
        "InvalidPrice", "meter " + price.meter_id.ToString() + " has a price without tiers");
  }
  STACKBILL_ASSIGN_OR_RETURN(Quantity billable, to.Subtract(from));
  RatedUsage rated{.billable = billable, .tiers = {}, .amount = Amount()};
  for (std::size_t i = 0; i < price.tiers.size(); ++i) {
    const PriceTier& tier = price.tiers[i];
    const bool last = i + 1 == price.tiers.size();
    // The part of [from, to) inside [tier.start, next start).
    const Quantity low = std::max(from, tier.start);
    const Quantity high = last ? to : std::min(to, price.tiers[i + 1].start);
    if (!(low < high)) continue;
    STACKBILL_ASSIGN_OR_RETURN(Quantity quantity, high.Subtract(low));
    STACKBILL_ASSIGN_OR_RETURN(Amount amount, Multiply(quantity, tier.unit_price));
    STACKBILL_ASSIGN_OR_RETURN(rated.amount, rated.amount.Add(amount));
    rated.tiers.push_back(AppliedTier{.start = tier.start,
                                      .quantity = quantity,
                                      .unit_price = tier.unit_price,
                                      .amount = amount});
  }
  return rated;
}

// max(0, total − included).
absl::StatusOr<Quantity> Billable(const MeterPrice& price, Quantity total) {
  STACKBILL_ASSIGN_OR_RETURN(Quantity billable, total.Subtract(price.included_quantity));
  return billable.IsNegative() ? Quantity() : billable;
}

absl::Status RequireNotNegative(Quantity q, std::string_view what) {
  if (!q.IsNegative()) return absl::OkStatus();
  return InvalidArgumentError("InvalidQuantity",
                              std::string(what) + " must not be negative, got " + q.ToString());
}

}  // namespace

absl::StatusOr<RatedUsage> RateUsage(const MeterPrice& price, Quantity total) {
  STACKBILL_RETURN_IF_ERROR(RequireNotNegative(total, "the total"));
  STACKBILL_ASSIGN_OR_RETURN(Quantity billable, Billable(price, total));
  return ApplyTiers(price, Quantity(), billable);
}

absl::StatusOr<RatedUsage> RateLateUsage(const MeterPrice& price, Quantity closed_total,
                                         Quantity late) {
  STACKBILL_RETURN_IF_ERROR(RequireNotNegative(closed_total, "the closed total"));
  STACKBILL_RETURN_IF_ERROR(RequireNotNegative(late, "the late quantity"));
  STACKBILL_ASSIGN_OR_RETURN(Quantity all, closed_total.Add(late));
  STACKBILL_ASSIGN_OR_RETURN(Quantity before, Billable(price, closed_total));
  STACKBILL_ASSIGN_OR_RETURN(Quantity after, Billable(price, all));
  return ApplyTiers(price, before, after);
}

PriceBook::PriceBook(const std::vector<PriceSheet>& sheets, YearMonth period) : sheets_(sheets) {
  const Timestamp start = period.Start();
  for (std::size_t i = 0; i < sheets_.size(); ++i) {
    const PriceSheetKey& key = sheets_[i].key;
    if (start < key.effective_date) continue;  // not yet in force
    auto [it, inserted] = in_force_.try_emplace({key.owner.ToString(), key.currency}, i);
    if (!inserted && sheets_[it->second].key.effective_date < key.effective_date) it->second = i;
  }
}

const PriceSheet* PriceBook::InForce(const PriceSheetOwner& owner,
                                     std::string_view currency) const {
  const auto it = in_force_.find({owner.ToString(), std::string(currency)});
  return it == in_force_.end() ? nullptr : &sheets_[it->second];
}

std::optional<ResolvedPrice> PriceBook::FindIn(const PriceSheetOwner& owner,
                                               std::string_view currency, const Guid& meter) const {
  const PriceSheet* sheet = InForce(owner, currency);
  if (sheet == nullptr) return std::nullopt;
  for (const MeterPrice& price : sheet->meters) {
    if (price.meter_id == meter) return ResolvedPrice{.price = price, .sheet = sheet->key};
  }
  return std::nullopt;
}

std::optional<ResolvedPrice> PriceBook::Find(OfferType offer,
                                             const std::optional<PartnerId>& partner,
                                             std::string_view currency, const Guid& meter) const {
  if (partner) {
    if (auto price = FindIn(PriceSheetOwner::Partner(*partner), currency, meter)) return price;
  }
  return FindIn(PriceSheetOwner::Offer(PricedAs(offer)), currency, meter);
}

std::vector<ResolvedPrice> PriceBook::Sheet(OfferType offer,
                                            const std::optional<PartnerId>& partner,
                                            std::string_view currency) const {
  std::map<Guid, ResolvedPrice> prices;
  auto overlay = [&](const PriceSheetOwner& owner) {
    const auto it = in_force_.find({owner.ToString(), std::string(currency)});
    if (it == in_force_.end()) return;
    const PriceSheet& sheet = sheets_[it->second];
    for (const MeterPrice& price : sheet.meters) {
      prices.insert_or_assign(price.meter_id, ResolvedPrice{.price = price, .sheet = sheet.key});
    }
  };
  overlay(PriceSheetOwner::Offer(PricedAs(offer)));
  if (partner) overlay(PriceSheetOwner::Partner(*partner));
  std::vector<ResolvedPrice> sheet;
  sheet.reserve(prices.size());
  for (auto& [meter, price] : prices) sheet.push_back(std::move(price));
  return sheet;
}

absl::StatusOr<std::optional<MeterPrice>> CustomerPrice(const PriceBook& book,
                                                        const PartnerId& partner, OfferType offer,
                                                        std::string_view currency,
                                                        const Guid& meter) {
  const PriceSheetOwner own = PriceSheetOwner::Customers(partner);
  if (auto explicit_price = book.FindIn(own, currency, meter)) return explicit_price->price;
  const PriceSheet* sheet = book.InForce(own, currency);
  if (sheet != nullptr && !sheet->markup) return std::optional<MeterPrice>();
  std::optional<ResolvedPrice> list =
      book.FindIn(PriceSheetOwner::Offer(PricedAs(offer)), currency, meter);
  if (!list) return std::optional<MeterPrice>();
  if (sheet == nullptr) return list->price;
  MeterPrice price = std::move(list->price);
  for (PriceTier& tier : price.tiers) {
    STACKBILL_ASSIGN_OR_RETURN(tier.unit_price, MarkUp(tier.unit_price, *sheet->markup));
  }
  return price;
}

}  // namespace stackbill
