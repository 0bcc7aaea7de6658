#include "http/dev_cert.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace stackbill {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::unique_ptr<X509, X509Free> ReadCertificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<X509, X509Free>(cert);
}

// "DNS:localhost", "IP:127.0.0.1", "IP:::1".
std::set<std::string> SubjectAltNames(X509* cert) {
  std::set<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS) {
      names.insert(
          "DNS:" +
          std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                      static_cast<std::size_t>(ASN1_STRING_length(name->d.dNSName))));
    } else if (name->type == GEN_IPADD) {
      const int length = ASN1_STRING_length(name->d.iPAddress);
      const unsigned char* bytes = ASN1_STRING_get0_data(name->d.iPAddress);
      if (length == 4) {
        names.insert("IP:" + std::to_string(bytes[0]) + "." + std::to_string(bytes[1]) + "." +
                     std::to_string(bytes[2]) + "." + std::to_string(bytes[3]));
      } else if (length == 16) {
        bool loopback = bytes[15] == 1;
        for (int j = 0; j < 15; ++j) loopback = loopback && bytes[j] == 0;
        names.insert(loopback ? "IP:::1" : "IP:other-v6");
      }
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

const Timestamp kNow = Timestamp::FromUnixSeconds(1'800'000'000);

TEST(DevCertTest, TheCertificateNamesLocalhostAndBothLoopbackAddresses) {
  const auto made = MakeDevCertificate(kNow);
  ASSERT_TRUE(made.ok()) << made.status();
  const auto cert = ReadCertificate(made->certificate_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(SubjectAltNames(cert.get()),
            (std::set<std::string>{"DNS:localhost", "IP:127.0.0.1", "IP:::1"}));
}

TEST(DevCertTest, TheCertificateIsValidForOneYearAndSignedByItsOwnKey) {
  const auto made = MakeDevCertificate(kNow);
  ASSERT_TRUE(made.ok()) << made.status();
  const auto cert = ReadCertificate(made->certificate_pem);
  ASSERT_NE(cert, nullptr);
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()),
                           X509_get0_notAfter(cert.get())),
            1);
  EXPECT_EQ(days, 365);
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  EXPECT_EQ(X509_verify(cert.get(), key), 1);
  BIO* bio =
      BIO_new_mem_buf(made->private_key_pem.data(), static_cast<int>(made->private_key_pem.size()));
  EVP_PKEY* private_key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(private_key, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(key, private_key), 1);
  EVP_PKEY_free(private_key);
}

TEST(DevCertTest, TheKeyFileIsMode0600AndExistingFilesAreKeptUnlessForced) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("stackbill-dev-cert-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto made = MakeDevCertificate(kNow);
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(WriteDevCertificate(*made, dir.string(), false).ok());
  struct stat info {};
  ASSERT_EQ(::stat((dir / "key.pem").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  std::ifstream cert_file(dir / "cert.pem");
  std::stringstream cert_text;
  cert_text << cert_file.rdbuf();
  EXPECT_EQ(cert_text.str(), made->certificate_pem);
  EXPECT_EQ(WriteDevCertificate(*made, dir.string(), false).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(WriteDevCertificate(*made, dir.string(), true).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stackbill
