// libFuzzer target for the usage request parser (SPEC §4): any bytes go
// through UsageBodyParser::Parse as an NDJSON body and as a usage page (every
// well-formed record then through ValidateUsageFields), and through
// ParseSupersedeBody. Built and run by scripts/fuzz under AddressSanitizer +
// UBSan: a crash, a leak, undefined behaviour or a broken invariant
// (__builtin_trap) is a finding.
//
// Invariants checked on every input:
//  - NDJSON never fails as a whole; a usage page or a supersede body fails
//    only with its product error codes;
//  - records come in order (records[i].index == i) and keep their raw text;
//  - a record is malformed (with its reason) unless nlohmann-json, a second
//    library, agrees it is JSON (FirstJsonError; a number beyond a double is
//    left to the quantity check), and so is its canonical instanceData; a
//    usage page or supersede body that parses is JSON, and a usage page
//    refused as InvalidJson names a byte offset or the parser's limits;
//  - a well-formed usage page record replays: its raw text, parsed as one
//    NDJSON line (what a replay of the quarantine does), gives the same fields;
//  - canonical instanceData is a fixed point: sent back as instanceData, it
//    comes out unchanged;
//  - validation fails only with a quarantine code.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/guid.h"
#include "core/time.h"
#include "core/usage_validation.h"
#include "wire/json_syntax.h"
#include "wire/usage_parser.h"

namespace stackbill {
namespace {

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

// The fixed world of one run: a cloud, one known meter, a clock.
struct Fixture {
  Guid cloud = Guid::Parse("5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a").value();
  Guid meter = Guid::Parse("FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5").value();
  Timestamp now = Timestamp::Parse("2026-11-15T00:00:00Z").value();
  MeterKnown meter_known = [this](const Guid& id) { return id == meter; };
  UsageValidationOptions options;
  UsageBodyParser parser;
  UsageBodyParser replay_parser;  // the second parse must not disturb the first's views
};

bool IsJsonOrOnlyOutOfRange(std::string_view text) {
  const std::optional<JsonError> error = FirstJsonError(text);
  return !error || error->number_out_of_range;
}

bool SameFields(const UsageFields& a, const UsageFields& b) {
  return a.cloud_id == b.cloud_id && a.record_id == b.record_id && a.tenant_id == b.tenant_id &&
         a.subscription_id == b.subscription_id && a.meter_id == b.meter_id &&
         a.quantity == b.quantity && a.quantity_is_number == b.quantity_is_number &&
         a.usage_start == b.usage_start && a.usage_end == b.usage_end &&
         a.resource_uri == b.resource_uri && a.instance_data == b.instance_data;
}

bool IsQuarantineCode(std::string_view code) {
  namespace c = usage_codes;
  for (std::string_view known :
       {c::kCloudMismatch, c::kInvalidId, c::kInvalidGuid, c::kUnknownMeter, c::kInvalidQuantity,
        c::kInvalidWindow, c::kFutureUsage, c::kTooOld}) {
    if (code == known) return true;
  }
  return false;
}

// The one record of `line` parsed as NDJSON by the replay parser.
const ParsedUsageRecord& ReplayOne(Fixture& fx, std::string_view line,
                                   std::vector<ParsedUsageRecord>& holder) {
  absl::StatusOr<std::vector<ParsedUsageRecord>> replay =
      fx.replay_parser.Parse(line, UsageBodyFormat::kNdjson);
  Require(replay.ok());
  Require(replay->size() == 1);
  holder = *std::move(replay);
  return holder[0];
}

void CheckInstanceDataFixedPoint(Fixture& fx, const ParsedUsageRecord& record) {
  const std::string_view canonical = record.fields.instance_data;
  if (canonical.empty()) return;
  std::string line = R"({"subscriptionId":"s","meterId":"m","quantity":1,)";
  line += R"("usageStartTime":"a","usageEndTime":"b","instanceData":)";
  line += canonical;
  line += '}';
  std::vector<ParsedUsageRecord> holder;
  const ParsedUsageRecord& again = ReplayOne(fx, line, holder);
  Require(again.malformed.empty());
  Require(again.fields.instance_data == canonical);
  Require(again.fields.resource_uri == record.fields.resource_uri);
}

void CheckRecords(Fixture& fx, const std::vector<ParsedUsageRecord>& records,
                  UsageBodyFormat format) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    const ParsedUsageRecord& record = records[i];
    Require(record.index == i);
    Require(record.index < records.size());
    Require(!record.raw.empty());
    if (!record.malformed.empty()) continue;

    const UsageFields& fields = record.fields;
    // A second library agrees that what was accepted is JSON (a number
    // beyond a double is left to the per-record checks).
    Require(IsJsonOrOnlyOutOfRange(record.raw));
    Require(fields.instance_data.empty() || IsJsonOrOnlyOutOfRange(fields.instance_data));
    if (format == UsageBodyFormat::kUsagePage) {
      Require(record.raw.find_first_of("\r\n") == std::string_view::npos);
      std::vector<ParsedUsageRecord> holder;
      const ParsedUsageRecord& again = ReplayOne(fx, record.raw, holder);
      Require(again.malformed.empty());
      Require(SameFields(again.fields, fields));
    }
    CheckInstanceDataFixedPoint(fx, record);

    absl::StatusOr<ValidatedUsage> usage =
        ValidateUsageFields(fields, fx.cloud, fx.meter_known, fx.now, fx.options);
    if (usage.ok()) {
      Require(usage->meter_id == fx.meter);
      Require(usage->usage_start < usage->usage_end);
    } else {
      Require(IsQuarantineCode(ErrorCode(usage.status())));
    }
  }
}

}  // namespace
}  // namespace stackbill

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace stackbill;
  // One fixture for the whole run, like one parser per server thread: buffer
  // reuse across bodies is part of what is tested. Never destroyed, so
  // LeakSanitizer sees it as reachable.
  static Fixture* fx = new Fixture();
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<std::vector<ParsedUsageRecord>> ndjson =
      fx->parser.Parse(body, UsageBodyFormat::kNdjson);
  Require(ndjson.ok());
  CheckRecords(*fx, *ndjson, UsageBodyFormat::kNdjson);

  absl::StatusOr<std::vector<ParsedUsageRecord>> page =
      fx->parser.Parse(body, UsageBodyFormat::kUsagePage);
  if (page.ok()) {
    Require(!FirstJsonError(body).has_value());
    CheckRecords(*fx, *page, UsageBodyFormat::kUsagePage);
  } else {
    const std::string code = ErrorCode(page.status());
    const std::string message = Message(page.status());
    Require(code == "InvalidJson" || code == "InvalidUsagePage");
    Require(!message.empty());
    if (code == "InvalidJson") {
      Require(message.find(" at byte ") != std::string::npos ||
              message.find("beyond the parser's limits") != std::string::npos);
    }
  }

  // The PlatformAdmin's supersede body (R11) reads the same bytes as JSON too.
  absl::StatusOr<SupersedeBody> supersede = ParseSupersedeBody(body);
  if (supersede.ok()) {
    Require(!FirstJsonError(body).has_value());
    Require(!FirstJsonError(supersede->record_text).has_value());
  } else {
    const std::string code = ErrorCode(supersede.status());
    Require(code == "InvalidRequestContent" || code == "MissingRequiredProperty");
  }
  return 0;
}
