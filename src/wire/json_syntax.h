#pragma once

// Where a text stops being JSON, for the messages simdjson cannot give: the
// byte offset of a usage page's first error (the 400 of SPEC §4) and, in the
// fuzz target, a second library's opinion of what the parser accepted. The
// check is nlohmann-json's SAX parser (no DOM is built), which reports the
// position of every error — a number beyond a double's range included, which
// both libraries refuse (RFC 8259 §6 lets an implementation limit the range
// of numbers; a quantity beyond it could never be valid anyway: < 10^15).
// The slow path: run on bodies simdjson refused. Thread-safe.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace stackbill {

struct JsonError {
  // 0-based offset of the byte at which the text stops being JSON
  // (text.size() when it ends early).
  std::size_t offset = 0;
  // The error is a number out of a double's range (1e400), not the grammar.
  bool number_out_of_range = false;
};

// The first error of `text` as one JSON text, or nullopt when it is JSON.
std::optional<JsonError> FirstJsonError(std::string_view text);

// Appends `text` as a JSON string literal, escaped one way only (the
// canonical form: \" \\ and \u00XX for control characters; everything else,
// UTF-8 included, as is) — for JSON written without a DOM.
void AppendJsonString(std::string_view text, std::string& out);

}  // namespace stackbill
