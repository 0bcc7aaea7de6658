#pragma once

// Continuation tokens of paged usage queries (SPEC §6): where the next page
// starts (an opaque payload: the last item's key), signed with HMAC-SHA256
// under a server secret shared by every node,
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

  // URL-safe base64 of the payload and its signature.
  std::string Issue(const Guid& principal, std::string_view query, std::string_view payload) const;
  // The payload of a token Issue() gave for this principal and query;
  // InvalidArgument / "InvalidContinuationToken" for anything else (not a
  // token, tampered with, another caller's or another query's).
  absl::StatusOr<std::string> Verify(const Guid& principal, std::string_view query,
                                     std::string_view token) const;

 private:
  std::string Mac(const Guid& principal, std::string_view query, std::string_view payload) const;
  std::string key_;
};

}  // namespace stackbill
