#include "core/decimal.h"

#include <string>

#include "core/error.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

Quantity Q(std::string_view text) { return Quantity::Parse(text).value(); }
UnitPrice P(std::string_view text) { return UnitPrice::Parse(text).value(); }
Amount A(std::string_view text) { return Amount::Parse(text).value(); }

std::string Rounded(std::string_view text, int digits) {
  return RoundHalfEven(A(text), digits).value().ToString();
}

void ExpectInvalidDecimal(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(ErrorCode(status), "InvalidDecimal") << status;
}

void ExpectOutOfRange(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange) << status;
  EXPECT_EQ(ErrorCode(status), "OutOfRange") << status;
}

TEST(DecimalTest, PointOnePlusPointTwoIsExactlyPointThree) {
  const Quantity sum = Q("0.1").Add(Q("0.2")).value();
  EXPECT_EQ(sum, Q("0.3"));
  EXPECT_EQ(sum.ToString(), "0.3");
  EXPECT_EQ(A("0.1").Add(A("0.2")).value(), A("0.3"));
}

TEST(DecimalTest, AMillionSmallestQuantitiesSumToExactlyOneTenThousandth) {
  const Quantity smallest = Q("0.0000000001");
  Quantity sum;
  for (int i = 0; i < 1'000'000; ++i) sum = sum.Add(smallest).value();
  EXPECT_EQ(sum, Q("0.0001"));
  EXPECT_EQ(sum.ToString(), "0.0001");
}

TEST(DecimalTest, ParseAcceptsJsonNumbers) {
  EXPECT_EQ(Q("12").raw(), 120'000'000'000);
  EXPECT_EQ(Q("-0.5").ToString(), "-0.5");
  EXPECT_EQ(Q("2.0000000000").ToString(), "2");
  EXPECT_EQ(Q("0").ToString(), "0");
  EXPECT_EQ(Q("-0").ToString(), "0");
  EXPECT_EQ(Q("1e-3").ToString(), "0.001");
  EXPECT_EQ(Q("2.5E+2").ToString(), "250");
  EXPECT_EQ(Q("2.5e2").ToString(), "250");
  EXPECT_EQ(Q("12345.6789").ToString(), "12345.6789");
  EXPECT_EQ(Q("0.0e999999999999999999999999").ToString(), "0");
  EXPECT_EQ(Q("1234500000e-15").ToString(), "0.0000012345");
}

TEST(DecimalTest, ParseAcceptsTrailingZerosBeyondTheScale) {
  EXPECT_EQ(Q("1.00000000000000").ToString(), "1");
  EXPECT_EQ(Q("0.12345678900000000000").ToString(), "0.123456789");
}

TEST(DecimalTest, ParseAcceptsTheSmallestStepInExponentForm) {
  EXPECT_EQ(Q("1e-10").raw(), 1);
  EXPECT_EQ(Q("1e-10").ToString(), "0.0000000001");
  EXPECT_EQ(A("1e-20").raw(), 1);
}

TEST(DecimalTest, ParseRejectsElevenFractionalDigitsWithoutRounding) {
  const absl::Status status = Quantity::Parse("1.00000000001").status();
  ExpectInvalidDecimal(status);
  EXPECT_NE(status.message().find("1.00000000001"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("10"), std::string_view::npos) << status;
  ExpectInvalidDecimal(Quantity::Parse("1e-11").status());
  ExpectInvalidDecimal(UnitPrice::Parse("0.00000000005").status());
  ExpectInvalidDecimal(Amount::Parse("1e-21").status());
}

TEST(DecimalTest, ParseRejectsValuesAtTheBoundAsOutOfRange) {
  ExpectOutOfRange(Quantity::Parse("1e15").status());
  ExpectOutOfRange(Quantity::Parse("1000000000000000").status());
  ExpectOutOfRange(Quantity::Parse("-1000000000000000").status());
  ExpectOutOfRange(UnitPrice::Parse("1000000").status());
  ExpectOutOfRange(Amount::Parse("1e17").status());
  EXPECT_EQ(Q("999999999999999.9999999999").ToString(), "999999999999999.9999999999");
  EXPECT_EQ(P("999999.9999999999").ToString(), "999999.9999999999");
  EXPECT_EQ(A("-99999999999999999.99999999999999999999").ToString(),
            "-99999999999999999.99999999999999999999");
}

TEST(DecimalTest, ParseOfHugeExponentsNeitherOverflowsNorHangs) {
  ExpectOutOfRange(Quantity::Parse("1e99999999999999999999999999999999").status());
  ExpectInvalidDecimal(Quantity::Parse("1e-99999999999999999999999999999999").status());
  ExpectOutOfRange(Quantity::Parse("1e9223372036854775808").status());
  ExpectInvalidDecimal(Quantity::Parse("1e-9223372036854775809").status());
}

TEST(DecimalTest, ParseRejectsTextThatIsNotAJsonNumber) {
  for (std::string_view text :
       {"",    "+1",        ".5",    "5.",   "-",     "-.5",   "NaN",  "nan",
        "inf", "-Infinity", " 1",    "1 ",   "1,5",   "007",   "00.5", "-01",
        "1e",  "1e+",       "1.2.3", "0x10", "1_000", "1e5.5", "\xff"}) {
    SCOPED_TRACE(std::string(text));
    ExpectInvalidDecimal(Quantity::Parse(text).status());
  }
}

TEST(DecimalTest, ParseErrorsQuoteTheText) {
  const absl::Status status = Quantity::Parse("12x").status();
  ExpectInvalidDecimal(status);
  EXPECT_NE(status.message().find("'12x'"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("position 3"), std::string_view::npos) << status;
}

TEST(DecimalTest, ToStringPadsToTheRequestedFractionDigitsWithoutRounding) {
  EXPECT_EQ(Q("2").ToString(2), "2.00");
  EXPECT_EQ(Q("2.5").ToString(2), "2.50");
  EXPECT_EQ(Q("2.125").ToString(2), "2.125");
  EXPECT_EQ(Q("-0.0000000001").ToString(10), "-0.0000000001");
  EXPECT_EQ(A("0").ToString(20), "0.00000000000000000000");
}

TEST(DecimalTest, ToStringRoundTripsThroughParse) {
  for (std::string_view text :
       {"0", "1", "-1", "0.0000000001", "999999999999999.9999999999", "-123.456", "100", "0.5"}) {
    EXPECT_EQ(Q(text).ToString(), text);
    EXPECT_EQ(Q(Q(text).ToString()), Q(text));
  }
}

TEST(DecimalTest, FromRawAndFromIntegerCheckTheBound) {
  EXPECT_EQ(Quantity::FromRaw(15).value().ToString(), "0.0000000015");
  EXPECT_EQ(Quantity::FromInteger(-42).value().ToString(), "-42");
  EXPECT_EQ(UnitPrice::FromInteger(999'999).value().ToString(), "999999");
  ExpectOutOfRange(UnitPrice::FromInteger(1'000'000).status());
  ExpectOutOfRange(UnitPrice::FromInteger(INT64_MIN).status());
  ExpectOutOfRange(UnitPrice::FromRaw(10'000'000'000'000'000).status());
  ExpectOutOfRange(Quantity::FromRaw(Pow10(25)).status());
  EXPECT_TRUE(Quantity::FromRaw(Pow10(25) - 1).ok());
  ExpectOutOfRange(Amount::FromInteger(INT64_MAX).status());
  EXPECT_TRUE(Amount::FromInteger(99'999'999'999'999'999).ok());
}

TEST(DecimalTest, AddOverflowIsOutOfRangeNotAWrap) {
  const Quantity max = Q("999999999999999.9999999999");
  ExpectOutOfRange(max.Add(Q("0.0000000001")).status());
  ExpectOutOfRange(max.Negate().Subtract(Q("0.0000000001")).status());
  ExpectOutOfRange(P("999999").Add(P("1")).status());
  const Amount max_amount = A("99999999999999999.99999999999999999999");
  ExpectOutOfRange(max_amount.Add(max_amount).status());
  EXPECT_EQ(max.Subtract(max).value(), Quantity::Zero());
}

TEST(DecimalTest, SubtractIsExact) {
  EXPECT_EQ(Q("0.3").Subtract(Q("0.1")).value(), Q("0.2"));
  EXPECT_EQ(Q("1").Subtract(Q("1.5")).value().ToString(), "-0.5");
}

TEST(DecimalTest, MultiplyIsExact) {
  EXPECT_EQ(Multiply(Q("12345.6789"), P("0.0000000001")).value().ToString(), "0.00000123456789");
  EXPECT_EQ(Multiply(Q("0.0000000001"), P("0.0000000001")).value().ToString(),
            "0.00000000000000000001");
  EXPECT_EQ(Multiply(Q("3"), P("0.1")).value(), A("0.3"));
  EXPECT_EQ(Multiply(Q("-2.5"), P("4")).value().ToString(), "-10");
  EXPECT_EQ(Multiply(Q("99999999999"), P("999999.9999999999")).value().ToString(),
            "99999999998999990.0000000001");
}

TEST(DecimalTest, MultiplyBeyondTheAmountBoundIsOutOfRange) {
  ExpectOutOfRange(Multiply(Q("999999999999999.9999999999"), P("999999.9999999999")).status());
  ExpectOutOfRange(Multiply(Q("-999999999999999.9999999999"), P("999999.9999999999")).status());
  ExpectOutOfRange(Multiply(Q("1000000000000"), P("100000")).status());
  EXPECT_EQ(Multiply(Q("1000000000000"), P("99999.9999999999")).value().ToString(),
            "99999999999999900");
}

// SPEC §5 re-billing: a customer price is the list price × (1 + markup),
// exact, never rounded.
TEST(DecimalTest, MarkUpIsExactOrRefused) {
  auto m = [](std::string_view text) { return Markup::Parse(text).value(); };
  EXPECT_EQ(MarkUp(P("0.008"), m("0.15")).value().ToString(), "0.0092");
  EXPECT_EQ(MarkUp(P("0.008"), m("0")).value(), P("0.008"));
  EXPECT_EQ(MarkUp(P("0.008"), m("-0.25")).value().ToString(), "0.006");
  EXPECT_EQ(MarkUp(P("0.008"), m("-1")).value(), UnitPrice::Zero());
  EXPECT_EQ(MarkUp(P("123456.123456"), m("0.1234")).value().ToString(), "138690.6090904704");
  const absl::Status inexact = MarkUp(P("0.0000000001"), m("0.5")).status();
  EXPECT_EQ(inexact.code(), absl::StatusCode::kInvalidArgument) << inexact;
  EXPECT_EQ(ErrorCode(inexact), "InexactMarkup") << inexact;
  ExpectOutOfRange(MarkUp(P("999999"), m("0.5")).status());
  EXPECT_FALSE(Markup::Parse("0.0000001").ok());  // beyond 6 fractional digits
  EXPECT_FALSE(Markup::Parse("1000").ok());
}

TEST(DecimalTest, ToAmountKeepsTheValue) {
  EXPECT_EQ(ToAmount(Q("999999999999999.9999999999")).ToString(), "999999999999999.9999999999");
  EXPECT_EQ(ToAmount(Q("-0.0000000001")), A("-0.0000000001"));
}

TEST(DecimalTest, ComparisonFollowsTheValue) {
  EXPECT_LT(Q("-1"), Q("0"));
  EXPECT_LT(Q("0.0000000001"), Q("0.0000000002"));
  EXPECT_GT(Q("10"), Q("9.9999999999"));
  EXPECT_TRUE(Q("0").IsZero());
  EXPECT_TRUE(Q("-3").IsNegative());
  EXPECT_EQ(Q("-3").Abs(), Q("3"));
}

TEST(DecimalRoundHalfEvenTest, HalvesGoToTheEvenNeighbour) {
  EXPECT_EQ(Rounded("2.675", 2), "2.68");
  EXPECT_EQ(Rounded("2.665", 2), "2.66");
  EXPECT_EQ(Rounded("0.125", 2), "0.12");
  EXPECT_EQ(Rounded("0.135", 2), "0.14");
  EXPECT_EQ(Rounded("0.5", 0), "0");
  EXPECT_EQ(Rounded("1.5", 0), "2");
  EXPECT_EQ(Rounded("2.5", 0), "2");
}

TEST(DecimalRoundHalfEvenTest, NegativeValuesRoundSymmetrically) {
  EXPECT_EQ(Rounded("-2.675", 2), "-2.68");
  EXPECT_EQ(Rounded("-2.665", 2), "-2.66");
  EXPECT_EQ(Rounded("-0.125", 2), "-0.12");
  EXPECT_EQ(Rounded("-0.005", 2), "0");
  EXPECT_EQ(Rounded("-0.0051", 2), "-0.01");
}

TEST(DecimalRoundHalfEvenTest, NonHalvesGoToTheNearest) {
  EXPECT_EQ(Rounded("2.6749999999999999", 2), "2.67");
  EXPECT_EQ(Rounded("2.66500000000000000001", 2), "2.67");
  EXPECT_EQ(Rounded("-2.66500000000000000001", 2), "-2.67");
  EXPECT_EQ(Rounded("0.004", 2), "0");
  EXPECT_EQ(Rounded("123.456", 20), "123.456");
}

TEST(DecimalRoundHalfEvenTest, RejectsDigitCountsOutsideZeroToTwenty) {
  for (int digits : {-1, 21}) {
    const absl::Status status = RoundHalfEven(A("1"), digits).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_EQ(ErrorCode(status), "InvalidRounding") << status;
  }
}

TEST(DecimalRoundHalfEvenTest, RoundingUpToTheBoundIsOutOfRange) {
  ExpectOutOfRange(RoundHalfEven(A("99999999999999999.5"), 0).status());
  ExpectOutOfRange(RoundHalfEven(A("-99999999999999999.995"), 2).status());
  EXPECT_EQ(RoundHalfEven(A("99999999999999999.4"), 0).value().ToString(), "99999999999999999");
}

TEST(CurrencyTest, KnownCurrenciesHaveTheirIsoMinorUnits) {
  for (std::string_view code : {"USD", "EUR", "GBP", "CHF", "AUD", "CAD", "NZD", "SEK", "NOK",
                                "DKK", "INR", "BRL", "ZAR"}) {
    const Currency currency = LookupCurrency(code).value();
    EXPECT_EQ(currency.code, code);
    EXPECT_EQ(currency.minor_units, 2) << code;
  }
  EXPECT_EQ(LookupCurrency("JPY").value().minor_units, 0);
  EXPECT_EQ(LookupCurrency("KWD").value().minor_units, 3);
  EXPECT_EQ(LookupCurrency("BHD").value().minor_units, 3);
}

TEST(CurrencyTest, UnknownCurrencyIsNotFound) {
  for (std::string_view code : {"XYZ", "usd", "US", "USDX", ""}) {
    const absl::Status status = LookupCurrency(code).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
    EXPECT_EQ(ErrorCode(status), "UnsupportedCurrency") << status;
  }
}

TEST(CurrencyTest, RoundToCurrencyUsesTheMinorUnit) {
  auto round = [](std::string_view amount, std::string_view code) {
    return RoundToCurrency(A(amount), LookupCurrency(code).value()).value().ToString();
  };
  EXPECT_EQ(round("2.675", "USD"), "2.68");
  EXPECT_EQ(round("1234.5", "JPY"), "1234");
  EXPECT_EQ(round("1235.5", "JPY"), "1236");
  EXPECT_EQ(round("1.2345", "KWD"), "1.234");
  EXPECT_EQ(round("1.2355", "BHD"), "1.236");
  EXPECT_EQ(round("-1.0005", "KWD"), "-1");
}

TEST(DecimalTest, PowersOfTenCoverTheInt128Range) {
  EXPECT_EQ(Pow10(0), 1);
  EXPECT_EQ(Pow10(10), 10'000'000'000);
  EXPECT_EQ(Pow10(38) / Pow10(19), Pow10(19));
}

}  // namespace
}  // namespace stackbill
