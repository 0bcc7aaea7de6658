#pragma once

// A self-signed TLS certificate for development (`stackbill dev-cert`, SPEC
// §8): an EC P-256 key and a certificate for CN=localhost with
// subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1, valid for one year from
// `now`, usable as its own CA (clients trust it with --ca-file).

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/time.h"

namespace stackbill {

struct DevCertificate {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8, unencrypted: a secret
};

// Makes a new key and certificate. Internal when OpenSSL fails.
absl::StatusOr<DevCertificate> MakeDevCertificate(Timestamp now);

// Writes `certificate` to DIR/cert.pem (mode 0644) and DIR/key.pem (mode 0600,
// created so: the key is never readable by others, not even briefly), creating
// DIR if needed. AlreadyExists when either file exists and !overwrite;
// Unavailable when a file cannot be written.
absl::Status WriteDevCertificate(const DevCertificate& certificate, const std::string& dir,
                                 bool overwrite);

}  // namespace stackbill
