#include "core/time.h"

#include <fmt/format.h>

#include <cstddef>

#include "core/error.h"

namespace stackbill {
namespace {

constexpr int kMinYear = 1;
constexpr int kMaxYear = 9999;
constexpr int kMaxFractionDigits = 9;
constexpr std::size_t kMaxQuoted = 64;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool IsLeapYear(std::int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Quoted(std::string_view text) {
  if (text.size() <= kMaxQuoted) return fmt::format("'{}'", text);
  return fmt::format("'{}…' ({} characters)", text.substr(0, kMaxQuoted), text.size());
}

// The fields of a date-time checked one by one, so that the message names the
// first that is wrong. Empty when `civil` is valid.
std::string CivilProblem(const CivilTime& civil) {
  if (civil.year < kMinYear || civil.year > kMaxYear) {
    return fmt::format("year {} is outside 0001–9999", civil.year);
  }
  if (civil.month < 1 || civil.month > 12) {
    return fmt::format("month {} is outside 1–12", civil.month);
  }
  const int days = DaysInMonth(civil.year, civil.month);
  if (civil.day < 1 || civil.day > days) {
    return fmt::format("day {} is outside 1–{} for {:04}-{:02}", civil.day, days, civil.year,
                       civil.month);
  }
  if (civil.hour < 0 || civil.hour > 23) return fmt::format("hour {} is outside 0–23", civil.hour);
  if (civil.minute < 0 || civil.minute > 59) {
    return fmt::format("minute {} is outside 0–59", civil.minute);
  }
  // No leap seconds: Azure's contracts never carry :60, and UTC instants here
  // are POSIX seconds.
  if (civil.second < 0 || civil.second > 59) {
    return fmt::format("second {} is outside 0–59", civil.second);
  }
  if (civil.nanos < 0 || civil.nanos > 999'999'999) {
    return fmt::format("nanoseconds {} are outside 0–999999999", civil.nanos);
  }
  return "";
}

// A cursor over the text being parsed; every failure names the 1-based
// position and what was expected there.
class DateTimeScanner {
 public:
  explicit DateTimeScanner(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ == text_.size(); }
  std::size_t position() const { return pos_ + 1; }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  bool Consume(char c) {
    if (AtEnd() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // Reads exactly `count` digits into `value`.
  bool Digits(int count, int& value) {
    value = 0;
    for (int i = 0; i < count; ++i) {
      if (AtEnd() || !IsDigit(text_[pos_])) return false;
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    return true;
  }

  absl::Status Error(std::string_view expected) const {
    return InvalidArgumentError("InvalidDateTime",
                                fmt::format("{} is not a date-time: expected {} at position {}",
                                            Quoted(text_), expected, position()));
  }
  absl::Status Invalid(std::string_view why) const {
    return InvalidArgumentError("InvalidDateTime",
                                fmt::format("{} is not a date-time: {}", Quoted(text_), why));
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::int64_t DaysFromCivil(int year, int month, int day) {
  // Count in years that start on March 1, so that the leap day is the last
  // day of the year and the month lengths before it follow the 153-day
  // five-month pattern (31 30 31 30 31). Eras of 400 years (146097 days)
  // make the count exact for negative years too.
  const std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
  const std::int64_t era = FloorDiv(y, 400);
  const std::int64_t year_of_era = y - era * 400;                            // [0, 399]
  const std::int64_t shifted_month = month > 2 ? month - 3 : month + 9;      // March = 0
  const std::int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;  // [0, 365]
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;  // [0, 146096]
  // 719468 days separate 0000-03-01 from 1970-01-01.
  return era * 146097 + day_of_era - 719468;
}

CivilTime CivilFromDays(std::int64_t days) {
  const std::int64_t shifted = days + 719468;  // days since 0000-03-01
  const std::int64_t era = FloorDiv(shifted, 146097);
  const std::int64_t day_of_era = shifted - era * 146097;  // [0, 146096]
  // Removing the leap days of the era so far (one per 4 years, less one per
  // 100, plus one per 400) leaves a count divisible by 365 per year.
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // [0, 365]
  const std::int64_t shifted_month = (5 * day_of_year + 2) / 153;              // March = 0
  CivilTime civil;
  civil.day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  civil.month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  civil.year = static_cast<int>(year_of_era + era * 400 + (civil.month <= 2 ? 1 : 0));
  return civil;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && IsLeapYear(year)) return 29;
  return kDays[month - 1];
}

Timestamp Timestamp::FromCivil(const CivilTime& civil) {
  const std::int64_t seconds = DaysFromCivil(civil.year, civil.month, civil.day) * kSecondsPerDay +
                               civil.hour * kSecondsPerHour + std::int64_t{civil.minute} * 60 +
                               civil.second;
  return Timestamp(seconds, civil.nanos);
}

absl::StatusOr<Timestamp> Timestamp::FromCivilChecked(const CivilTime& civil) {
  const std::string problem = CivilProblem(civil);
  if (!problem.empty()) {
    return InvalidArgumentError(
        "InvalidDateTime",
        fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02} is not a date-time: {}", civil.year,
                    civil.month, civil.day, civil.hour, civil.minute, civil.second, problem));
  }
  return FromCivil(civil);
}

absl::StatusOr<Timestamp> Timestamp::Parse(std::string_view text) {
  DateTimeScanner in(text);
  CivilTime civil;
  if (!in.Digits(4, civil.year)) return in.Error("a 4-digit year");
  if (!in.Consume('-')) return in.Error("'-'");
  if (!in.Digits(2, civil.month)) return in.Error("a 2-digit month");
  if (!in.Consume('-')) return in.Error("'-'");
  if (!in.Digits(2, civil.day)) return in.Error("a 2-digit day");

  std::int64_t offset_seconds = 0;
  if (!in.AtEnd()) {
    // RFC 3339 allows the separator and the zone letter in either case.
    if (!in.Consume('T') && !in.Consume('t')) return in.Error("'T' or the end of the text");
    if (!in.Digits(2, civil.hour)) return in.Error("a 2-digit hour");
    if (!in.Consume(':')) return in.Error("':'");
    if (!in.Digits(2, civil.minute)) return in.Error("2-digit minutes");
    if (!in.Consume(':')) return in.Error("':'");
    if (!in.Digits(2, civil.second)) return in.Error("2-digit seconds");
    if (in.Consume('.')) {
      int digits = 0;
      while (IsDigit(in.Peek())) {
        if (digits == kMaxFractionDigits) {
          return in.Error("at most 9 fractional digits (nanoseconds) and then the offset");
        }
        int digit = 0;
        in.Digits(1, digit);
        civil.nanos = civil.nanos * 10 + digit;
        ++digits;
      }
      if (digits == 0) return in.Error("a fractional digit");
      for (int i = digits; i < kMaxFractionDigits; ++i) civil.nanos *= 10;
    }
    const bool utc_designator = in.Consume('Z') || in.Consume('z');
    if (!utc_designator && (in.Peek() == '+' || in.Peek() == '-')) {
      const std::int64_t sign = in.Peek() == '-' ? -1 : 1;
      in.Consume(in.Peek());
      int hours = 0;
      int minutes = 0;
      if (!in.Digits(2, hours)) return in.Error("a 2-digit offset hour");
      if (hours > 23) return in.Invalid(fmt::format("offset hour {} is outside 0–23", hours));
      in.Consume(':');
      if (!in.Digits(2, minutes)) return in.Error("2-digit offset minutes");
      if (minutes > 59) {
        return in.Invalid(fmt::format("offset minutes {} are outside 0–59", minutes));
      }
      offset_seconds = sign * (hours * kSecondsPerHour + std::int64_t{minutes} * 60);
    }
    if (!in.AtEnd()) return in.Error("'Z', an offset like +05:30, or the end of the text");
  }

  const std::string problem = CivilProblem(civil);
  if (!problem.empty()) return in.Invalid(problem);
  // The local time minus its offset is UTC.
  const Timestamp utc = FromCivil(civil).AddSeconds(-offset_seconds);
  const int utc_year = utc.ToCivil().year;
  if (utc_year < kMinYear || utc_year > kMaxYear) {
    return in.Invalid(fmt::format("in UTC it falls in year {}, outside 0001–9999", utc_year));
  }
  return utc;
}

CivilTime Timestamp::ToCivil() const {
  CivilTime civil = CivilFromDays(FloorDiv(seconds_, kSecondsPerDay));
  const std::int64_t second_of_day = FloorMod(seconds_, kSecondsPerDay);
  civil.hour = static_cast<int>(second_of_day / kSecondsPerHour);
  civil.minute = static_cast<int>(second_of_day % kSecondsPerHour / 60);
  civil.second = static_cast<int>(second_of_day % 60);
  civil.nanos = nanos_;
  return civil;
}

std::string Timestamp::ToString() const {
  const CivilTime c = ToCivil();
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day,
                                c.hour, c.minute, c.second);
  if (c.nanos != 0) {
    std::string fraction = fmt::format("{:09}", c.nanos);
    fraction.erase(fraction.find_last_not_of('0') + 1);
    out += '.';
    out += fraction;
  }
  out += 'Z';
  return out;
}

Timestamp Timestamp::TruncateToMonth() const {
  const CivilTime c = ToCivil();
  return FromCivil(CivilTime{.year = c.year, .month = c.month});
}

YearMonth YearMonth::Of(Timestamp t) {
  const CivilTime c = t.ToCivil();
  return YearMonth(c.year, c.month);
}

absl::StatusOr<YearMonth> YearMonth::Parse(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return InvalidArgumentError(
        "InvalidBillingPeriod",
        fmt::format("{} is not a billing period (YYYY-MM): {}", Quoted(text), why));
  };
  DateTimeScanner in(text);
  int year = 0;
  int month = 0;
  if (!in.Digits(4, year))
    return invalid(fmt::format("expected a 4-digit year at position {}", in.position()));
  if (!in.Consume('-')) return invalid(fmt::format("expected '-' at position {}", in.position()));
  if (!in.Digits(2, month)) {
    return invalid(fmt::format("expected a 2-digit month at position {}", in.position()));
  }
  if (!in.AtEnd()) return invalid(fmt::format("unexpected text at position {}", in.position()));
  if (year < kMinYear) return invalid("year 0000 is outside 0001–9999");
  if (month < 1 || month > 12) return invalid(fmt::format("month {} is outside 1–12", month));
  return YearMonth(year, month);
}

Timestamp YearMonth::Start() const {
  return Timestamp::FromCivil(CivilTime{.year = year_, .month = month_});
}

std::string YearMonth::ToString() const { return fmt::format("{:04}-{:02}", year_, month_); }

}  // namespace stackbill
