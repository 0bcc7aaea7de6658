#include "core/decimal.h"

#include <fmt/format.h>

#include <array>
#include <cassert>
#include <cstddef>

#include "core/error.h"

namespace stackbill {
namespace {

__extension__ typedef unsigned __int128 uint128;

constexpr int kMaxPow10 = 38;

constexpr std::array<int128, kMaxPow10 + 1> MakePow10Table() {
  std::array<int128, kMaxPow10 + 1> table{};
  table[0] = 1;
  for (std::size_t i = 1; i < table.size(); ++i) table[i] = table[i - 1] * 10;
  return table;
}

constexpr std::array<int128, kMaxPow10 + 1> kPow10 = MakePow10Table();

// Exponents beyond this are saturated while scanning: any exponent that large
// already decides the outcome (zero, OutOfRange or too many fractional
// digits), and saturating keeps "1e999999999999999999999" from overflowing.
constexpr std::int64_t kExponentSaturation = 1'000'000'000'000;

// Longest part of a rejected input quoted back in a message.
constexpr std::size_t kMaxQuoted = 64;

// Every value of every FixedDecimal keeps |raw| < 10^(kIntegerDigits + kScale);
// all three bounds fit in int128 (the largest is Amount's 10^37), so checks
// are done in int128 whatever the representation.
template <typename Traits>
constexpr int128 kRawBound = kPow10[Traits::kIntegerDigits + Traits::kScale];

template <typename Traits>
bool WithinBound(int128 raw) {
  return raw < kRawBound<Traits> && raw > -kRawBound<Traits>;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
int DigitValue(char c) { return c - '0'; }

std::string Quoted(std::string_view text) {
  if (text.size() <= kMaxQuoted) return fmt::format("'{}'", text);
  return fmt::format("'{}…' ({} characters)", text.substr(0, kMaxQuoted), text.size());
}

std::string UnsignedToString(uint128 value) {
  std::array<char, 40> buffer{};
  std::size_t begin = buffer.size();
  do {
    buffer[--begin] = static_cast<char>('0' + static_cast<int>(value % 10));
    value /= 10;
  } while (value != 0);
  return std::string(buffer.data() + begin, buffer.size() - begin);
}

uint128 Magnitude(int128 value) {
  return value < 0 ? static_cast<uint128>(-value) : static_cast<uint128>(value);
}

// A number split as JSON writes it: -? int (. frac)? ([eE] [+-]? exp)?.
struct DecimalText {
  bool negative = false;
  std::string_view integer_digits;
  std::string_view fraction_digits;
  std::int64_t exponent = 0;
};

absl::StatusOr<DecimalText> ScanJsonNumber(std::string_view text, std::string_view name) {
  auto invalid = [&](std::string_view why) {
    return InvalidArgumentError("InvalidDecimal",
                                fmt::format("{} is not a valid {}: {}", Quoted(text), name, why));
  };
  auto expected_digit_at = [&](std::size_t i) {
    return invalid(fmt::format("expected a digit at position {}", i + 1));
  };
  DecimalText out;
  const std::size_t n = text.size();
  std::size_t i = 0;
  if (n == 0) return invalid("empty text");
  if (text[i] == '-') {
    out.negative = true;
    ++i;
  }
  const std::size_t integer_begin = i;
  while (i < n && IsDigit(text[i])) ++i;
  out.integer_digits = text.substr(integer_begin, i - integer_begin);
  if (out.integer_digits.empty()) return expected_digit_at(i);
  // JSON has no leading zeros ("007"); accepting them would make "the same"
  // quantity compare differently as text (R11 compares normalised decimals).
  if (out.integer_digits.size() > 1 && out.integer_digits[0] == '0') {
    return invalid(fmt::format("leading zero at position {}", integer_begin + 1));
  }
  if (i < n && text[i] == '.') {
    const std::size_t fraction_begin = ++i;
    while (i < n && IsDigit(text[i])) ++i;
    out.fraction_digits = text.substr(fraction_begin, i - fraction_begin);
    if (out.fraction_digits.empty()) return expected_digit_at(i);
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative_exponent = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) negative_exponent = text[i++] == '-';
    const std::size_t exponent_begin = i;
    std::int64_t exponent = 0;
    while (i < n && IsDigit(text[i])) {
      if (exponent < kExponentSaturation) exponent = exponent * 10 + DigitValue(text[i]);
      ++i;
    }
    if (i == exponent_begin) return expected_digit_at(i);
    if (exponent > kExponentSaturation) exponent = kExponentSaturation;
    out.exponent = negative_exponent ? -exponent : exponent;
  }
  if (i != n) return invalid(fmt::format("unexpected character at position {}", i + 1));
  return out;
}

}  // namespace

int128 Pow10(int n) {
  assert(n >= 0 && n <= kMaxPow10);
  return kPow10[static_cast<std::size_t>(n)];
}

template <typename Traits>
absl::StatusOr<FixedDecimal<Traits>> FixedDecimal<Traits>::Parse(std::string_view text) {
  auto scanned = ScanJsonNumber(text, Traits::kName);
  if (!scanned.ok()) return scanned.status();
  const std::string_view integer_digits = scanned->integer_digits;
  const std::string_view fraction_digits = scanned->fraction_digits;
  const std::size_t n = integer_digits.size() + fraction_digits.size();
  auto digit_at = [&](std::size_t i) {
    return i < integer_digits.size() ? integer_digits[i]
                                     : fraction_digits[i - integer_digits.size()];
  };

  // The value is the significant digits [first, last) × 10^exponent; leading
  // and trailing zeros carry no precision, so "1.00000000000000" is exact at
  // any scale while "1.00000000001" is not.
  std::size_t first = 0;
  while (first < n && digit_at(first) == '0') ++first;
  if (first == n) return FixedDecimal();
  std::size_t last = n;
  while (digit_at(last - 1) == '0') --last;
  const std::int64_t exponent = scanned->exponent -
                                static_cast<std::int64_t>(fraction_digits.size()) +
                                static_cast<std::int64_t>(n - last);
  const std::int64_t significant = static_cast<std::int64_t>(last - first);

  if (significant + exponent > kIntegerDigits) {
    return OutOfRangeError(
        "OutOfRange", fmt::format("{} is out of range for a {}: its magnitude must be below 10^{}",
                                  Quoted(text), Traits::kName, kIntegerDigits));
  }
  // R14: never round on input; a value that needs more digits than the scale
  // is rejected, not approximated.
  if (exponent < -kScale) {
    return InvalidArgumentError(
        "InvalidDecimal",
        fmt::format("{} has more than {} significant fractional digits, the most a {} holds; it "
                    "is not rounded",
                    Quoted(text), kScale, Traits::kName));
  }

  // At most kIntegerDigits + kScale (<= 37) digits: the accumulation fits.
  uint128 magnitude = 0;
  for (std::size_t i = first; i < last; ++i) {
    magnitude = magnitude * 10 + static_cast<uint128>(DigitValue(digit_at(i)));
  }
  magnitude *= static_cast<uint128>(Pow10(static_cast<int>(exponent + kScale)));
  const int128 raw =
      scanned->negative ? -static_cast<int128>(magnitude) : static_cast<int128>(magnitude);
  return FixedDecimal(static_cast<Rep>(raw));
}

template <typename Traits>
absl::StatusOr<FixedDecimal<Traits>> FixedDecimal<Traits>::FromRaw(Rep raw) {
  if (!WithinBound<Traits>(raw)) {
    return OutOfRangeError(
        "OutOfRange",
        fmt::format("raw {} {}{} × 10^-{} is not below 10^{}", Traits::kName, raw < 0 ? "-" : "",
                    UnsignedToString(Magnitude(raw)), kScale, kIntegerDigits));
  }
  return FixedDecimal(raw);
}

template <typename Traits>
absl::StatusOr<FixedDecimal<Traits>> FixedDecimal<Traits>::FromInteger(std::int64_t value) {
  // Compared before scaling: INT64_MAX × 10^20 would not fit in int128.
  const int128 bound = Pow10(kIntegerDigits);
  if (value >= bound || value <= -bound) {
    return OutOfRangeError("OutOfRange", fmt::format("{} {} is not below 10^{}", Traits::kName,
                                                     value, kIntegerDigits));
  }
  return FixedDecimal(static_cast<Rep>(static_cast<int128>(value) * Pow10(kScale)));
}

template <typename Traits>
std::string FixedDecimal<Traits>::ToString(int min_fraction_digits) const {
  assert(min_fraction_digits >= 0 && min_fraction_digits <= kScale);
  const uint128 unit = static_cast<uint128>(Pow10(kScale));
  const uint128 magnitude = Magnitude(raw_);
  std::string out = raw_ < 0 ? "-" : "";
  out += UnsignedToString(magnitude / unit);
  uint128 fraction = magnitude % unit;
  int digits = kScale;
  while (digits > min_fraction_digits && fraction % 10 == 0) {
    fraction /= 10;
    --digits;
  }
  if (digits > 0) {
    const std::string fraction_text = UnsignedToString(fraction);
    out += '.';
    out.append(static_cast<std::size_t>(digits) - fraction_text.size(), '0');
    out += fraction_text;
  }
  return out;
}

template <typename Traits>
absl::StatusOr<FixedDecimal<Traits>> FixedDecimal<Traits>::Add(FixedDecimal other) const {
  Rep sum;
  // R14: overflow is an error, never a wrap.
  if (__builtin_add_overflow(raw_, other.raw_, &sum) || !WithinBound<Traits>(sum)) {
    return OutOfRangeError("OutOfRange", fmt::format("{} {} + {} is not below 10^{}", Traits::kName,
                                                     ToString(), other.ToString(), kIntegerDigits));
  }
  return FixedDecimal(sum);
}

template <typename Traits>
absl::StatusOr<FixedDecimal<Traits>> FixedDecimal<Traits>::Subtract(FixedDecimal other) const {
  Rep difference;
  if (__builtin_sub_overflow(raw_, other.raw_, &difference) || !WithinBound<Traits>(difference)) {
    return OutOfRangeError("OutOfRange", fmt::format("{} {} - {} is not below 10^{}", Traits::kName,
                                                     ToString(), other.ToString(), kIntegerDigits));
  }
  return FixedDecimal(difference);
}

absl::StatusOr<Amount> Multiply(Quantity quantity, UnitPrice price) {
  // The scales add up, so the integer product is the exact Amount raw value.
  static_assert(Quantity::kScale + UnitPrice::kScale == Amount::kScale);
  int128 product;
  // R14: up to 10^25 × 10^16 can exceed int128, hence the checked multiply
  // before the bound check.
  if (__builtin_mul_overflow(quantity.raw(), static_cast<int128>(price.raw()), &product) ||
      !WithinBound<AmountTraits>(product)) {
    return OutOfRangeError(
        "OutOfRange",
        fmt::format("quantity {} × unit price {} is not below 10^{}, the bound of an amount",
                    quantity.ToString(), price.ToString(), Amount::kIntegerDigits));
  }
  return Amount(product);
}

absl::StatusOr<UnitPrice> MarkUp(UnitPrice price, Markup markup) {
  // |price raw| < 10^16 and 10^6 + markup raw < 10^9 + 10^6: the product
  // fits int128 with room to spare.
  const int128 factor = Pow10(Markup::kScale) + markup.raw();
  const int128 product = static_cast<int128>(price.raw()) * factor;
  const int128 unit = Pow10(Markup::kScale);
  if (product % unit != 0) {
    return InvalidArgumentError(
        "InexactMarkup",
        fmt::format("unit price {} × (1 + {}) needs more than {} fractional digits",
                    price.ToString(), markup.ToString(), UnitPrice::kScale));
  }
  const int128 raw = product / unit;
  if (!WithinBound<UnitPriceTraits>(raw)) {
    return OutOfRangeError(
        "OutOfRange", fmt::format("unit price {} × (1 + {}) is not below 10^{}", price.ToString(),
                                  markup.ToString(), UnitPrice::kIntegerDigits));
  }
  return UnitPrice(static_cast<std::int64_t>(raw));
}

Amount ToAmount(Quantity quantity) {
  // |raw| < 10^25 at scale 10 becomes < 10^35 at scale 20: always within
  // Amount's 10^37.
  static_assert(Quantity::kIntegerDigits < Amount::kIntegerDigits);
  return Amount(quantity.raw() * Pow10(Amount::kScale - Quantity::kScale));
}

absl::StatusOr<Amount> RoundHalfEven(Amount amount, int fraction_digits) {
  if (fraction_digits < 0 || fraction_digits > Amount::kScale) {
    return InvalidArgumentError(
        "InvalidRounding", fmt::format("cannot round to {} fractional digits; expected 0 to {}",
                                       fraction_digits, Amount::kScale));
  }
  // R14: the one rounding of stackbill. C++ division truncates toward zero,
  // so the quotient and remainder are symmetric in sign and negative values
  // round exactly as their magnitudes do.
  const int128 unit = Pow10(Amount::kScale - fraction_digits);
  int128 quotient = amount.raw() / unit;
  const int128 remainder = amount.raw() % unit;
  const int128 twice_remainder = 2 * (remainder < 0 ? -remainder : remainder);
  if (twice_remainder > unit || (twice_remainder == unit && quotient % 2 != 0)) {
    quotient += amount.raw() < 0 ? -1 : 1;
  }
  const int128 rounded = quotient * unit;
  if (!WithinBound<AmountTraits>(rounded)) {
    return OutOfRangeError(
        "OutOfRange", fmt::format("amount {} rounded to {} fractional digits is not below 10^{}",
                                  amount.ToString(), fraction_digits, Amount::kIntegerDigits));
  }
  return Amount(rounded);
}

absl::StatusOr<Currency> LookupCurrency(std::string_view code) {
  // ISO 4217 minor units of the currencies stackbill bills in.
  static constexpr Currency kCurrencies[] = {
      {"AED", 2}, {"ARS", 2}, {"AUD", 2}, {"BHD", 3}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2},
      {"CLP", 0}, {"CNY", 2}, {"CZK", 2}, {"DKK", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2},
      {"HUF", 2}, {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"ISK", 0}, {"JOD", 3}, {"JPY", 0},
      {"KRW", 0}, {"KWD", 3}, {"MXN", 2}, {"MYR", 2}, {"NOK", 2}, {"NZD", 2}, {"OMR", 3},
      {"PHP", 2}, {"PLN", 2}, {"QAR", 2}, {"SAR", 2}, {"SEK", 2}, {"SGD", 2}, {"THB", 2},
      {"TRY", 2}, {"TWD", 2}, {"USD", 2}, {"ZAR", 2},
  };
  for (const Currency& currency : kCurrencies) {
    if (currency.code == code) return currency;
  }
  return NotFoundError(
      "UnsupportedCurrency",
      fmt::format("currency {} is not supported; expected an upper-case ISO 4217 code "
                  "such as USD, EUR or JPY",
                  Quoted(code)));
}

absl::StatusOr<Amount> RoundToCurrency(Amount amount, const Currency& currency) {
  return RoundHalfEven(amount, currency.minor_units);
}

template class FixedDecimal<QuantityTraits>;
template class FixedDecimal<UnitPriceTraits>;
template class FixedDecimal<AmountTraits>;
template class FixedDecimal<MarkupTraits>;

}  // namespace stackbill
