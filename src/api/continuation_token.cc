#include "api/continuation_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "absl/strings/escaping.h"
#include "core/error.h"

namespace stackbill {
namespace {

constexpr std::size_t kMacBytes = 16;  // a truncated HMAC-SHA256, as in RFC 2104 §5

absl::Status Invalid() {
  return InvalidArgumentError("InvalidContinuationToken",
                              "the continuation token is not one this server issued for this "
                              "caller and query");
}

}  // namespace

std::string ContinuationTokens::Mac(const Guid& principal, std::string_view query,
                                    std::string_view payload) const {
  // Length-prefixed parts: no two (query, payload) pairs give the same bytes.
  std::string message = "stackbill-continuation-v2";
  message.push_back('\0');
  message.append(reinterpret_cast<const char*>(principal.bytes().data()), principal.bytes().size());
  message.append(std::to_string(query.size())).push_back(':');
  message.append(query);
  message.append(payload);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
       &length);
  return {reinterpret_cast<const char*>(digest.data()), kMacBytes};
}

std::string ContinuationTokens::Issue(const Guid& principal, std::string_view query,
                                      std::string_view payload) const {
  std::string out;
  absl::WebSafeBase64Escape(std::string(payload) + Mac(principal, query, payload), &out);
  return out;
}

absl::StatusOr<std::string> ContinuationTokens::Verify(const Guid& principal,
                                                       std::string_view query,
                                                       std::string_view token) const {
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(std::string(token), &bytes) || bytes.size() < kMacBytes) {
    return Invalid();
  }
  const std::string_view payload(bytes.data(), bytes.size() - kMacBytes);
  const std::string expected = Mac(principal, query, payload);
  if (CRYPTO_memcmp(expected.data(), bytes.data() + payload.size(), kMacBytes) != 0) {
    return Invalid();
  }
  return std::string(payload);
}

}  // namespace stackbill
