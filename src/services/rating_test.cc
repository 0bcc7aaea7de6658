#include "services/rating.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/error.h"

namespace stackbill {
namespace {

Quantity Q(std::string_view text) { return *Quantity::Parse(text); }
UnitPrice P(std::string_view text) { return *UnitPrice::Parse(text); }
Amount A(std::string_view text) { return *Amount::Parse(text); }

// 10 units free; 0–100 at 1.5, 100–1000 at 1.2, beyond at 0.9999999999.
MeterPrice Graduated() {
  return MeterPrice{
      .meter_id = *Guid::Parse("50000000-0000-0000-0000-000000000001"),
      .tiers = {{Q("0"), P("1.5")}, {Q("100"), P("1.2")}, {Q("1000"), P("0.9999999999")}},
      .included_quantity = Q("10")};
}

TEST(RatingTest, IncludedQuantityIsFreeThenTheTiersApply) {
  auto rated = RateUsage(Graduated(), Q("1210.0000000001"));
  ASSERT_TRUE(rated.ok()) << rated.status();
  EXPECT_EQ(rated->billable, Q("1200.0000000001"));
  ASSERT_EQ(rated->tiers.size(), 3u);
  EXPECT_EQ(rated->tiers[0].quantity, Q("100"));
  EXPECT_EQ(rated->tiers[0].amount, A("150"));
  EXPECT_EQ(rated->tiers[1].quantity, Q("900"));
  EXPECT_EQ(rated->tiers[1].amount, A("1080"));
  EXPECT_EQ(rated->tiers[2].start, Q("1000"));
  EXPECT_EQ(rated->tiers[2].quantity, Q("200.0000000001"));
  // 200.0000000001 × 0.9999999999, exact to its 20th digit: no rounding.
  EXPECT_EQ(rated->tiers[2].amount, A("199.99999998009999999999"));
  EXPECT_EQ(rated->amount, A("1429.99999998009999999999"));
  EXPECT_EQ(*RoundToCurrency(rated->amount, {.code = "USD", .minor_units = 2}), A("1430"));
  EXPECT_EQ(*RoundToCurrency(rated->amount, {.code = "KWD", .minor_units = 3}), A("1430"));
}

TEST(RatingTest, ATotalWithinTheIncludedQuantityCostsNothing) {
  for (std::string_view total : {"0", "9.9999999999", "10"}) {
    auto rated = RateUsage(Graduated(), Q(total));
    ASSERT_TRUE(rated.ok()) << rated.status();
    EXPECT_TRUE(rated->billable.IsZero()) << total;
    EXPECT_TRUE(rated->tiers.empty()) << total;
    EXPECT_TRUE(rated->amount.IsZero()) << total;
  }
}

TEST(RatingTest, ATierStartsExactlyAtItsStart) {
  auto at = RateUsage(Graduated(), Q("110"));  // billable 100: all in the first tier
  ASSERT_TRUE(at.ok());
  ASSERT_EQ(at->tiers.size(), 1u);
  EXPECT_EQ(at->amount, A("150"));
  auto past = RateUsage(Graduated(), Q("110.0000000001"));
  ASSERT_TRUE(past.ok());
  ASSERT_EQ(past->tiers.size(), 2u);
  EXPECT_EQ(past->tiers[1].amount, A("0.00000000012"));
}

TEST(RatingTest, UnitsBelowTheFirstTierAreNotCharged) {
  MeterPrice price{.meter_id = Guid(), .tiers = {{Q("5"), P("2")}}, .included_quantity = Q("0")};
  auto rated = RateUsage(price, Q("7"));
  ASSERT_TRUE(rated.ok());
  EXPECT_EQ(rated->billable, Q("7"));
  EXPECT_EQ(rated->amount, A("4"));
}

TEST(RatingTest, HalvesRoundToEvenOncePerLine) {
  MeterPrice price{
      .meter_id = Guid(), .tiers = {{Q("0"), P("0.005")}}, .included_quantity = Q("0")};
  auto one = RateUsage(price, Q("1"));    // 0.005 → 0.00 (even)
  auto three = RateUsage(price, Q("3"));  // 0.015 → 0.02 (even)
  ASSERT_TRUE(one.ok() && three.ok());
  const Currency usd{.code = "USD", .minor_units = 2};
  EXPECT_EQ(*RoundToCurrency(one->amount, usd), A("0"));
  EXPECT_EQ(*RoundToCurrency(three->amount, usd), A("0.02"));
}

// R12: a late quantity costs what it adds to the closed total, for any split.
TEST(RatingTest, LateUsageIsRatedMarginally) {
  const MeterPrice price = Graduated();
  std::uint64_t state = 7;
  auto next = [&state](std::uint64_t bound) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % bound;
  };
  for (int n = 0; n < 500; ++n) {
    const Quantity closed =
        *Quantity::FromRaw(static_cast<std::int64_t>(next(1500) * 10'000'000'000ULL + next(1000)));
    const Quantity late =
        *Quantity::FromRaw(static_cast<std::int64_t>(next(800) * 10'000'000'000ULL + next(1000)));
    auto before = RateUsage(price, closed);
    auto after = RateUsage(price, *closed.Add(late));
    auto marginal = RateLateUsage(price, closed, late);
    ASSERT_TRUE(before.ok() && after.ok() && marginal.ok());
    EXPECT_EQ(marginal->amount, *after->amount.Subtract(before->amount))
        << closed.ToString() << " + " << late.ToString();
    Amount tiers;
    for (const AppliedTier& t : marginal->tiers) tiers = *tiers.Add(t.amount);
    EXPECT_EQ(tiers, marginal->amount);
  }
  // Late usage takes only what was left of the included quantity.
  auto partly = RateLateUsage(price, Q("4"), Q("16"));
  ASSERT_TRUE(partly.ok());
  EXPECT_EQ(partly->billable, Q("10"));
  EXPECT_EQ(partly->amount, A("15"));
}

TEST(RatingTest, BadInputIsRefused) {
  EXPECT_EQ(ErrorCode(RateUsage(Graduated(), Q("-1")).status()), "InvalidQuantity");
  EXPECT_EQ(ErrorCode(RateLateUsage(Graduated(), Q("1"), Q("-1")).status()), "InvalidQuantity");
  MeterPrice none{.meter_id = Guid(), .tiers = {}, .included_quantity = Q("0")};
  EXPECT_EQ(ErrorCode(RateUsage(none, Q("1")).status()), "InvalidPrice");
  // An amount past its bound is OutOfRange, never a wrap (R14).
  MeterPrice dear{
      .meter_id = Guid(), .tiers = {{Q("0"), P("999999")}}, .included_quantity = Q("0")};
  EXPECT_EQ(RateUsage(dear, Q("999999999999999")).status().code(), absl::StatusCode::kOutOfRange);
}

PriceSheet Sheet(PriceSheetOwner owner, std::string currency, std::string_view effective,
                 std::vector<std::pair<Guid, std::string_view>> prices) {
  PriceSheet sheet;
  sheet.key = {.owner = std::move(owner),
               .currency = std::move(currency),
               .effective_date = *Timestamp::Parse(effective)};
  for (const auto& [meter, price] : prices) {
    sheet.meters.push_back(
        {.meter_id = meter, .tiers = {{Q("0"), P(price)}}, .included_quantity = Q("0")});
  }
  return sheet;
}

TEST(PriceBookTest, AVersionAppliesFromTheFirstPeriodStartingOnOrAfterItsDate) {
  const Guid vm = *Guid::Parse("50000000-0000-0000-0000-000000000001");
  const std::vector<PriceSheet> sheets = {
      Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "USD", "2026-01-01T00:00:00Z", {{vm, "1"}}),
      // Effective mid-November: from December on.
      Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "USD", "2026-11-15T00:00:00Z", {{vm, "2"}}),
      Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "USD", "2027-01-01T00:00:00Z", {{vm, "3"}}),
  };
  auto price_in = [&](YearMonth period) {
    auto found = PriceBook(sheets, period).Find(OfferType::kCsp, std::nullopt, "USD", vm);
    return found ? found->price.tiers[0].unit_price.ToString() : std::string("none");
  };
  EXPECT_EQ(price_in(YearMonth(2025, 12)), "none");
  EXPECT_EQ(price_in(YearMonth(2026, 11)), "1");
  EXPECT_EQ(price_in(YearMonth(2026, 12)), "2");
  EXPECT_EQ(price_in(YearMonth(2027, 1)), "3");
  auto found =
      PriceBook(sheets, YearMonth(2026, 12)).Find(OfferType::kCsp, std::nullopt, "USD", vm);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->sheet, sheets[1].key);  // the version a close locks
}

TEST(PriceBookTest, APartnerOverridesListPricesMeterByMeterInItsCurrency) {
  const Guid vm = *Guid::Parse("50000000-0000-0000-0000-000000000001");
  const Guid disk = *Guid::Parse("50000000-0000-0000-0000-000000000002");
  const Guid ip = *Guid::Parse("50000000-0000-0000-0000-000000000003");
  const std::vector<PriceSheet> sheets = {
      Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "USD", "2026-01-01T00:00:00Z",
            {{vm, "1"}, {disk, "0.5"}}),
      Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "EUR", "2026-01-01T00:00:00Z", {{ip, "9"}}),
      Sheet(PriceSheetOwner::Offer(OfferType::kPayAsYouGo), "USD", "2026-01-01T00:00:00Z",
            {{ip, "7"}}),
      Sheet(PriceSheetOwner::Partner("contoso"), "USD", "2026-06-01T00:00:00Z", {{vm, "0.8"}}),
  };
  const PriceBook book(sheets, YearMonth(2026, 11));
  auto unit = [&](OfferType offer, std::optional<PartnerId> partner, std::string_view currency,
                  const Guid& meter) {
    auto found = book.Find(offer, partner, currency, meter);
    return found ? found->price.tiers[0].unit_price.ToString() : std::string("none");
  };
  EXPECT_EQ(unit(OfferType::kCsp, "contoso", "USD", vm), "0.8");    // the override
  EXPECT_EQ(unit(OfferType::kCsp, "contoso", "USD", disk), "0.5");  // the list price
  EXPECT_EQ(unit(OfferType::kCsp, "fabrikam", "USD", vm), "1");     // another partner
  EXPECT_EQ(unit(OfferType::kCsp, std::nullopt, "USD", vm), "1");
  EXPECT_EQ(unit(OfferType::kCsp, "contoso", "USD", ip), "none");  // no EUR→USD conversion
  EXPECT_EQ(unit(OfferType::kCsp, "contoso", "EUR", ip), "9");
  EXPECT_EQ(unit(OfferType::kPayAsYouGo, std::nullopt, "USD", ip), "7");
  EXPECT_EQ(unit(OfferType::kPayAsYouGo, std::nullopt, "USD", vm), "none");
  EXPECT_EQ(unit(OfferType::kApss, std::nullopt, "USD", disk), "0.5");  // the CSP list
  EXPECT_EQ(unit(OfferType::kEnterpriseAgreement, std::nullopt, "USD", disk), "none");
}

// SPEC §5 re-billing: the customer price is the sheet's own price for a
// meter, else the list × (1 + markup) tier by tier with the list's included
// quantity — never the partner's override (what the partner pays).
TEST(PriceBookTest, ACustomerPriceIsExplicitOrTheListMarkedUp) {
  const Guid vm = *Guid::Parse("50000000-0000-0000-0000-000000000001");
  const Guid disk = *Guid::Parse("50000000-0000-0000-0000-000000000002");
  const Guid ip = *Guid::Parse("50000000-0000-0000-0000-000000000003");
  PriceSheet list = Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "USD", "2026-01-01T00:00:00Z",
                          {{vm, "1"}, {disk, "0.5"}});
  list.meters[1].tiers.push_back({Q("100"), P("0.4")});
  list.meters[1].included_quantity = Q("10");
  PriceSheet marked_up =
      Sheet(PriceSheetOwner::Customers("contoso"), "USD", "2026-06-01T00:00:00Z", {{vm, "1.5"}});
  marked_up.markup = Markup::Parse("0.25").value();
  const PriceSheet explicit_only =
      Sheet(PriceSheetOwner::Customers("northwind"), "USD", "2026-06-01T00:00:00Z", {{vm, "2"}});
  const std::vector<PriceSheet> sheets = {
      list, marked_up, explicit_only,
      Sheet(PriceSheetOwner::Partner("contoso"), "USD", "2026-06-01T00:00:00Z", {{disk, "0.1"}})};
  const PriceBook book(sheets, YearMonth(2026, 11));
  auto price = [&](const PartnerId& partner, const Guid& meter) {
    return CustomerPrice(book, partner, OfferType::kCsp, "USD", meter).value();
  };
  ASSERT_TRUE(price("contoso", vm).has_value());
  EXPECT_EQ(price("contoso", vm)->tiers[0].unit_price.ToString(), "1.5");  // explicit
  const std::optional<MeterPrice> disk_price = price("contoso", disk);
  ASSERT_TRUE(disk_price.has_value());
  ASSERT_EQ(disk_price->tiers.size(), 2u);
  EXPECT_EQ(disk_price->tiers[0].unit_price.ToString(), "0.625");  // 0.5 × 1.25
  EXPECT_EQ(disk_price->tiers[1].unit_price.ToString(), "0.5");    // 0.4 × 1.25
  EXPECT_EQ(disk_price->tiers[1].start, Q("100"));
  EXPECT_EQ(disk_price->included_quantity, Q("10"));
  EXPECT_FALSE(price("contoso", ip).has_value());      // no list price to mark up
  EXPECT_FALSE(price("northwind", disk).has_value());  // explicit prices only
  ASSERT_TRUE(price("fabrikam", disk).has_value());    // no sheet: the list
  EXPECT_EQ(price("fabrikam", disk)->tiers[0].unit_price.ToString(), "0.5");
  // Before the sheet's effective date: the list again.
  EXPECT_TRUE(CustomerPrice(PriceBook(sheets, YearMonth(2026, 5)), "northwind", OfferType::kCsp,
                            "USD", disk)
                  .value()
                  .has_value());
}

}  // namespace
}  // namespace stackbill
