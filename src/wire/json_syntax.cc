#include "wire/json_syntax.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

namespace stackbill {
namespace {

using Json = nlohmann::json;

// Accepts every event; keeps the first error's position and kind.
class ErrorFinder final : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) override {
    // nlohmann counts the bytes read, the offending one included.
    found_ = JsonError{.offset = position == 0 ? 0 : position - 1,
                       .number_out_of_range = error.id == kNumberOverflow};
    return false;
  }
  const std::optional<JsonError>& found() const { return found_; }

 private:
  static constexpr int kNumberOverflow = 406;  // out_of_range.406: number overflow
  std::optional<JsonError> found_;
};

}  // namespace

std::optional<JsonError> FirstJsonError(std::string_view text) {
  ErrorFinder finder;
  if (Json::sax_parse(text, &finder, nlohmann::detail::input_format_t::json, true)) {
    return std::nullopt;
  }
  // A parse that stopped without an error event cannot happen; be safe.
  return finder.found() ? finder.found() : JsonError{.offset = 0, .number_out_of_range = false};
}

void AppendJsonString(std::string_view text, std::string& out) {
  out.push_back('"');
  // Runs of characters that need no escape are appended whole: a page of
  // usage items is mostly instanceData text.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (c != '"' && c != '\\' && u >= 0x20) continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escape[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
      out.append(escape, sizeof escape);
    } else {
      out.push_back('\\');
      out.push_back(c);
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

}  // namespace stackbill
