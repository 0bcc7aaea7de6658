#pragma once

// Bearer tokens and activation keys (SPEC §6, §3): random secrets handed to
// the caller once and stored only as a hash. Thread-safe (OpenSSL's RNG is).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/guid.h"

namespace stackbill {

struct MintedSecret {
  std::string plaintext;  // shown to the caller once, never stored
  std::string hash;       // what the store keeps
};

// A new secret: `prefix` followed by 32 random bytes (OpenSSL's CSPRNG) in
// unpadded base64url, e.g. "sbt_…". Unavailable when the RNG fails.
absl::StatusOr<MintedSecret> MintSecret(std::string_view prefix);

// A random (version 4) GUID for a new resource, from the same CSPRNG.
// Unavailable when the RNG fails.
absl::StatusOr<Guid> NewRandomGuid();

// The stored form of a secret: lower-case hex SHA-256 of its text.
std::string HashSecret(std::string_view plaintext);

}  // namespace stackbill
