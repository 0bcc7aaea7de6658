#pragma once

// Exact decimal values for the money path (R14). Four types, one template:
//
//   Quantity   scale 10^-10, |value| < 10^15   (usage quantities)
//   UnitPrice  scale 10^-10, |value| < 10^6    (prices per unit)
//   Amount     scale 10^-20, |value| < 10^17   (exact products and their sums)
//   Markup     scale 10^-6,  |value| < 10^3    (a re-billing markup: 0.15 = 15 %)
//
// A Quantity × UnitPrice product is exact as an Amount (10 + 10 fractional
// digits); the 128-bit intermediate is overflow-checked, and anything that
// does not fit is OutOfRange — never a wrap, never a silent rounding. The only
// rounding in stackbill is RoundHalfEven(), applied once per invoice line to
// the currency's minor unit (SPEC §5).
//
// Parsing takes decimal text as JSON writes numbers (optional '-', digits,
// optional fraction, optional exponent) and rejects anything that would need
// rounding or exceeds the bound, with a message naming the value. Printing is
// canonical: no exponent, no trailing fractional zeros, "0" for zero.
// No binary floating point is used anywhere in this file.
//
// Value types; thread-compatible.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stackbill {

__extension__ typedef __int128 int128;  // GCC/Clang extension; -Wpedantic needs the marker.

// Powers of ten as int128: Pow10(n) for 0 <= n <= 38.
int128 Pow10(int n);

// Traits for FixedDecimal: the representation, the number of fractional digits
// and the exclusive bound on the integer part (|value| < 10^kIntegerDigits).
struct QuantityTraits {
  using Rep = int128;
  static constexpr int kScale = 10;
  static constexpr int kIntegerDigits = 15;
  static constexpr std::string_view kName = "quantity";
};
struct UnitPriceTraits {
  using Rep = std::int64_t;
  static constexpr int kScale = 10;
  static constexpr int kIntegerDigits = 6;
  static constexpr std::string_view kName = "unit price";
};
struct AmountTraits {
  using Rep = int128;
  static constexpr int kScale = 20;
  static constexpr int kIntegerDigits = 17;
  static constexpr std::string_view kName = "amount";
};

struct MarkupTraits {
  using Rep = std::int64_t;
  static constexpr int kScale = 6;
  static constexpr int kIntegerDigits = 3;
  static constexpr std::string_view kName = "markup";
};

template <typename Traits>
class FixedDecimal {
 public:
  using Rep = typename Traits::Rep;
  static constexpr int kScale = Traits::kScale;
  static constexpr int kIntegerDigits = Traits::kIntegerDigits;

  constexpr FixedDecimal() = default;

  // Parses decimal text ("12", "-0.5", "2.0000000000", "1e-3", "2.5E+2").
  // Errors: InvalidArgument / "InvalidDecimal" for text that is not a number,
  // or that has more than kScale significant fractional digits (trailing zeros
  // do not count); OutOfRange / "OutOfRange" when |value| >= 10^kIntegerDigits.
  static absl::StatusOr<FixedDecimal> Parse(std::string_view text);

  // The value raw × 10^-kScale. OutOfRange when it exceeds the bound.
  static absl::StatusOr<FixedDecimal> FromRaw(Rep raw);
  // An integer value. OutOfRange when it exceeds the bound.
  static absl::StatusOr<FixedDecimal> FromInteger(std::int64_t value);

  static constexpr FixedDecimal Zero() { return FixedDecimal(); }

  Rep raw() const { return raw_; }
  bool IsZero() const { return raw_ == 0; }
  bool IsNegative() const { return raw_ < 0; }

  // Canonical text; at least `min_fraction_digits` fractional digits (padded
  // with zeros, never rounded: REQUIRES 0 <= min_fraction_digits <= kScale).
  std::string ToString(int min_fraction_digits = 0) const;

  // Checked arithmetic: OutOfRange / "OutOfRange" when the result exceeds the
  // bound.
  absl::StatusOr<FixedDecimal> Add(FixedDecimal other) const;
  absl::StatusOr<FixedDecimal> Subtract(FixedDecimal other) const;
  FixedDecimal Negate() const { return FixedDecimal(static_cast<Rep>(-raw_)); }
  FixedDecimal Abs() const { return raw_ < 0 ? Negate() : *this; }

  friend auto operator<=>(const FixedDecimal&, const FixedDecimal&) = default;

 private:
  template <typename>
  friend class FixedDecimal;
  friend absl::StatusOr<FixedDecimal<AmountTraits>> Multiply(FixedDecimal<QuantityTraits>,
                                                             FixedDecimal<UnitPriceTraits>);
  friend FixedDecimal<AmountTraits> ToAmount(FixedDecimal<QuantityTraits>);
  friend absl::StatusOr<FixedDecimal<UnitPriceTraits>> MarkUp(FixedDecimal<UnitPriceTraits>,
                                                              FixedDecimal<MarkupTraits>);
  friend absl::StatusOr<FixedDecimal<AmountTraits>> RoundHalfEven(FixedDecimal<AmountTraits>, int);
  explicit constexpr FixedDecimal(Rep raw) : raw_(raw) {}

  Rep raw_ = 0;
};

using Quantity = FixedDecimal<QuantityTraits>;
using UnitPrice = FixedDecimal<UnitPriceTraits>;
using Amount = FixedDecimal<AmountTraits>;
using Markup = FixedDecimal<MarkupTraits>;

// quantity × price, exact. OutOfRange when the product exceeds Amount's bound.
absl::StatusOr<Amount> Multiply(Quantity quantity, UnitPrice price);

// A partner's customer price (SPEC §5 re-billing): price × (1 + markup),
// exact. It is a price, not an amount, so it is never rounded: a product that
// needs more than UnitPrice's 10 fractional digits is InvalidArgument /
// "InexactMarkup" (a markup of up to 4 digits on a price of up to 6 always
// fits), one that reaches its bound OutOfRange. REQUIRES markup >= -1.
absl::StatusOr<UnitPrice> MarkUp(UnitPrice price, Markup markup);

// An exact Amount from a Quantity (e.g. a quantity already in money units).
Amount ToAmount(Quantity quantity);

// The one rounding rule of stackbill (R14, SPEC §5): round half to even to
// `fraction_digits` digits after the point (0 <= fraction_digits <= 20).
// Halves go to the even neighbour: 2.675 → 2.68, 2.665 → 2.66, -0.125 → -0.12.
// Returns InvalidArgument / "InvalidRounding" for a digit count outside that
// range, and OutOfRange / "OutOfRange" when the rounded value reaches the
// bound (e.g. 99999999999999999.5 to 0 digits).
absl::StatusOr<Amount> RoundHalfEven(Amount amount, int fraction_digits);

// A currency and its ISO 4217 minor unit (digits after the point).
struct Currency {
  std::string_view code;  // "USD"
  int minor_units = 2;    // USD 2, JPY 0, KWD 3
};

// Looks up an ISO 4217 alphabetic code (upper case, exactly three letters).
// NotFound / "UnsupportedCurrency" for a code stackbill does not know.
absl::StatusOr<Currency> LookupCurrency(std::string_view code);

// RoundHalfEven to the currency's minor unit. OutOfRange / "OutOfRange" when
// the rounded value reaches Amount's bound (only within half a minor unit of
// 10^17), so that not even that edge is ever wrapped or clamped (R14).
absl::StatusOr<Amount> RoundToCurrency(Amount amount, const Currency& currency);

extern template class FixedDecimal<QuantityTraits>;
extern template class FixedDecimal<UnitPriceTraits>;
extern template class FixedDecimal<AmountTraits>;
extern template class FixedDecimal<MarkupTraits>;

}  // namespace stackbill
