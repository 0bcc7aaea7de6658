#include "services/access_tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "absl/strings/escaping.h"

namespace stackbill {

absl::StatusOr<MintedSecret> MintSecret(std::string_view prefix) {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::UnavailableError("the random number generator failed; try again");
  }
  std::string random(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  MintedSecret secret;
  secret.plaintext = std::string(prefix) + absl::WebSafeBase64Escape(random);
  secret.hash = HashSecret(secret.plaintext);
  return secret;
}

absl::StatusOr<Guid> NewRandomGuid() {
  std::array<std::uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::UnavailableError("the random number generator failed; try again");
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return Guid(bytes);
}

std::string HashSecret(std::string_view plaintext) {
  // Secrets carry 256 random bits, so a plain SHA-256 (no salt, no stretching)
  // is enough to make the stored hash useless to an attacker and lets a
  // look-up be one indexed equality.
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(plaintext.data(), plaintext.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), length));
}

}  // namespace stackbill
