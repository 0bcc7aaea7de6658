#pragma once

// HttpServer: the HTTP/1.1 listener of `stackbill serve`, a thin adapter over
// the HTTP library (nothing outside src/http names it). Every request is
// turned into an HttpRequest, given a request id, stamped with the clock (read
// once per request) and handed to Router::Dispatch; the HttpResponse goes
// back out. The server also:
//  - answers 413 "RequestEntityTooLarge" (ARM envelope) for a body over
//    the route's limit (Route::max_body_bytes, else max_body_bytes), 429
//    "TooManyRequests" with Retry-After when the bodies in flight would pass
//    max_body_bytes_in_flight, and the ARM envelope for any error it finds
//    itself;
//  - sets x-ms-request-id (a random v4 UUID) on every response and echoes the
//    caller's x-ms-client-request-id;
//  - writes one access-log line per response (method, path without the query,
//    status, bytes, duration, route, request ids — never a header value such
//    as Authorization) and feeds RequestMetrics;
//  - on Stop(), stops accepting and returns once the requests in flight are
//    answered.
// TLS is on by default; plain HTTP only when asked for and on a loopback
// address (SPEC §6).

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/time.h"
#include "http/metrics.h"
#include "http/router.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace stackbill {

struct ServerOptions {
  // Address to listen on: an IPv4 or IPv6 literal, or "localhost".
  std::string bind_address = "127.0.0.1";
  // TCP port; 0 picks a free one (see HttpServer::port()).
  int port = 8443;
  // PEM certificate (chain) and private key. Required unless insecure_http.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Serve plain HTTP. Refused unless bind_address is a loopback address.
  bool insecure_http = false;
  // Larger request bodies get 413 (a route may allow more: Route::max_body_bytes).
  std::size_t max_body_bytes = std::size_t{4} * 1024 * 1024;
  // The request bodies being received or handled at once, in bytes (by their
  // Content-Length): a request that would exceed it gets 429 with
  // Retry-After instead of waiting in an unbounded queue (SPEC §4).
  std::size_t max_body_bytes_in_flight = std::size_t{512} * 1024 * 1024;
  // Worker threads handling connections.
  int threads = 8;
  // Requests per keep-alive connection, and its idle timeout in seconds.
  int keep_alive_max_requests = 100;
  int keep_alive_timeout_seconds = 5;
  // Socket read and write timeouts in seconds.
  int read_timeout_seconds = 30;
  int write_timeout_seconds = 30;
};

// OK when `options` can be served: TLS files named (unless insecure_http),
// insecure_http only on loopback, port 0–65535, threads ≥ 1, max_body_bytes ≥ 1,
// timeouts ≥ 1. InvalidArgument / "InvalidServerOptions" naming the field
// otherwise.
absl::Status ValidateServerOptions(const ServerOptions& options);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackAddress(std::string_view address);

class HttpServer {
 public:
  using Clock = std::function<Timestamp()>;

  // A server for `router`. `router` and `metrics` must outlive it. Codes:
  // InvalidArgument (ValidateServerOptions; unreadable TLS files).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(ServerOptions options,
                                                            const Router& router,
                                                            RequestMetrics& metrics, Clock clock);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket (so port() is known) without serving yet.
  // Unavailable when the address cannot be bound. REQUIRES: called at most once.
  absl::Status Bind();

  // Binds (unless Bind() did) and starts serving on a background thread;
  // returns once the server accepts connections. Unavailable when the address
  // cannot be bound. REQUIRES: called once.
  absl::Status Start();

  // The bound port (after Bind() or Start()).
  int port() const { return port_; }

  // False once the listener has stopped (after Stop(), or on a fatal error).
  bool running() const;

  // Stops accepting connections and returns when the requests in flight have
  // been answered. Idempotent.
  void Stop();

 private:
  HttpServer(ServerOptions options, const Router& router, RequestMetrics& metrics, Clock clock);
  void Install();

  ServerOptions options_;
  const Router& router_;
  RequestMetrics& metrics_;
  Clock clock_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<bool> listening_{false};
  std::atomic<std::size_t> body_bytes_in_flight_{0};
  int port_ = 0;
};

}  // namespace stackbill
