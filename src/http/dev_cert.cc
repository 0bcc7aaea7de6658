#include "http/dev_cert.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"

namespace stackbill {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BigNumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

constexpr std::int64_t kValidityDays = 365;

absl::Status OpenSslError(std::string_view what) {
  const unsigned long code = ERR_get_error();
  char buffer[256] = {};
  if (code != 0) ERR_error_string_n(code, buffer, sizeof buffer);
  ERR_clear_error();
  return absl::InternalError("dev-cert: " + std::string(what) + ": " + buffer);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

absl::Status AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  if (extension == nullptr || X509_add_ext(cert, extension.get(), -1) != 1) {
    return OpenSslError(std::string("cannot add extension ") + value);
  }
  return absl::OkStatus();
}

absl::Status WriteFile(const std::filesystem::path& path, const std::string& content, mode_t mode,
                       bool overwrite) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
  flags |= overwrite ? O_TRUNC : O_EXCL;
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) {
    const int error = errno;
    if (error == EEXIST) {
      return AlreadyExistsError("FileExists",
                                path.string() + " already exists (use --force to replace it)");
    }
    return absl::UnavailableError("cannot create " + path.string() + ": " + std::strerror(error));
  }
  // An existing file keeps its mode on O_TRUNC: set it explicitly.
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t written = 0;
  while (ok && written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<std::size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return absl::UnavailableError("cannot write " + path.string());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DevCertificate> MakeDevCertificate(Timestamp now) {
  PKeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("cannot generate an EC P-256 key");

  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslError("cannot allocate a certificate");
  X509_set_version(cert.get(), X509_VERSION_3);
  // A random positive 127-bit serial number (RFC 5280: at most 20 octets).
  BigNumPtr serial(BN_new());
  if (serial == nullptr || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("cannot set the serial number");
  }
  const auto not_before = static_cast<time_t>(now.unix_seconds() - 60);  // clock skew
  const auto not_after =
      static_cast<time_t>(now.unix_seconds() + kValidityDays * Timestamp::kSecondsPerDay);
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after) == nullptr) {
    return OpenSslError("cannot set the validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("stackbill development"),
                                 -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1) {
    return OpenSslError("cannot set the names");
  }
  for (const auto& [nid, value] : {
           std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
           std::pair{NID_basic_constraints, "critical,CA:TRUE"},
           std::pair{NID_key_usage, "critical,digitalSignature,keyCertSign"},
           std::pair{NID_ext_key_usage, "serverAuth"},
           std::pair{NID_subject_key_identifier, "hash"},
       }) {
    if (absl::Status added = AddExtension(cert.get(), nid, value); !added.ok()) return added;
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return OpenSslError("cannot sign the certificate");
  }

  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (cert_bio == nullptr || key_bio == nullptr ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return OpenSslError("cannot write PEM");
  }
  return DevCertificate{.certificate_pem = BioText(cert_bio.get()),
                        .private_key_pem = BioText(key_bio.get())};
}

absl::Status WriteDevCertificate(const DevCertificate& certificate, const std::string& dir,
                                 bool overwrite) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError("cannot create directory " + dir + ": " + error.message());
  }
  const std::filesystem::path cert_path = std::filesystem::path(dir) / "cert.pem";
  const std::filesystem::path key_path = std::filesystem::path(dir) / "key.pem";
  if (!overwrite) {
    for (const auto& path : {cert_path, key_path}) {
      if (std::filesystem::exists(path)) {
        return AlreadyExistsError("FileExists",
                                  path.string() + " already exists (use --force to replace it)");
      }
    }
  }
  if (absl::Status written = WriteFile(key_path, certificate.private_key_pem, 0600, overwrite);
      !written.ok()) {
    return written;
  }
  return WriteFile(cert_path, certificate.certificate_pem, 0644, overwrite);
}

}  // namespace stackbill
