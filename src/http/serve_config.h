#pragma once

// The configuration of `stackbill serve` (SPEC §8), from three layers, each
// overriding the one before: a configuration file < the environment < flags.
//
// The configuration file is `key = value` lines; '#' starts a comment line;
// blank lines are ignored; values are taken verbatim (no quotes). Keys, and
// the environment variable for each (STACKBILL_ + the key in upper case with
// '-' as '_'):
//   db                        STACKBILL_DB                        SQLite file (required)
//   bind                      STACKBILL_BIND                      listen address
//   port                      STACKBILL_PORT                      TCP port, 0 = any free one
//   port-file                 STACKBILL_PORT_FILE                 where to write the bound port
//   tls-cert                  STACKBILL_TLS_CERT                  PEM certificate (chain)
//   tls-key                   STACKBILL_TLS_KEY                   PEM private key
//   insecure-http             STACKBILL_INSECURE_HTTP             true|false: plain HTTP (loopback
//   only) public-url                STACKBILL_PUBLIC_URL                base of nextLink/Location
//   URLs max-body-bytes            STACKBILL_MAX_BODY_BYTES            larger bodies get 413
//   threads                   STACKBILL_THREADS                   worker threads
//   keep-alive-max-requests   STACKBILL_KEEP_ALIVE_MAX_REQUESTS
//   keep-alive-timeout        STACKBILL_KEEP_ALIVE_TIMEOUT        seconds
//   read-timeout              STACKBILL_READ_TIMEOUT              seconds
//   write-timeout             STACKBILL_WRITE_TIMEOUT             seconds
//   max-body-bytes-in-flight  STACKBILL_MAX_BODY_BYTES_IN_FLIGHT  beyond it: 429 Retry-After
//   max-usage-body-bytes      STACKBILL_MAX_USAGE_BODY_BYTES      usage bodies (default 64 MiB)
//   max-usage-records         STACKBILL_MAX_USAGE_RECORDS         records per usage request
//   usage-future-skew         STACKBILL_USAGE_FUTURE_SKEW         seconds (FutureUsage)
//   usage-max-age-days        STACKBILL_USAGE_MAX_AGE_DAYS        days (TooOld)
//   quarantine-quota          STACKBILL_QUARANTINE_QUOTA          pending entries per stack
//   reroute-interval          STACKBILL_REROUTE_INTERVAL          seconds between re-route passes
// A layer that turns insecure-http on drops the TLS files of earlier layers,
// and one that names a TLS file turns insecure-http off, so a flag always wins
// over the file.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "http/server.h"

namespace stackbill {

struct ServeConfig {
  std::string db;
  std::string port_file;
  // Empty: https://{bind}:{port} (http:// for insecure-http), with the bound
  // port (see DefaultPublicUrl).
  std::string public_url;
  // Items per page of ARM and /v1 lists before a nextLink.
  int page_size = 100;
  // Usage ingestion (SPEC §4).
  std::size_t max_usage_body_bytes = std::size_t{64} * 1024 * 1024;
  int max_usage_records = 100000;
  std::int64_t usage_future_skew_seconds = 3600;
  int usage_max_age_days = 400;
  std::int64_t quarantine_quota = 100000;
  // Seconds between re-route passes (R13: after effectiveFrom corrections).
  int reroute_interval_seconds = 2;
  // Billing periods close by themselves this many hours after the month ends
  // (SPEC §5: 72), unless auto-close is off.
  bool auto_close = true;
  int auto_close_grace_hours = 72;
  // R10: an acknowledged record survives kill -9 of the server ("normal":
  // SQLite's synchronous=NORMAL in WAL mode); "full" adds power loss (every
  // commit fsynced: synchronous=FULL).
  bool durability_full = false;
  // The web portal's files (issue 10). Empty: next to the binary
  // (../share/stackbill/portal), else where the build wrote them.
  std::string portal_dir;
  ServerOptions server;
};

// The keys listed above, in that order (for help text and tests).
const std::vector<std::string_view>& ServeConfigKeys();

// Sets `key` to `value`. InvalidArgument / "InvalidConfiguration" naming
// `source`, the key and the value for an unknown key or a malformed value.
absl::Status SetServeConfigValue(ServeConfig& config, std::string_view key, std::string_view value,
                                 std::string_view source);

// Applies the `key = value` lines of a configuration file's `text`.
// InvalidArgument / "InvalidConfiguration" naming `source` and the line.
absl::Status ApplyServeConfigFile(ServeConfig& config, std::string_view text,
                                  std::string_view source);

// Applies every STACKBILL_* variable that `getenv` returns (not null).
absl::Status ApplyServeConfigEnvironment(ServeConfig& config,
                                         const std::function<const char*(const char*)>& getenv);

// "https://127.0.0.1:8443": the public URL when none is configured.
// A wildcard bind address (0.0.0.0, ::) becomes "localhost"; IPv6 is bracketed.
std::string DefaultPublicUrl(const ServerOptions& options, int port);

// OK when `url` is an absolute http(s) URL without query or fragment.
// InvalidArgument / "InvalidConfiguration" otherwise.
absl::Status ValidatePublicUrl(std::string_view url);

}  // namespace stackbill
