#include "http/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/abseil_compat.h"
#include "core/error.h"
#include "http/arm_error.h"
#include "services/access_tokens.h"

namespace stackbill {
namespace {

// What the server knows of the request a worker thread is handling. The
// library handles a request on one thread from start to end, so the
// pre-routing hook, the handler, the error handler and the logger of one
// request share this.
struct RequestState {
  bool active = false;
  std::chrono::steady_clock::time_point start;
  std::string request_id;
  std::string client_request_id;
  std::string route = "unmatched";
  std::size_t body_limit = 0;     // the matched route's body limit
  std::size_t body_reserved = 0;  // bytes of max_body_bytes_in_flight held
};
thread_local RequestState current_request;

constexpr std::size_t kMaxClientRequestIdLength = 200;

std::string NewRequestId() {
  absl::StatusOr<Guid> id = NewRandomGuid();
  return id.ok() ? id->ToString() : std::string("00000000-0000-4000-8000-000000000000");
}

// The caller's x-ms-client-request-id when it is safe to echo and log:
// printable ASCII without spaces, at most 200 characters.
std::string ClientRequestId(const httplib::Request& request) {
  if (!request.has_header("x-ms-client-request-id")) return "";
  std::string id = request.get_header_value("x-ms-client-request-id");
  if (id.empty() || id.size() > kMaxClientRequestIdLength) return "";
  for (const char c : id) {
    if (c <= ' ' || c > '~') return "";
  }
  return id;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string DecodeQueryComponent(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The query parameters of a request target, decoded, in the order received.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view target) {
  std::vector<std::pair<std::string, std::string>> query;
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return query;
  std::string_view rest = target.substr(question + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      query.emplace_back(DecodeQueryComponent(item), "");
    } else {
      query.emplace_back(DecodeQueryComponent(item.substr(0, eq)),
                         DecodeQueryComponent(item.substr(eq + 1)));
    }
  }
  return query;
}

HttpRequest ToHttpRequest(const httplib::Request& in) {
  HttpRequest out;
  out.method = in.method == "HEAD" ? "GET" : in.method;  // the library drops HEAD's body
  out.path = in.path;                                    // decoded by the library
  out.raw_target = in.target;
  out.query = ParseQuery(in.target);
  out.headers.reserve(in.headers.size());
  for (const auto& [name, value] : in.headers) {
    out.headers.emplace_back(absl::AsciiStrToLower(AbslView(name)), value);
  }
  out.body = in.body;
  out.remote_address = in.remote_addr;
  out.request_id = current_request.request_id;
  return out;
}

void ToLibraryResponse(const HttpResponse& in, httplib::Response& out) {
  out.status = in.status;
  for (const auto& [name, value] : in.headers) out.set_header(name, value);
  if (!in.body.empty() || !in.content_type.empty()) {
    out.set_content(in.body,
                    in.content_type.empty() ? "application/octet-stream" : in.content_type.c_str());
  }
}

// The ARM code of an error the library answers by itself.
std::pair<std::string_view, std::string> LibraryError(int status, std::size_t max_body_bytes) {
  switch (status) {
    case 400:
      return {"BadRequest", "The request is malformed."};
    case 404:
      return {"NotFound", "The requested resource was not found."};
    case 413:
      return {"RequestEntityTooLarge", "The request body is larger than the limit of " +
                                           std::to_string(max_body_bytes) + " bytes."};
    case 414:
      return {"RequestUriTooLong", "The request URI is too long."};
    case 416:
      return {"RangeNotSatisfiable", "The requested range is not satisfiable."};
    default:
      if (status >= 500) {
        return {"InternalServerError", "The server encountered an internal error."};
      }
      return {"BadRequest", "The request cannot be served."};
  }
}

}  // namespace

bool IsLoopbackAddress(std::string_view address) {
  if (absl::EqualsIgnoreCase(AbslView(address), "localhost")) return true;
  const std::string text(address);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

absl::Status ValidateServerOptions(const ServerOptions& options) {
  const auto invalid = [](const std::string& message) {
    return InvalidArgumentError("InvalidServerOptions", message);
  };
  if (options.bind_address.empty()) return invalid("bind address is empty");
  if (options.port < 0 || options.port > 65535) {
    return invalid("port " + std::to_string(options.port) + " is outside 0-65535");
  }
  if (options.insecure_http) {
    if (!IsLoopbackAddress(options.bind_address)) {
      return invalid(
          "plain HTTP is served only on a loopback address (127.0.0.1, ::1, "
          "localhost), not on " +
          options.bind_address + "; give a TLS certificate and key instead");
    }
    if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
      return invalid("plain HTTP was asked for together with a TLS certificate or key");
    }
  } else if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return invalid(
        "TLS needs both a certificate and a key file (stackbill dev-cert makes a "
        "pair for localhost); plain HTTP must be asked for explicitly");
  }
  if (options.threads < 1) return invalid("threads must be at least 1");
  if (options.max_body_bytes < 1) return invalid("max body bytes must be at least 1");
  if (options.keep_alive_max_requests < 1 || options.keep_alive_timeout_seconds < 1 ||
      options.read_timeout_seconds < 1 || options.write_timeout_seconds < 1) {
    return invalid("keep-alive and timeout settings must be at least 1");
  }
  return absl::OkStatus();
}

HttpServer::HttpServer(ServerOptions options, const Router& router, RequestMetrics& metrics,
                       Clock clock)
    : options_(std::move(options)), router_(router), metrics_(metrics), clock_(std::move(clock)) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(ServerOptions options,
                                                               const Router& router,
                                                               RequestMetrics& metrics,
                                                               Clock clock) {
  if (absl::Status valid = ValidateServerOptions(options); !valid.ok()) return valid;
  std::unique_ptr<HttpServer> server(
      new HttpServer(std::move(options), router, metrics, std::move(clock)));
  const ServerOptions& o = server->options_;
  if (o.insecure_http) {
    server->server_ = std::make_unique<httplib::Server>();
  } else {
    for (const std::string* file : {&o.tls_cert_file, &o.tls_key_file}) {
      std::ifstream probe(*file);
      if (!probe) {
        return InvalidArgumentError("InvalidServerOptions", "cannot read TLS file " + *file);
      }
    }
    auto tls =
        std::make_unique<httplib::SSLServer>(o.tls_cert_file.c_str(), o.tls_key_file.c_str());
    if (!tls->is_valid()) {
      return InvalidArgumentError("InvalidServerOptions",
                                  "cannot load the TLS certificate " + o.tls_cert_file +
                                      " with the key " + o.tls_key_file +
                                      " (PEM files of a certificate and its own private key)");
    }
    SSL_CTX_set_min_proto_version(tls->ssl_context(), TLS1_2_VERSION);
    server->server_ = std::move(tls);
  }
  server->Install();
  return server;
}

void HttpServer::Install() {
  httplib::Server& s = *server_;
  const auto threads = static_cast<std::size_t>(options_.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(std::max(options_.max_body_bytes, router_.LargestBodyLimit()));
  s.set_keep_alive_max_count(static_cast<std::size_t>(options_.keep_alive_max_requests));
  s.set_keep_alive_timeout(options_.keep_alive_timeout_seconds);
  s.set_read_timeout(options_.read_timeout_seconds);
  s.set_write_timeout(options_.write_timeout_seconds);
  // Small JSON answers on keep-alive connections must not wait for the
  // peer's delayed ACK (Nagle's algorithm adds ~40 ms per request).
  s.set_socket_options([](socket_t sock) {
    const int on = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  });

  s.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    const Route* route =
        router_.Match(request.method == "HEAD" ? "GET" : request.method, request.path);
    // A request of this thread that never reached the logger (its response
    // could not be written) is no longer in flight.
    if (current_request.active) {
      metrics_.RequestEnded();
      body_bytes_in_flight_ -= current_request.body_reserved;
    }
    metrics_.RequestStarted();
    current_request = RequestState{.active = true,
                                   .start = std::chrono::steady_clock::now(),
                                   .request_id = NewRequestId(),
                                   .client_request_id = ClientRequestId(request),
                                   .route = route != nullptr ? route->name : "unmatched",
                                   .body_limit = route != nullptr && route->max_body_bytes > 0
                                                     ? route->max_body_bytes
                                                     : options_.max_body_bytes,
                                   .body_reserved = 0};
    // Refused before the body is read: its size is known from Content-Length
    // (a chunked body is checked once read, in `handle`). The connection is
    // closed after the answer, since the unread body is still on it.
    const auto refuse = [&](int status, std::string_view code, const std::string& message) {
      response.status = status;
      response.set_content(ArmErrorBody(code, message), "application/json; charset=utf-8");
      response.set_header("x-ms-request-id", current_request.request_id);
      response.set_header("Connection", "close");
      if (status == 429) response.set_header("Retry-After", "1");
      return httplib::Server::HandlerResponse::Handled;
    };
    std::size_t length = 0;
    if (request.has_header("Content-Length")) {
      const std::string text = request.get_header_value("Content-Length");
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
      if (error != std::errc() || end != text.data() + text.size()) length = 0;
    }
    if (length > current_request.body_limit) {
      return refuse(413, "RequestEntityTooLarge",
                    "The request body is larger than the limit of " +
                        std::to_string(current_request.body_limit) + " bytes.");
    }
    if (length > 0) {
      const std::size_t before = body_bytes_in_flight_.fetch_add(length);
      if (before + length > options_.max_body_bytes_in_flight) {
        body_bytes_in_flight_ -= length;
        return refuse(429, "TooManyRequests",
                      "The server is receiving as many request bytes as it takes at once. Retry "
                      "the request after the Retry-After interval.");
      }
      current_request.body_reserved = length;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  const auto handle = [this](const httplib::Request& in, httplib::Response& out) {
    if (in.body.size() > current_request.body_limit) {  // a chunked body over the route's limit
      out.status = 413;
      out.set_content(ArmErrorBody("RequestEntityTooLarge",
                                   "The request body is larger than the limit of " +
                                       std::to_string(current_request.body_limit) + " bytes."),
                      "application/json; charset=utf-8");
      out.set_header("x-ms-request-id", current_request.request_id);
      return;
    }
    const HttpRequest request = ToHttpRequest(in);
    const HttpResponse response = router_.Dispatch(request, clock_());
    ToLibraryResponse(response, out);
    if (!current_request.client_request_id.empty()) {
      out.set_header("x-ms-client-request-id", current_request.client_request_id);
    }
  };
  s.Get(".*", handle);
  s.Post(".*", handle);
  s.Put(".*", handle);
  s.Patch(".*", handle);
  s.Delete(".*", handle);
  s.Options(".*", handle);

  // Errors the library finds itself (413, malformed requests) get the ARM
  // envelope; responses from the router already have a body.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (!current_request.active) {
          // A request the library refused before routing (malformed): never
          // counted in flight, so only its id is needed.
          current_request = RequestState{};
          current_request.request_id = NewRequestId();
        }
        const auto [code, message] = LibraryError(response.status, options_.max_body_bytes);
        response.set_content(ArmErrorBody(code, message), "application/json; charset=utf-8");
        if (!response.has_header("x-ms-request-id")) {
          response.set_header("x-ms-request-id", current_request.request_id);
        }
        return httplib::Server::HandlerResponse::Handled;
      }));

  s.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
    RequestState state;
    if (current_request.active) {
      metrics_.RequestEnded();
      body_bytes_in_flight_ -= current_request.body_reserved;
      state = std::move(current_request);
    } else {
      state.request_id = current_request.request_id;
      state.start = std::chrono::steady_clock::now();
    }
    current_request = RequestState{};
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - state.start).count();
    metrics_.RecordResponse(state.route, request.method, response.status, seconds);
    // The path alone: the query string and every header value stay out of the
    // log (Authorization above all).
    spdlog::info("http {} {} {} {}B {:.1f}ms route={} request_id={} client_request_id={} remote={}",
                 request.method, request.path, response.status, response.body.size(),
                 seconds * 1000.0, state.route, state.request_id,
                 state.client_request_id.empty() ? "-" : state.client_request_id,
                 request.remote_addr);
  });
}

absl::Status HttpServer::Bind() {
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.bind_address);
    if (port_ <= 0) port_ = 0;
  } else {
    port_ = server_->bind_to_port(options_.bind_address, options_.port) ? options_.port : 0;
  }
  if (port_ == 0) {
    return absl::UnavailableError("cannot listen on " + options_.bind_address + ":" +
                                  std::to_string(options_.port) +
                                  " (address in use, not local, or not permitted)");
  }
  return absl::OkStatus();
}

absl::Status HttpServer::Start() {
  if (port_ == 0) {
    if (absl::Status bound = Bind(); !bound.ok()) return bound;
  }
  listening_ = true;
  listener_ = std::thread([this] {
    if (!server_->listen_after_bind()) spdlog::error("http listener stopped with an error");
    listening_ = false;
  });
  // stop() is a no-op until the listener runs, so wait for it (a short poll:
  // the library has no ready signal).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && listening_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server_->is_running()) {
    Stop();
    return absl::UnavailableError("the http listener did not start");
  }
  spdlog::info("listening on {}://{}:{}", options_.insecure_http ? "http" : "https",
               options_.bind_address, port_);
  return absl::OkStatus();
}

bool HttpServer::running() const { return listening_ && server_->is_running(); }

void HttpServer::Stop() {
  if (!listener_.joinable()) return;
  server_->stop();
  listener_.join();
}

}  // namespace stackbill
