#include "services/usage_keys.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

#include "core/usage_identity.h"

namespace stackbill {
namespace {

// Collects length-prefixed parts, so that no two different part lists give
// the same bytes, and hashes them with SHA-256. The buffer is per thread and
// reused: no allocation per record once warm.
class Hasher {
 public:
  Hasher() : buffer_(Buffer()) { buffer_.clear(); }
  Hasher& Part(std::string_view bytes) {
    const auto n = static_cast<std::uint32_t>(bytes.size());
    const std::array<unsigned char, 4> length = {
        static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
        static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
    buffer_.append(reinterpret_cast<const char*>(length.data()), length.size());
    buffer_.append(bytes);
    return *this;
  }
  Hasher& Guid16(const Guid& guid) {
    return Part({reinterpret_cast<const char*>(guid.bytes().data()), guid.bytes().size()});
  }
  Hasher& Time(Timestamp t) {
    std::array<unsigned char, 12> bytes{};
    const auto s = static_cast<std::uint64_t>(t.unix_seconds());
    const auto ns = static_cast<std::uint32_t>(t.nanos());
    for (std::size_t i = 0; i < 8; ++i) {
      bytes[i] = static_cast<unsigned char>(s >> (56 - 8 * i));
    }
    for (std::size_t i = 0; i < 4; ++i) {
      bytes[8 + i] = static_cast<unsigned char>(ns >> (24 - 8 * i));
    }
    return Part({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  }
  std::string Finish() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_Digest(buffer_.data(), buffer_.size(), digest.data(), &length, Sha256(), nullptr);
    return {reinterpret_cast<const char*>(digest.data()), kUsageKeyBytes};
  }

 private:
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up, under
  // its global lock, on every digest. Never freed (process lifetime).
  static const EVP_MD* Sha256() {
    static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md != nullptr ? md : EVP_sha256();
  }
  static std::string& Buffer() {
    thread_local std::string buffer;
    return buffer;
  }
  std::string& buffer_;
};

}  // namespace

std::string UsageIdentity(const UsageKeyFields& f) {
  Hasher h;
  if (!f.record_id.empty()) return h.Part("id").Part(f.record_id).Finish();
  std::string identity = h.Part("natural")
                             .Guid16(f.local_subscription_id)
                             .Guid16(f.meter_id)
                             .Part(f.resource_uri)
                             .Time(f.usage_start)
                             .Time(f.usage_end)
                             .Finish();
  StampUsageHour(identity, f.usage_start.unix_seconds());
  return identity;
}

std::string UsageContentHash(const UsageKeyFields& f) {
  Hasher h;
  h.Part("content").Part(f.record_id);
  if (f.tenant_id) {
    h.Guid16(*f.tenant_id);
  } else {
    h.Part("");
  }
  return h.Guid16(f.local_subscription_id)
      .Guid16(f.meter_id)
      .Part(f.quantity.ToString())
      .Time(f.usage_start)
      .Time(f.usage_end)
      .Part(f.resource_uri)
      .Part(f.instance_data)
      .Finish();
}

}  // namespace stackbill
