#pragma once

// UTC time for stackbill: Timestamp (an instant, nanosecond resolution, years
// 0001–9999), YearMonth (a billing period: a calendar month in UTC) and the
// hour/day/month arithmetic that usage windows and billing periods need.
//
// Parsing accepts the ISO 8601 / RFC 3339 forms found in Azure's contracts:
//   2026-11-01T00:00:00Z            2015-06-01T00:00:00+00:00
//   2017-08-01T00:00:00.00Z         2021-01-02T01:30:12.6941233+00:00
//   9999-12-30T15:59:59             (no offset: taken as UTC, as Azure does)
//   2026-11-01                      (a date alone: midnight UTC)
// and rejects anything else with InvalidArgument / "InvalidDateTime" naming
// the position. Formatting is always UTC with a 'Z'.
//
// Core code never reads the clock: "now" is passed in by the caller. Value
// types; thread-compatible.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stackbill {

// Broken-down UTC time.
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1–12
  int day = 1;    // 1–31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int nanos = 0;  // 0–999,999,999
};

class Timestamp {
 public:
  static constexpr std::int64_t kSecondsPerHour = 3600;
  static constexpr std::int64_t kSecondsPerDay = 86400;

  // The Unix epoch.
  constexpr Timestamp() = default;

  static constexpr Timestamp FromUnixSeconds(std::int64_t seconds, std::int32_t nanos = 0) {
    return Timestamp(seconds, nanos);
  }
  // REQUIRES: `civil` is a valid date and time (checked by FromCivilChecked).
  static Timestamp FromCivil(const CivilTime& civil);
  // Returns InvalidArgument / "InvalidDateTime" when a field is out of range
  // (month 13, February 30, hour 24, year outside 1–9999, …).
  static absl::StatusOr<Timestamp> FromCivilChecked(const CivilTime& civil);

  // Parses the forms listed above. Offsets (`Z`, `z`, `±hh:mm`, `±hhmm`) are
  // applied, so the result is UTC. At most 9 fractional digits. The separator
  // is `T` (or `t`, as RFC 3339 allows); seconds are required; no leap second.
  // A result outside years 0001–9999 in UTC is InvalidDateTime too.
  static absl::StatusOr<Timestamp> Parse(std::string_view text);

  // "2026-11-01T00:00:00Z"; fractional seconds only when non-zero, trimmed
  // of trailing zeros ("…T01:30:12.6941233Z").
  std::string ToString() const;

  CivilTime ToCivil() const;
  std::int64_t unix_seconds() const { return seconds_; }
  std::int32_t nanos() const { return nanos_; }

  bool IsHourAligned() const { return nanos_ == 0 && FloorMod(seconds_, kSecondsPerHour) == 0; }
  Timestamp TruncateToHour() const { return Floor(kSecondsPerHour); }
  Timestamp TruncateToDay() const { return Floor(kSecondsPerDay); }
  Timestamp TruncateToMonth() const;

  Timestamp AddSeconds(std::int64_t seconds) const { return Timestamp(seconds_ + seconds, nanos_); }
  Timestamp AddHours(std::int64_t hours) const { return AddSeconds(hours * kSecondsPerHour); }
  Timestamp AddDays(std::int64_t days) const { return AddSeconds(days * kSecondsPerDay); }

  // Whole seconds from `earlier` to this, ignoring sub-second parts.
  std::int64_t SecondsSince(Timestamp earlier) const { return seconds_ - earlier.seconds_; }

  friend auto operator<=>(const Timestamp&, const Timestamp&) = default;

 private:
  constexpr Timestamp(std::int64_t seconds, std::int32_t nanos)
      : seconds_(seconds), nanos_(nanos) {}
  static constexpr std::int64_t FloorMod(std::int64_t a, std::int64_t b) {
    const std::int64_t r = a % b;
    return r < 0 ? r + b : r;
  }
  Timestamp Floor(std::int64_t unit) const {
    return Timestamp(seconds_ - FloorMod(seconds_, unit), 0);
  }

  std::int64_t seconds_ = 0;  // since 1970-01-01T00:00:00Z
  std::int32_t nanos_ = 0;    // 0–999,999,999
};

// A calendar month in UTC: the billing period (SPEC §5).
class YearMonth {
 public:
  constexpr YearMonth() = default;
  // REQUIRES: 1 <= month <= 12, 1 <= year <= 9999.
  constexpr YearMonth(int year, int month) : year_(year), month_(month) {}

  // The month that contains `t`.
  static YearMonth Of(Timestamp t);
  // Parses "YYYY-MM"; InvalidArgument / "InvalidBillingPeriod" otherwise.
  static absl::StatusOr<YearMonth> Parse(std::string_view text);

  int year() const { return year_; }
  int month() const { return month_; }
  YearMonth Next() const {
    return month_ == 12 ? YearMonth(year_ + 1, 1) : YearMonth(year_, month_ + 1);
  }
  YearMonth Previous() const {
    return month_ == 1 ? YearMonth(year_ - 1, 12) : YearMonth(year_, month_ - 1);
  }
  // First instant of the month, inclusive.
  Timestamp Start() const;
  // First instant of the next month: the exclusive end.
  Timestamp End() const { return Next().Start(); }
  bool Contains(Timestamp t) const { return Start() <= t && t < End(); }

  // "2026-11".
  std::string ToString() const;

  friend auto operator<=>(const YearMonth&, const YearMonth&) = default;

 private:
  int year_ = 1970;
  int month_ = 1;
};

// Days since 1970-01-01 of a proleptic Gregorian date, and back (exact for
// every year in range).
std::int64_t DaysFromCivil(int year, int month, int day);
CivilTime CivilFromDays(std::int64_t days);
int DaysInMonth(int year, int month);

}  // namespace stackbill
