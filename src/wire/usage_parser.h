#pragma once

// The body of POST /v1/stacks/{cloudId}/usage (SPEC §4): NDJSON (one record
// per line) or an Azure usage page ({"value":[{"properties":{…}}…]}), parsed
// with simdjson. Each record's fields come out as text (UsageFields), the
// quantity as its own JSON token, never through double; instanceData, sent as
// an object or as a JSON string, comes out canonical (keys sorted, no
// whitespace, strings re-escaped one way) so that ConflictingDuplicate
// compares content, not formatting.
//
// A record that is not a JSON object, repeats a key, lacks a required field,
// has a field of the wrong JSON type, or an instanceData beyond the size or
// depth limits is returned with `malformed` set (quarantined
// MalformedRecord); in NDJSON the other lines proceed. A usage page that does
// not parse as a whole is an error naming the byte offset, and no record is
// returned.
//
// Not thread-safe: one parser per thread; it reuses its buffers across calls.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/usage_validation.h"

namespace stackbill {

enum class UsageBodyFormat { kNdjson, kUsagePage };

// application/x-ndjson (also application/jsonl, application/x-jsonlines) →
// kNdjson; application/json → kUsagePage; parameters such as charset are
// ignored. InvalidArgument / "UnsupportedMediaType" otherwise.
absl::StatusOr<UsageBodyFormat> UsageBodyFormatFor(std::string_view content_type);

// Limits on instanceData (SPEC §4: beyond them a record is MalformedRecord).
inline constexpr std::size_t kMaxInstanceDataBytes = std::size_t{32} * 1024;
inline constexpr int kMaxInstanceDataDepth = 16;

struct ParsedUsageRecord {
  std::size_t index = 0;  // 0-based position in the body (NDJSON: among non-blank lines)
  std::string_view raw;   // the record as received (a usage page item: re-serialised compactly)
  std::string malformed;  // non-empty: why the record is MalformedRecord
  UsageFields fields;     // valid when malformed is empty
};

// The body of a PlatformAdmin's supersede (R11):
// {"reason": "...", "record": {a usage record in the ingest format}}. The
// record's text is kept exactly as sent, so that its quantity is read from
// its own digits. InvalidArgument / "InvalidRequestContent" otherwise.
struct SupersedeBody {
  std::string record_text;
  std::string reason;
};
absl::StatusOr<SupersedeBody> ParseSupersedeBody(std::string_view body);

class UsageBodyParser {
 public:
  UsageBodyParser();
  ~UsageBodyParser();
  UsageBodyParser(const UsageBodyParser&) = delete;
  UsageBodyParser& operator=(const UsageBodyParser&) = delete;

  // Parses `body` and returns its records in order. The views in the result
  // point into `body` and into this parser; they stay valid until the next
  // Parse or the parser's destruction. kUsagePage: InvalidArgument /
  // "InvalidJson" ("… at byte N", N counting from 1) when the body is not
  // JSON, and InvalidArgument / "InvalidUsagePage" when it is JSON but not an
  // object with a "value" array. Numbers of any magnitude are JSON (a
  // quantity of 1e400 is the record's InvalidQuantity, not the page's
  // InvalidJson). NDJSON never fails as a whole.
  absl::StatusOr<std::vector<ParsedUsageRecord>> Parse(std::string_view body,
                                                       UsageBodyFormat format);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace stackbill
