#include "core/time.h"

#include <string>

#include "core/error.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

Timestamp T(std::string_view text) { return Timestamp::Parse(text).value(); }

void ExpectInvalidDateTime(std::string_view text) {
  SCOPED_TRACE(std::string(text));
  const absl::Status status = Timestamp::Parse(text).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(ErrorCode(status), "InvalidDateTime") << status;
}

void ExpectInvalidBillingPeriod(std::string_view text) {
  SCOPED_TRACE(std::string(text));
  const absl::Status status = YearMonth::Parse(text).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(ErrorCode(status), "InvalidBillingPeriod") << status;
}

TEST(TimeTest, ParsesEveryAzureForm) {
  EXPECT_EQ(T("2026-11-01T00:00:00Z").unix_seconds(), 1'793'491'200);
  EXPECT_EQ(T("2015-06-01T00:00:00+00:00").ToString(), "2015-06-01T00:00:00Z");
  EXPECT_EQ(T("2017-08-01T00:00:00.00Z").ToString(), "2017-08-01T00:00:00Z");
  const Timestamp fractional = T("2021-01-02T01:30:12.6941233+00:00");
  EXPECT_EQ(fractional.nanos(), 694'123'300);
  EXPECT_EQ(fractional.ToString(), "2021-01-02T01:30:12.6941233Z");
  EXPECT_EQ(T("9999-12-30T15:59:59").ToString(), "9999-12-30T15:59:59Z");
  EXPECT_EQ(T("2026-11-01"), T("2026-11-01T00:00:00Z"));
}

TEST(TimeTest, TheEpochIsZero) {
  EXPECT_EQ(T("1970-01-01T00:00:00Z"), Timestamp());
  EXPECT_EQ(Timestamp().ToString(), "1970-01-01T00:00:00Z");
}

TEST(TimeTest, LowerCaseSeparatorAndZuluAreAccepted) {
  EXPECT_EQ(T("2026-11-01t00:00:00z"), T("2026-11-01T00:00:00Z"));
}

TEST(TimeTest, OffsetsConvertToUtc) {
  EXPECT_EQ(T("2026-11-01T05:30:00+05:30"), T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(T("2026-11-01T05:30:00+0530"), T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(T("2026-10-31T16:00:00-08:00"), T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(T("2026-10-31T16:00:00-0800").ToString(), "2026-11-01T00:00:00Z");
  EXPECT_EQ(T("2024-01-01T01:00:00+02:00").ToString(), "2023-12-31T23:00:00Z");
  EXPECT_EQ(T("2026-11-01T00:00:00-00:00"), T("2026-11-01T00:00:00Z"));
}

TEST(TimeTest, NineFractionalDigitsAreNanoseconds) {
  const Timestamp t = T("2026-11-01T00:00:00.123456789Z");
  EXPECT_EQ(t.nanos(), 123'456'789);
  EXPECT_EQ(t.ToString(), "2026-11-01T00:00:00.123456789Z");
  EXPECT_EQ(T("2026-11-01T00:00:00.5Z").nanos(), 500'000'000);
  EXPECT_EQ(T("2026-11-01T00:00:00.000000001Z").ToString(), "2026-11-01T00:00:00.000000001Z");
}

TEST(TimeTest, RejectsInvalidDatesAndTimes) {
  for (std::string_view text : {
           "2026-02-30T00:00:00Z",             // February 30
           "2026-11-01T24:00:00Z",             // hour 24
           "2026-13-01T00:00:00Z",             // month 13
           "2026-00-01",                       // month 0
           "2026-11-00",                       // day 0
           "2026-04-31",                       // April 31
           "2026-11-01T00:60:00Z",             // minute 60
           "2026-11-01T00:00:60Z",             // no leap seconds
           "0000-01-01",                       // year 0
           "2026-11-01T00:00:00Zjunk",         // trailing garbage
           "2026-11-01T00:00:00 ",             // trailing space
           " 2026-11-01",                      // leading space
           "2026-11-01T00:00:00.1234567890Z",  // 10 fractional digits
           "2026-11-01T00:00:00.Z",            // empty fraction
           "2026-11-01 00:00:00Z",             // space separator
           "2026-11-01T",                      // separator without a time
           "2026-11-01T00:00Z",                // no seconds
           "2026-11-01T00:00:00+05",           // offset without minutes
           "2026-11-01T00:00:00+5:30",         // one-digit offset hour
           "2026-11-01T00:00:00+24:00",        // offset hour 24
           "2026-11-01T00:00:00+05:60",        // offset minutes 60
           "2026-11-01T00:00:00+05:30Z",       // offset and Z
           "26-11-01",                         // two-digit year
           "2026-1-01",                        // one-digit month
           "2026/11/01",                       // wrong separator
           "20261101",                         // basic format
           "",                                 // empty
           "0001-01-01T00:00:00+01:00",        // before year 1 in UTC
           "9999-12-31T23:00:00-05:00",        // after year 9999 in UTC
       }) {
    ExpectInvalidDateTime(text);
  }
}

TEST(TimeTest, ErrorsNameThePositionAndWhatWasExpected) {
  const absl::Status status = Timestamp::Parse("2026-11-01X00:00:00Z").status();
  EXPECT_NE(status.message().find("position 11"), std::string_view::npos) << status;
  EXPECT_NE(status.message().find("'T'"), std::string_view::npos) << status;
  const absl::Status fraction = Timestamp::Parse("2026-11-01T00:00:00.1234567890Z").status();
  EXPECT_NE(fraction.message().find("position 30"), std::string_view::npos) << fraction;
  const absl::Status month = Timestamp::Parse("2026-13-01").status();
  EXPECT_NE(month.message().find("month 13"), std::string_view::npos) << month;
}

TEST(TimeTest, LeapYearsFollowTheGregorianRules) {
  EXPECT_EQ(T("2024-02-29").ToString(), "2024-02-29T00:00:00Z");
  ExpectInvalidDateTime("2023-02-29");
  EXPECT_TRUE(Timestamp::Parse("2000-02-29").ok());
  ExpectInvalidDateTime("1900-02-29");
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2023, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(1900, 2), 28);
  EXPECT_EQ(DaysInMonth(2026, 4), 30);
  EXPECT_EQ(DaysInMonth(2026, 12), 31);
}

TEST(TimeTest, DaysFromCivilAndBackAgreeOnEveryDayOfTheRange) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11'017);
  EXPECT_EQ(DaysFromCivil(1, 1, 1), -719'162);
  std::int64_t expected = DaysFromCivil(1, 1, 1);
  for (int year = 1; year <= 9999; ++year) {
    for (int month = 1; month <= 12; ++month) {
      for (int day = 1; day <= DaysInMonth(year, month); ++day) {
        const std::int64_t days = DaysFromCivil(year, month, day);
        const CivilTime civil = CivilFromDays(days);
        if (days != expected || civil.year != year || civil.month != month || civil.day != day) {
          FAIL() << year << "-" << month << "-" << day << " is day " << days << ", expected "
                 << expected << ", and day " << days << " is " << civil.year << "-" << civil.month
                 << "-" << civil.day;
        }
        ++expected;
      }
    }
  }
}

TEST(TimeTest, FromCivilCheckedRejectsFieldsOutOfRange) {
  EXPECT_EQ(Timestamp::FromCivilChecked({.year = 2026, .month = 11, .day = 1}).value(),
            T("2026-11-01"));
  for (const CivilTime& civil : {
           CivilTime{.year = 2026, .month = 13},
           CivilTime{.year = 2026, .month = 2, .day = 30},
           CivilTime{.year = 2026, .hour = 24},
           CivilTime{.year = 2026, .minute = -1},
           CivilTime{.year = 2026, .nanos = 1'000'000'000},
           CivilTime{.year = 0},
           CivilTime{.year = 10000},
       }) {
    const absl::Status status = Timestamp::FromCivilChecked(civil).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_EQ(ErrorCode(status), "InvalidDateTime") << status;
  }
}

TEST(TimeTest, ToCivilSplitsTheFields) {
  const CivilTime civil = T("2021-01-02T01:30:12.6941233Z").ToCivil();
  EXPECT_EQ(civil.year, 2021);
  EXPECT_EQ(civil.month, 1);
  EXPECT_EQ(civil.day, 2);
  EXPECT_EQ(civil.hour, 1);
  EXPECT_EQ(civil.minute, 30);
  EXPECT_EQ(civil.second, 12);
  EXPECT_EQ(civil.nanos, 694'123'300);
}

TEST(TimeTest, ToStringRoundTripsThroughParse) {
  for (std::string_view text :
       {"2026-11-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
        "1969-12-31T23:59:59.5Z", "2024-02-29T12:34:56.000001Z", "1900-03-01T00:00:00Z"}) {
    EXPECT_EQ(T(text).ToString(), text);
    EXPECT_EQ(T(T(text).ToString()), T(text));
  }
}

TEST(TimeTest, TruncationGoesToTheStartOfTheHourDayAndMonth) {
  const Timestamp t = T("2026-11-17T13:45:12.25Z");
  EXPECT_EQ(t.TruncateToHour(), T("2026-11-17T13:00:00Z"));
  EXPECT_EQ(t.TruncateToDay(), T("2026-11-17T00:00:00Z"));
  EXPECT_EQ(t.TruncateToMonth(), T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(T("2026-11-01T00:00:00Z").TruncateToMonth(), T("2026-11-01T00:00:00Z"));
}

TEST(TimeTest, TruncationOfTimesBeforeTheEpochGoesBackwards) {
  const Timestamp t = T("1969-12-31T23:59:59.5Z");
  EXPECT_EQ(t.TruncateToHour(), T("1969-12-31T23:00:00Z"));
  EXPECT_EQ(t.TruncateToDay(), T("1969-12-31T00:00:00Z"));
  EXPECT_EQ(t.TruncateToMonth(), T("1969-12-01T00:00:00Z"));
  EXPECT_EQ(T("1969-03-01T00:00:00Z").TruncateToMonth(), T("1969-03-01"));
}

TEST(TimeTest, HourAlignmentIsJudgedInUtcToTheNanosecond) {
  EXPECT_TRUE(T("2026-11-01T05:00:00Z").IsHourAligned());
  EXPECT_TRUE(T("1969-12-31T23:00:00Z").IsHourAligned());
  EXPECT_FALSE(T("2026-11-01T05:00:01Z").IsHourAligned());
  EXPECT_FALSE(T("2026-11-01T05:00:00.1Z").IsHourAligned());
  EXPECT_TRUE(T("2026-11-01T05:30:00+05:30").IsHourAligned());
  EXPECT_FALSE(T("2026-11-01T05:00:00+05:30").IsHourAligned());
}

TEST(TimeTest, ArithmeticMovesByWholeUnits) {
  const Timestamp t = T("2026-12-31T23:00:00Z");
  EXPECT_EQ(t.AddHours(1), T("2027-01-01"));
  EXPECT_EQ(t.AddDays(-365), T("2025-12-31T23:00:00Z"));
  EXPECT_EQ(t.AddHours(1).SecondsSince(t), 3600);
}

TEST(YearMonthTest, OfGivesTheContainingMonth) {
  EXPECT_EQ(YearMonth::Of(T("2026-11-30T23:59:59.999999999Z")), YearMonth(2026, 11));
  EXPECT_EQ(YearMonth::Of(T("2026-12-01T00:00:00Z")), YearMonth(2026, 12));
  EXPECT_EQ(YearMonth::Of(T("1969-12-31T23:59:59Z")), YearMonth(1969, 12));
}

TEST(YearMonthTest, NextAndPreviousCrossYearEnds) {
  EXPECT_EQ(YearMonth(2026, 12).Next(), YearMonth(2027, 1));
  EXPECT_EQ(YearMonth(2027, 1).Previous(), YearMonth(2026, 12));
  EXPECT_EQ(YearMonth(2026, 5).Next(), YearMonth(2026, 6));
  EXPECT_EQ(YearMonth(2026, 5).Previous(), YearMonth(2026, 4));
}

TEST(YearMonthTest, StartAndEndBoundTheMonth) {
  const YearMonth february(2024, 2);
  EXPECT_EQ(february.Start(), T("2024-02-01"));
  EXPECT_EQ(february.End(), T("2024-03-01"));
  EXPECT_TRUE(february.Contains(T("2024-02-29T23:59:59.999999999Z")));
  EXPECT_FALSE(february.Contains(T("2024-03-01")));
  EXPECT_TRUE(february.Contains(T("2024-02-01")));
  EXPECT_EQ(YearMonth(2026, 12).End(), T("2027-01-01"));
}

TEST(YearMonthTest, ParsesAndPrintsYearDashMonth) {
  EXPECT_EQ(YearMonth::Parse("2026-11").value(), YearMonth(2026, 11));
  EXPECT_EQ(YearMonth(2026, 1).ToString(), "2026-01");
  EXPECT_EQ(YearMonth(987, 3).ToString(), "0987-03");
  EXPECT_EQ(YearMonth::Parse(YearMonth(2026, 1).ToString()).value(), YearMonth(2026, 1));
}

TEST(YearMonthTest, ParseRejectsAnythingButYearDashMonth) {
  for (std::string_view text : {"", "2026", "2026-13", "2026-00", "2026-1", "26-11", "2026-11-01",
                                "2026/11", "0000-01", "2026-11 ", "2026-1a"}) {
    ExpectInvalidBillingPeriod(text);
  }
}

TEST(YearMonthTest, OrderIsChronological) {
  EXPECT_LT(YearMonth(2026, 12), YearMonth(2027, 1));
  EXPECT_LT(YearMonth(2026, 1), YearMonth(2026, 2));
}

}  // namespace
}  // namespace stackbill
