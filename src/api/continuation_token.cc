#include "api/continuation_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "absl/strings/escaping.h"
#include "core/error.h"

namespace stackbill {
namespace {

constexpr std::size_t kOffsetBytes = 8;
constexpr std::size_t kMacBytes = 16;  // a truncated HMAC-SHA256, as in RFC 2104 §5

std::string OffsetBytes(std::uint64_t offset) {
  std::string bytes(kOffsetBytes, '\0');
  for (std::size_t i = 0; i < kOffsetBytes; ++i) {
    bytes[i] = static_cast<char>(offset >> (8 * (kOffsetBytes - 1 - i)));
  }
  return bytes;
}

absl::Status Invalid() {
  return InvalidArgumentError("InvalidContinuationToken",
                              "the continuation token is not one this server issued for this "
                              "caller and query");
}

}  // namespace

std::string ContinuationTokens::Mac(const Guid& principal, std::string_view query,
                                    std::uint64_t offset) const {
  std::string message = "stackbill-continuation-v1";
  message.push_back('\0');
  message.append(reinterpret_cast<const char*>(principal.bytes().data()), principal.bytes().size());
  message.append(OffsetBytes(offset));
  message.append(query);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
       &length);
  return {reinterpret_cast<const char*>(digest.data()), kMacBytes};
}

std::string ContinuationTokens::Issue(const Guid& principal, std::string_view query,
                                      std::uint64_t offset) const {
  std::string out;
  absl::WebSafeBase64Escape(OffsetBytes(offset) + Mac(principal, query, offset), &out);
  return out;
}

absl::StatusOr<std::uint64_t> ContinuationTokens::Verify(const Guid& principal,
                                                         std::string_view query,
                                                         std::string_view token) const {
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(std::string(token), &bytes) ||
      bytes.size() != kOffsetBytes + kMacBytes) {
    return Invalid();
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < kOffsetBytes; ++i) {
    offset = (offset << 8) | static_cast<unsigned char>(bytes[i]);
  }
  const std::string expected = Mac(principal, query, offset);
  if (CRYPTO_memcmp(expected.data(), bytes.data() + kOffsetBytes, kMacBytes) != 0) {
    return Invalid();
  }
  return offset;
}

}  // namespace stackbill
