#pragma once

// Guid: a 128-bit identifier (directories, principals, subscriptions, cloudIds,
// meters). Parsed from any case, with or without hyphens, and always printed in
// the canonical lower-case hyphenated form (8-4-4-4-12) that stackbill returns.
// A value type; thread-compatible.

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stackbill {

class Guid {
 public:
  // The nil GUID (all zero).
  constexpr Guid() = default;
  explicit constexpr Guid(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  // Parses 32 hex digits in any case, either bare or as 8-4-4-4-12 with
  // hyphens. Surrounding braces or whitespace are not accepted. Returns
  // InvalidArgument with error code "InvalidGuid" naming the offending
  // character position otherwise.
  static absl::StatusOr<Guid> Parse(std::string_view text);

  // True when `text` is exactly the canonical lower-case hyphenated form
  // (what R6 requires of a customer subscription id).
  static bool IsCanonical(std::string_view text);

  // Lower-case hyphenated, 36 characters.
  std::string ToString() const;

  bool IsNil() const { return *this == Guid(); }
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

  friend auto operator<=>(const Guid&, const Guid&) = default;

  template <typename H>
  friend H AbslHashValue(H h, const Guid& g) {
    return H::combine_contiguous(std::move(h), g.bytes_.data(), g.bytes_.size());
  }

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace stackbill

template <>
struct std::hash<stackbill::Guid> {
  std::size_t operator()(const stackbill::Guid& g) const noexcept;
};
