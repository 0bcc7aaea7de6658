#pragma once

// Continuation tokens of paged usage queries (SPEC §6): the offset of the next
// page, signed with HMAC-SHA256 under a server secret shared by every node,
// and bound to the caller's principal and to the query (its canonical
// parameters), so that a token is good only for the caller and the query it
// was issued for, on whatever node. The page is authorised again all the same.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/guid.h"

namespace stackbill {

class ContinuationTokens {
 public:
  // REQUIRES: key not empty.
  explicit ContinuationTokens(std::string key) : key_(std::move(key)) {}

  // URL-safe base64 of the offset and its signature.
  std::string Issue(const Guid& principal, std::string_view query, std::uint64_t offset) const;
  // The offset of a token Issue() gave for this principal and query;
  // InvalidArgument / "InvalidContinuationToken" for anything else (not a
  // token, tampered with, another caller's or another query's).
  absl::StatusOr<std::uint64_t> Verify(const Guid& principal, std::string_view query,
                                       std::string_view token) const;

 private:
  std::string Mac(const Guid& principal, std::string_view query, std::uint64_t offset) const;
  std::string key_;
};

}  // namespace stackbill
