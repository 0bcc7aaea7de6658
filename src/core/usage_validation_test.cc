// Tests of the history-free checks on one forwarded usage record (SPEC §4,
// "Validation"): each quarantine code, SPEC's fixed order (a record failing
// two checks reports the earlier one), the exact quantity rule (R14: parsed
// from text, never through binary floating point), hour-aligned UTC windows of
// at most 24 h, the FutureUsage skew and the TooOld retention. Records that
// fail are quarantined, not dropped (R10); their identity (R11) is the id or
// the natural key, so ValidatedUsage keeps "" for a record without an id.

#include "core/usage_validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/testing/status_matchers.h"

namespace stackbill {
namespace {

using ::stackbill::testing::ExpectError;

constexpr std::string_view kCloud = "5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a";
constexpr std::string_view kOtherCloud = "7c1e4a2b-9d3f-4b5a-8c6d-0e1f2a3b4c5d";
constexpr std::string_view kTenant = "2ad9d0f7-d8a0-4f3b-8b1f-2c3d4e5f6a7b";
constexpr std::string_view kSubscription = "0b5d5e61-6c2a-4a3e-9e0e-1f2d3c4b5a69";
// Azure Stack's "Base VM Size Hours" meter.
constexpr std::string_view kMeter = "FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5";
constexpr std::string_view kUnknownMeterId = "11111111-2222-3333-4444-555555555555";

Guid G(std::string_view text) { return Guid::Parse(text).value(); }
Timestamp T(std::string_view text) { return Timestamp::Parse(text).value(); }

// A record that passes every check at kNow.
UsageFields ValidFields() {
  UsageFields fields;
  fields.record_id = "rec-1";
  fields.tenant_id = kTenant;
  fields.subscription_id = kSubscription;
  fields.meter_id = kMeter;
  fields.quantity = "2.0000000000";
  fields.usage_start = "2026-11-01T00:00:00Z";
  fields.usage_end = "2026-11-01T01:00:00Z";
  fields.resource_uri = "/subscriptions/x/virtualMachines/vm1";
  fields.instance_data =
      R"({"Microsoft.Resources":{"resourceUri":"/subscriptions/x/virtualMachines/vm1"}})";
  return fields;
}

class UsageValidationTest : public ::testing::Test {
 protected:
  absl::StatusOr<ValidatedUsage> Validate(const UsageFields& fields,
                                          const UsageValidationOptions& options = {}) {
    return ValidateUsageFields(fields, G(kCloud), meter_known_, now_, options);
  }

  Timestamp now_ = T("2026-11-15T00:00:00Z");
  std::vector<Guid> meters_asked_;
  MeterKnown meter_known_ = [this](const Guid& meter) {
    meters_asked_.push_back(meter);
    return meter == G(kMeter);
  };
};

TEST_F(UsageValidationTest, ValidRecordBecomesTypedUsage) {
  auto usage = Validate(ValidFields());
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->record_id, "rec-1");
  ASSERT_TRUE(usage->tenant_id.has_value());
  EXPECT_EQ(*usage->tenant_id, G(kTenant));
  EXPECT_EQ(usage->local_subscription_id, G(kSubscription));
  EXPECT_EQ(usage->meter_id, G(kMeter));
  EXPECT_EQ(usage->quantity.ToString(), "2");
  EXPECT_EQ(usage->usage_start, T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(usage->usage_end, T("2026-11-01T01:00:00Z"));
}

TEST_F(UsageValidationTest, RecordWithoutIdOrTenantKeepsEmptyIdAndNoTenant) {
  UsageFields fields = ValidFields();
  fields.record_id.reset();
  fields.tenant_id.reset();
  auto usage = Validate(fields);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->record_id, "");
  EXPECT_FALSE(usage->tenant_id.has_value());
}

// --- CloudMismatch ---------------------------------------------------------

TEST_F(UsageValidationTest, CloudIdOfAnotherStackIsCloudMismatch) {
  UsageFields fields = ValidFields();
  fields.cloud_id = kOtherCloud;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "CloudMismatch");
}

TEST_F(UsageValidationTest, CloudIdThatIsNotAGuidIsCloudMismatch) {
  UsageFields fields = ValidFields();
  fields.cloud_id = "local";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "CloudMismatch");
}

TEST_F(UsageValidationTest, CloudIdOfThePathInUpperCaseWithoutHyphensIsAccepted) {
  UsageFields fields = ValidFields();
  fields.cloud_id = "5BF881B34D564E2EA8BE5D3B1C4D9B0A";
  EXPECT_TRUE(Validate(fields).ok());
}

// --- InvalidId -------------------------------------------------------------

TEST_F(UsageValidationTest, IdOf128CharactersIsAccepted) {
  const std::string id(128, 'a');
  UsageFields fields = ValidFields();
  fields.record_id = id;
  auto usage = Validate(fields);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->record_id, id);
}

TEST_F(UsageValidationTest, IdOf129CharactersIsInvalidId) {
  const std::string id(129, 'a');
  UsageFields fields = ValidFields();
  fields.record_id = id;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidId");
}

TEST_F(UsageValidationTest, EmptyIdIsInvalidId) {
  UsageFields fields = ValidFields();
  fields.record_id = "";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidId");
}

// --- InvalidGuid -----------------------------------------------------------

TEST_F(UsageValidationTest, TenantIdThatIsNotAGuidIsInvalidGuid) {
  UsageFields fields = ValidFields();
  fields.tenant_id = "contoso.onmicrosoft.com";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidGuid");
}

TEST_F(UsageValidationTest, SubscriptionIdThatIsNotAGuidIsInvalidGuid) {
  UsageFields fields = ValidFields();
  fields.subscription_id = "0b5d5e61-6c2a-4a3e-9e0e-1f2d3c4b5a6";  // 31 hex digits
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidGuid");
}

TEST_F(UsageValidationTest, MeterIdThatIsNotAGuidIsInvalidGuid) {
  UsageFields fields = ValidFields();
  fields.meter_id = "Base VM Size Hours";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidGuid");
}

TEST_F(UsageValidationTest, GuidInBracesIsInvalidGuid) {
  UsageFields fields = ValidFields();
  fields.subscription_id = "{0b5d5e61-6c2a-4a3e-9e0e-1f2d3c4b5a69}";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidGuid");
}

TEST_F(UsageValidationTest, EmptySubscriptionIdIsInvalidGuid) {
  UsageFields fields = ValidFields();
  fields.subscription_id = "";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidGuid");
}

TEST_F(UsageValidationTest, GuidsInAnyCaseWithOrWithoutHyphensAreAccepted) {
  for (const std::string_view meter :
       {"FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5", "fab6eb84-500b-4a09-a8ca-7358f8bbaea5",
        "FAB6EB84500B4A09A8CA7358F8BBAEA5", "fab6eb84500b4a09a8ca7358f8bbaea5",
        "Fab6Eb84-500b-4A09-a8Ca-7358f8BBaea5"}) {
    UsageFields fields = ValidFields();
    fields.meter_id = meter;
    fields.subscription_id = "0B5D5E616C2A4A3E9E0E1F2D3C4B5A69";
    fields.tenant_id = "2AD9D0F7D8A04F3B8B1F2C3D4E5F6A7B";
    auto usage = Validate(fields);
    ASSERT_TRUE(usage.ok()) << meter << ": " << usage.status();
    EXPECT_EQ(usage->meter_id, G(kMeter)) << meter;
    EXPECT_EQ(usage->local_subscription_id, G(kSubscription));
    EXPECT_EQ(*usage->tenant_id, G(kTenant));
  }
}

// --- UnknownMeter ----------------------------------------------------------

TEST_F(UsageValidationTest, MeterNotInTheCatalogueIsUnknownMeter) {
  UsageFields fields = ValidFields();
  fields.meter_id = kUnknownMeterId;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "UnknownMeter");
  ASSERT_EQ(meters_asked_.size(), 1u);
  EXPECT_EQ(meters_asked_[0], G(kUnknownMeterId));
}

TEST_F(UsageValidationTest, MeterIsLookedUpByItsParsedGuidWhateverItsCase) {
  UsageFields fields = ValidFields();
  fields.meter_id = "fab6eb84500b4a09a8ca7358f8bbaea5";
  ASSERT_TRUE(Validate(fields).ok());
  ASSERT_EQ(meters_asked_.size(), 1u);
  EXPECT_EQ(meters_asked_[0], G(kMeter));
}

// --- InvalidQuantity -------------------------------------------------------

TEST_F(UsageValidationTest, QuantityWithTenFractionalDigitsIsExact) {
  UsageFields fields = ValidFields();
  fields.quantity = "0.1234567891";
  auto usage = Validate(fields);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->quantity.ToString(), "0.1234567891");
}

TEST_F(UsageValidationTest, QuantityWithElevenFractionalDigitsIsInvalidQuantity) {
  UsageFields fields = ValidFields();
  fields.quantity = "1.00000000001";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidQuantity");
}

TEST_F(UsageValidationTest, NegativeQuantityIsInvalidQuantity) {
  UsageFields fields = ValidFields();
  fields.quantity = "-1";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidQuantity");
}

TEST_F(UsageValidationTest, QuantityThatWasNotAJsonNumberIsInvalidQuantity) {
  UsageFields fields = ValidFields();
  fields.quantity = R"("2.0")";  // the parser keeps a string's token, quotes included
  fields.quantity_is_number = false;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidQuantity");
}

TEST(ParseUsageQuantityTest, ExactValuesAreParsedFromTheirText) {
  struct Case {
    std::string_view text;
    std::string_view value;
  };
  for (const Case& c : std::vector<Case>{
           {"0", "0"},
           {"0.1", "0.1"},  // not 0.1000000000000000055511151231257827 as a double would be
           {"2.0000000000", "2"},
           {"2", "2"},
           {"1e-10", "0.0000000001"},
           {"1E-3", "0.001"},
           {"2.5e+2", "250"},
           {"1.00000000010", "1.0000000001"},  // 11 digits, the last a trailing zero
           {"1.000000000000000000", "1"},
           {"123456789012345.5", "123456789012345.5"},  // 1.2 × 10^14: below 10^15
           {"999999999999999.9999999999", "999999999999999.9999999999"},
           {"1e14", "100000000000000"},
           {"-0", "0"},  // the exact value is 0, which is >= 0
           {"-0.0", "0"},
           {"0e99999", "0"},
       }) {
    auto quantity = ParseUsageQuantity(c.text);
    ASSERT_TRUE(quantity.ok()) << c.text << ": " << quantity.status();
    EXPECT_EQ(quantity->ToString(), c.value) << c.text;
    EXPECT_FALSE(quantity->IsNegative()) << c.text;
  }
}

TEST(ParseUsageQuantityTest, ValuesThatAreNotExactOrOutOfRangeOrNegativeAreInvalidQuantity) {
  for (const std::string_view text : {
           "1.00000000001",     // 11 significant fractional digits
           "1.000000000010",    // 12 digits, 11 of them significant
           "1e-11",             // 10^-11
           "0.00000000005",     //
           "1000000000000000",  // 10^15
           "1e15",              //
           "1234567890123456",  // 1.2 × 10^15
           "999999999999999.99999999999",
           "1e999999999999999999",  // an exponent beyond int64
           "-1",                    //
           "-0.0000000001",         //
           "-1e15",                 //
       }) {
    ExpectError(ParseUsageQuantity(text).status(), absl::StatusCode::kInvalidArgument,
                "InvalidQuantity");
  }
}

TEST(ParseUsageQuantityTest, TextThatIsNotAJsonNumberIsInvalidQuantity) {
  for (const std::string_view text :
       {"", "+1", ".5", "01", "1.", "-", "--1", "1e", "1e+", "0x10", "NaN", "Infinity", " 1", "1 ",
        "1,5", "\"1\"", "true", "null", "١"}) {
    ExpectError(ParseUsageQuantity(text).status(), absl::StatusCode::kInvalidArgument,
                "InvalidQuantity");
  }
}

TEST(IsJsonNumberTest, AcceptsExactlyTheGrammarOfRfc8259) {
  for (const std::string_view text : {"0", "-0", "1", "-1", "10", "0.5", "-0.5", "1.25", "1e5",
                                      "1E5", "1e+5", "1e-5", "0e0", "2.0000000000", "123456789"}) {
    EXPECT_TRUE(IsJsonNumber(text)) << text;
  }
  for (const std::string_view text :
       {"",     "-",  "+1",       ".5",        "01",  "-01",  "00",    "1.",
        "1.e5", "1e", "1e+",      "1e-",       "e5",  "1ee5", "1.2.3", "0x1",
        "1 ",   " 1", "Infinity", "-Infinity", "NaN", "1_000"}) {
    EXPECT_FALSE(IsJsonNumber(text)) << text;
  }
}

// --- InvalidWindow ---------------------------------------------------------

TEST_F(UsageValidationTest, StartNotOnAWholeHourIsInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-01T00:30:00Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

TEST_F(UsageValidationTest, EndNotOnAWholeHourIsInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.usage_end = "2026-11-01T01:00:01Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

TEST_F(UsageValidationTest, FractionalSecondOffTheHourIsInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.usage_end = "2026-11-01T01:00:00.0000001Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

TEST_F(UsageValidationTest, ZeroFractionOnTheHourIsAligned) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-01T00:00:00.00Z";
  EXPECT_TRUE(Validate(fields).ok());
}

TEST_F(UsageValidationTest, TimeThatIsNotIso8601IsInvalidWindow) {
  for (const std::string_view text : {"", "yesterday", "2026-11-01 00:00:00", "1793491200"}) {
    UsageFields fields = ValidFields();
    fields.usage_start = text;
    ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
  }
}

TEST_F(UsageValidationTest, OffsetTimesAreConvertedToUtcBeforeTheHourCheck) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-01T05:30:00+05:30";  // 00:00Z
  fields.usage_end = "2026-10-31T20:00:00-05:00";    // 01:00Z
  auto usage = Validate(fields);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->usage_start, T("2026-11-01T00:00:00Z"));
  EXPECT_EQ(usage->usage_end, T("2026-11-01T01:00:00Z"));
}

TEST_F(UsageValidationTest, WholeLocalHourInAHalfHourOffsetIsInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-01T05:00:00+05:30";  // 2026-10-31T23:30:00Z
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

TEST_F(UsageValidationTest, EndEqualToStartIsInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.usage_end = fields.usage_start;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

TEST_F(UsageValidationTest, EndBeforeStartIsInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-01T01:00:00Z";
  fields.usage_end = "2026-11-01T00:00:00Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

TEST_F(UsageValidationTest, WindowOfTwentyFourHoursIsAccepted) {
  UsageFields fields = ValidFields();
  fields.usage_end = "2026-11-02T00:00:00Z";
  EXPECT_TRUE(Validate(fields).ok());
}

TEST_F(UsageValidationTest, WindowOfTwentyFiveHoursIsInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.usage_end = "2026-11-02T01:00:00Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

// --- FutureUsage and TooOld ------------------------------------------------

TEST_F(UsageValidationTest, EndOneHourBeyondNowIsWithinTheDefaultSkew) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-15T00:00:00Z";
  fields.usage_end = "2026-11-15T01:00:00Z";
  EXPECT_TRUE(Validate(fields).ok());
}

TEST_F(UsageValidationTest, EndTwoHoursBeyondNowIsFutureUsage) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-15T01:00:00Z";
  fields.usage_end = "2026-11-15T02:00:00Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kFailedPrecondition, "FutureUsage");
}

TEST_F(UsageValidationTest, EndJustBeyondTheSkewIsFutureUsage) {
  now_ = T("2026-11-14T23:59:59Z");  // now + 1 h is one second before 01:00Z
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-15T00:00:00Z";
  fields.usage_end = "2026-11-15T01:00:00Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kFailedPrecondition, "FutureUsage");
}

TEST_F(UsageValidationTest, ZeroSkewRefusesAnEndAfterNow) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-15T00:00:00Z";
  fields.usage_end = "2026-11-15T01:00:00Z";
  UsageValidationOptions options;
  options.future_skew_seconds = 0;
  ExpectError(Validate(fields, options).status(), absl::StatusCode::kFailedPrecondition,
              "FutureUsage");
}

TEST_F(UsageValidationTest, StartFourHundredDaysAgoIsAccepted) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2025-10-11T00:00:00Z";  // 2026-11-15 − 400 days
  fields.usage_end = "2025-10-11T01:00:00Z";
  ASSERT_EQ(T("2026-11-15T00:00:00Z").SecondsSince(T(fields.usage_start)),
            400 * Timestamp::kSecondsPerDay);
  EXPECT_TRUE(Validate(fields).ok());
}

TEST_F(UsageValidationTest, StartMoreThanFourHundredDaysAgoIsTooOld) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2025-10-10T23:00:00Z";
  fields.usage_end = "2025-10-11T00:00:00Z";
  ExpectError(Validate(fields).status(), absl::StatusCode::kFailedPrecondition, "TooOld");
}

TEST_F(UsageValidationTest, ShorterRetentionMakesRecentUsageTooOld) {
  UsageFields fields = ValidFields();  // 14 days before now
  UsageValidationOptions options;
  options.max_age_seconds = 7 * Timestamp::kSecondsPerDay;
  ExpectError(Validate(fields, options).status(), absl::StatusCode::kFailedPrecondition, "TooOld");
}

// --- The order of the checks (SPEC §4) -------------------------------------

// A record that fails every check: the first in SPEC's order is reported,
// and each fix reveals the next.
TEST_F(UsageValidationTest, RecordFailingSeveralChecksReportsTheEarliestInSpecOrder) {
  UsageFields fields;
  fields.cloud_id = kOtherCloud;
  const std::string long_id(129, 'x');
  fields.record_id = long_id;
  fields.tenant_id = "not-a-guid";
  fields.subscription_id = kSubscription;
  fields.meter_id = kUnknownMeterId;
  fields.quantity = "-1";
  fields.usage_start = "2026-11-01T00:30:00Z";
  fields.usage_end = "2026-11-01T01:00:00Z";

  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "CloudMismatch");
  fields.cloud_id = kCloud;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidId");
  fields.record_id = "rec-1";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidGuid");
  EXPECT_TRUE(meters_asked_.empty()) << "the meter is looked up only after the GUID checks";
  fields.tenant_id = kTenant;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "UnknownMeter");
  fields.meter_id = kMeter;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidQuantity");
  fields.quantity = "1";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
  fields.usage_start = "2026-11-01T00:00:00Z";
  EXPECT_TRUE(Validate(fields).ok());
}

TEST_F(UsageValidationTest, InvalidGuidComesBeforeUnknownMeter) {
  UsageFields fields = ValidFields();
  fields.meter_id = "not-a-meter";
  fields.subscription_id = "not-a-subscription";
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidGuid");
}

TEST_F(UsageValidationTest, UnknownMeterComesBeforeAQuantityThatIsNotANumber) {
  UsageFields fields = ValidFields();
  fields.meter_id = kUnknownMeterId;
  fields.quantity = R"("2")";
  fields.quantity_is_number = false;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "UnknownMeter");
}

TEST_F(UsageValidationTest, InvalidQuantityComesBeforeInvalidWindow) {
  UsageFields fields = ValidFields();
  fields.quantity = "1e15";
  fields.usage_end = fields.usage_start;
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidQuantity");
}

TEST_F(UsageValidationTest, InvalidWindowComesBeforeFutureUsage) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2027-01-01T00:00:00Z";
  fields.usage_end = "2027-01-03T00:00:00Z";  // 48 h, and in the future
  ExpectError(Validate(fields).status(), absl::StatusCode::kInvalidArgument, "InvalidWindow");
}

TEST_F(UsageValidationTest, FutureUsageComesBeforeTooOld) {
  UsageFields fields = ValidFields();
  fields.usage_start = "2026-11-15T00:00:00Z";
  fields.usage_end = "2026-11-15T02:00:00Z";
  UsageValidationOptions options;
  options.max_age_seconds = 0;
  now_ = T("2026-11-15T00:30:00Z");
  // Start is 30 min before now (TooOld with a zero retention), end 90 min
  // after (FutureUsage with the 1 h skew): FutureUsage is reported.
  ExpectError(Validate(fields, options).status(), absl::StatusCode::kFailedPrecondition,
              "FutureUsage");
}

}  // namespace
}  // namespace stackbill
