#pragma once

// The layout of a natural-key usage identity (R11), shared by the code that
// computes identities (services/usage_keys) and the store migration that
// rewrote the identities stored before this layout (store/sqlite schema 5).
//
// A natural-key identity is 16 bytes: the usage hour of the record's
// usageStartTime (hours since the Unix epoch, 32-bit big-endian) followed by
// the first 12 bytes of the SHA-256 of the natural key. The hour is a function
// of the natural key, so the identity still names exactly one natural key,
// and records that arrive together — one stack's hour — sort together in the
// store's UNIQUE (cloudId, identity) index: an ingest transaction touches a
// few index pages instead of one page per record (docs/PERFORMANCE.md).
// Identities from a record's `id` stay plain digests: the same id with
// another window must meet its first version (ConflictingDuplicate).

#include <cstddef>
#include <cstdint>
#include <string>

namespace stackbill {

inline constexpr std::size_t kUsageHourPrefixBytes = 4;

// Overwrites the first kUsageHourPrefixBytes of `identity` (at least that
// long) with the hour of `usage_start_unix_seconds` (floor division).
inline void StampUsageHour(std::string& identity, std::int64_t usage_start_unix_seconds) {
  std::int64_t hour = usage_start_unix_seconds / 3600;
  if (usage_start_unix_seconds % 3600 < 0) --hour;
  const auto bits = static_cast<std::uint32_t>(hour);
  for (std::size_t i = 0; i < kUsageHourPrefixBytes; ++i) {
    identity[i] = static_cast<char>(bits >> (8 * (kUsageHourPrefixBytes - 1 - i)));
  }
}

}  // namespace stackbill
