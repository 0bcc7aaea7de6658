#include "core/guid.h"

#include <fmt/format.h>

#include "core/error.h"

namespace stackbill {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHyphenPosition(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

absl::Status Invalid(std::string_view text, std::string_view why) {
  return InvalidArgumentError("InvalidGuid",
                              fmt::format("'{}' is not a GUID: {}", text.substr(0, 64), why));
}

}  // namespace

absl::StatusOr<Guid> Guid::Parse(std::string_view text) {
  const bool hyphenated = text.size() == 36;
  if (!hyphenated && text.size() != 32) {
    return Invalid(
        text,
        fmt::format("expected 32 hex digits or the 36-character 8-4-4-4-12 form, got {} characters",
                    text.size()));
  }
  std::array<std::uint8_t, 16> bytes{};
  int nibble = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (hyphenated && IsHyphenPosition(i)) {
      if (c != '-') return Invalid(text, fmt::format("expected '-' at position {}", i + 1));
      continue;
    }
    const int v = HexValue(c);
    if (v < 0) return Invalid(text, fmt::format("not a hex digit at position {}", i + 1));
    auto& byte = bytes[static_cast<std::size_t>(nibble / 2)];
    byte = static_cast<std::uint8_t>(nibble % 2 == 0 ? v << 4 : byte | v);
    ++nibble;
  }
  return Guid(bytes);
}

bool Guid::IsCanonical(std::string_view text) {
  auto parsed = Parse(text);
  return parsed.ok() && parsed->ToString() == text;
}

std::string Guid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes_[i] >> 4]);
    out.push_back(kHex[bytes_[i] & 0x0f]);
  }
  return out;
}

}  // namespace stackbill

std::size_t std::hash<stackbill::Guid>::operator()(const stackbill::Guid& g) const noexcept {
  // FNV-1a over the 16 bytes: GUIDs are already well distributed.
  std::size_t h = 1469598103934665603ull;
  for (auto b : g.bytes()) h = (h ^ b) * 1099511628211ull;
  return h;
}
