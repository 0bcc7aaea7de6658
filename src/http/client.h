#pragma once

// HttpClient: the CLI's side of stackbill's HTTP API — a thin adapter over
// the HTTP library (nothing else names it). Speaks HTTPS (verifying the
// server against a CA file, or the system's store when none is given) or
// plain http://, with timeouts and a bearer token, JSON in and out.
//
// An answer outside 2xx becomes a status: the canonical code that fits the
// HTTP status (400 InvalidArgument, 401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 409 AlreadyExists, 412 FailedPrecondition,
// 413/429 ResourceExhausted, 5xx Unavailable or Internal) with the ARM error
// envelope's `code` as the product error code (ErrorCode(status)) and its
// `message` as the message. A transport failure (refused, TLS, timeout) is
// Unavailable naming the endpoint. Never throws.
//
// Thread-compatible: one client per thread.

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stackbill {

struct HttpClientOptions {
  // "https://host:port" or "http://host:port"; no path.
  std::string endpoint;
  // Sent as `Authorization: Bearer …` when not empty.
  std::string token;
  // PEM file of the CA (or the self-signed certificate) to trust for HTTPS;
  // empty: the system's trust store.
  std::string ca_file;
  int connect_timeout_seconds = 10;
  int read_timeout_seconds = 60;
};

// One answer as received.
struct HttpClientResponse {
  int status = 0;
  std::string content_type;
  std::string retry_after;  // the Retry-After header of a 429 or 503, if any
  std::string body;
};

class HttpClient {
 public:
  // Validates the endpoint (scheme http or https, a host, no path) and the CA
  // file (readable). InvalidArgument otherwise.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(HttpClientOptions options);

  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` ("GET", "PUT", …) to `target` (path with query, starting
  // with '/'); `body` when given is sent with `content_type`. Returns every
  // answer the server gives, whatever its status; Unavailable only when no
  // answer came.
  absl::StatusOr<HttpClientResponse> Send(std::string_view method, std::string_view target,
                                          std::optional<std::string_view> body,
                                          std::string_view content_type = "application/json");

  // Send() that turns a non-2xx answer into a status (see the file comment)
  // and parses a 2xx body as JSON (an empty body is null). Internal when a 2xx
  // body is not JSON.
  absl::StatusOr<nlohmann::json> Call(std::string_view method, std::string_view target,
                                      const nlohmann::json* body = nullptr);
  // Call() with a body sent as it is (e.g. NDJSON usage, or JSON whose
  // numbers must keep their digits).
  absl::StatusOr<nlohmann::json> CallWithText(std::string_view method, std::string_view target,
                                              const std::string& body,
                                              std::string_view content_type);

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Impl;
  HttpClient(HttpClientOptions options, std::unique_ptr<Impl> impl);
  // A Send()'s answer as Call() returns it.
  static absl::StatusOr<nlohmann::json> Answer(std::string_view method, std::string_view target,
                                               absl::StatusOr<HttpClientResponse> response);

  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// The status an error answer stands for (see the file comment). REQUIRES:
// response.status outside 200..299.
absl::Status StatusFromErrorResponse(const HttpClientResponse& response);

// Percent-encodes one path segment or query value (RFC 3986 unreserved kept).
std::string UrlEncode(std::string_view text);

}  // namespace stackbill
