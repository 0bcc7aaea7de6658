#pragma once

// TestHttpClient: a minimal HTTP(S) client for tests of `stackbill serve` —
// sends one request and returns the raw answer (status, headers, body),
// verifying the server's certificate against a CA file. Not for production
// use (the CLI's client is http/client.h). Thread-compatible.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace stackbill {

struct TestResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names as received
  std::string body;

  // The first value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

struct TestClientOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  bool tls = true;
  // PEM file of the CA (the dev certificate itself) to trust; required for TLS.
  std::string ca_file;
  int timeout_seconds = 30;
};

class TestHttpClient {
 public:
  explicit TestHttpClient(TestClientOptions options) : options_(std::move(options)) {}

  // Sends `method target` (target: path and query) with `headers` and `body`.
  // Unavailable naming the library's error when no answer arrived.
  absl::StatusOr<TestResponse> Send(
      std::string_view method, std::string_view target,
      const std::vector<std::pair<std::string, std::string>>& headers = {},
      std::string body = {}) const;

  // POSTs `body` in two halves: writes the headers and the first half, calls
  // `between()` (which may block, e.g. while the test signals the server),
  // then writes the rest. For tests of requests in flight.
  absl::StatusOr<TestResponse> PostInTwoParts(
      std::string_view target, const std::vector<std::pair<std::string, std::string>>& headers,
      std::string body, const std::function<void()>& between) const;

 private:
  TestClientOptions options_;
};

}  // namespace stackbill
