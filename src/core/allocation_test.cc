// Largest-remainder allocation (SPEC §5 reconciliation): parts in whole minor
// units that sum exactly to the amount, each within one unit of its share.

#include "core/allocation.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace stackbill {
namespace {

const Currency kUsd{"USD", 2};
const Currency kJpy{"JPY", 0};

Amount A(std::string_view text) { return *Amount::Parse(text); }
Quantity Q(std::string_view text) { return *Quantity::Parse(text); }

std::vector<std::string> Texts(const std::vector<Amount>& parts) {
  std::vector<std::string> out;
  for (const Amount& a : parts) out.push_back(a.ToString(2));
  return out;
}

TEST(AllocationTest, ThirdsGiveTheLeftoverCentToTheEarliestLargestRemainder) {
  const std::vector<Quantity> thirds = {Q("1"), Q("1"), Q("1")};
  EXPECT_EQ(Texts(*AllocateLargestRemainder(A("1.00"), kUsd, thirds)),
            (std::vector<std::string>{"0.34", "0.33", "0.33"}));
  EXPECT_EQ(Texts(*AllocateLargestRemainder(A("-1.00"), kUsd, thirds)),
            (std::vector<std::string>{"-0.34", "-0.33", "-0.33"}));
  // 0.10 by 1:2:7 → 0.01, 0.02, 0.07 exactly; 0.05 by 1:2:7 → 0.005, 0.01,
  // 0.035 → 0.00+0.01+0.03 = 0.04, the cent to the largest remainder (0.005).
  const std::vector<Quantity> weights = {Q("0.1"), Q("0.2"), Q("0.7")};
  EXPECT_EQ(Texts(*AllocateLargestRemainder(A("0.10"), kUsd, weights)),
            (std::vector<std::string>{"0.01", "0.02", "0.07"}));
  EXPECT_EQ(Texts(*AllocateLargestRemainder(A("0.05"), kUsd, weights)),
            (std::vector<std::string>{"0.01", "0.01", "0.03"}));
}

TEST(AllocationTest, ZeroWeightsShareEquallyAndZeroAmountsAreZero) {
  const std::vector<Quantity> zeros = {Q("0"), Q("0")};
  EXPECT_EQ(Texts(*AllocateLargestRemainder(A("0.03"), kUsd, zeros)),
            (std::vector<std::string>{"0.02", "0.01"}));
  EXPECT_EQ(Texts(*AllocateLargestRemainder(A("0"), kUsd, std::vector<Quantity>{Q("5"), Q("0")})),
            (std::vector<std::string>{"0.00", "0.00"}));
  EXPECT_EQ(Texts(*AllocateLargestRemainder(A("7"), kJpy, std::vector<Quantity>{Q("1"), Q("1")})),
            (std::vector<std::string>{"4.00", "3.00"}));
}

TEST(AllocationTest, RefusesNoRowsNegativeWeightsAndSubMinorAmounts) {
  EXPECT_EQ(ErrorCode(AllocateLargestRemainder(A("1"), kUsd, std::vector<Quantity>{}).status()),
            "InvalidAllocation");
  EXPECT_EQ(
      ErrorCode(AllocateLargestRemainder(A("1"), kUsd, std::vector<Quantity>{Q("-1")}).status()),
      "InvalidAllocation");
  EXPECT_EQ(
      ErrorCode(AllocateLargestRemainder(A("0.005"), kUsd, std::vector<Quantity>{Q("1")}).status()),
      "InvalidAllocation");
  EXPECT_EQ(
      ErrorCode(AllocateLargestRemainder(A("0.5"), kJpy, std::vector<Quantity>{Q("1")}).status()),
      "InvalidAllocation");
}

TEST(AllocationTest, OverflowIsOutOfRangeNeverAWrap) {
  const Amount huge = A("99999999999999999");
  const Quantity big = Q("999999999999999");
  absl::StatusOr<std::vector<Amount>> parts =
      AllocateLargestRemainder(huge, kUsd, std::vector<Quantity>{big, big});
  EXPECT_EQ(ErrorCode(parts.status()), "OutOfRange") << parts.status();
}

// Property: for random amounts and weights, the parts sum exactly to the
// amount, share its sign, and each lies within one minor unit of its exact
// proportional share (checked in integers, independently of the code above).
TEST(AllocationTest, PropertyPartsSumToTheAmountAndStayWithinOneUnitOfTheirShare) {
  std::mt19937_64 random(20261205);
  for (int round = 0; round < 2000; ++round) {
    const std::size_t rows = 1 + random() % 40;
    std::vector<Quantity> weights;
    int128 total_weight = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const auto raw = static_cast<int128>(random() % 50000000000000ULL) *
                       (random() % 5 == 0 ? 0 : 1);  // some rows weigh nothing
      weights.push_back(*Quantity::FromRaw(raw));
      total_weight += raw;
    }
    const auto cents = static_cast<std::int64_t>(random() % 10000000) - 5000000;
    const Amount amount = *Amount::FromRaw(static_cast<int128>(cents) * Pow10(18));
    absl::StatusOr<std::vector<Amount>> parts = AllocateLargestRemainder(amount, kUsd, weights);
    ASSERT_TRUE(parts.ok()) << parts.status();
    ASSERT_EQ(parts->size(), rows);
    int128 sum = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const int128 part = (*parts)[i].raw() / Pow10(18);
      ASSERT_EQ((*parts)[i].raw() % Pow10(18), 0);
      sum += part;
      if (cents != 0 && part != 0) {
        EXPECT_EQ(part < 0, cents < 0);
      }
      // |part × W − cents × w| < W (within one unit of the exact share).
      const int128 w = total_weight == 0 ? 1 : weights[i].raw();
      const int128 big_w = total_weight == 0 ? static_cast<int128>(rows) : total_weight;
      int128 gap = part * big_w - static_cast<int128>(cents) * w;
      if (gap < 0) gap = -gap;
      EXPECT_LT(gap, big_w) << "round " << round << " row " << i;
    }
    EXPECT_EQ(sum, static_cast<int128>(cents)) << "round " << round;
  }
}

}  // namespace
}  // namespace stackbill
