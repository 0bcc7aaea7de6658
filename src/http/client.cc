#include "http/client.h"

#include <fmt/format.h>
#include <httplib.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <utility>

#include "core/error.h"

namespace stackbill {
namespace {

absl::StatusCode CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 413:
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      return status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

}  // namespace

struct HttpClient::Impl {
  explicit Impl(const std::string& endpoint) : client(endpoint) {}
  httplib::Client client;
};

namespace {

// Sends a POST, PUT or PATCH whose body is streamed from the caller's
// buffer: a batch of usage is not copied into the request.
httplib::Result SendBody(httplib::Client& client, const httplib::Request& request,
                         std::string_view body, std::string_view content_type) {
  auto provide = [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
    return sink.write(body.data() + offset, length);
  };
  const std::string type(content_type);
  if (request.method == "PUT") {
    return client.Put(request.path, request.headers, body.size(), provide, type);
  }
  if (request.method == "PATCH") {
    return client.Patch(request.path, request.headers, body.size(), provide, type);
  }
  return client.Post(request.path, request.headers, body.size(), provide, type);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  const std::string& endpoint = options.endpoint;
  const bool https = endpoint.starts_with("https://");
  if (!https && !endpoint.starts_with("http://")) {
    return InvalidArgumentError(
        "InvalidEndpoint",
        fmt::format("endpoint '{}': must start with https:// (or http://)", endpoint));
  }
  const std::string_view rest = std::string_view(endpoint).substr(https ? 8 : 7);
  if (rest.empty() || rest.find('/') != std::string_view::npos) {
    return InvalidArgumentError(
        "InvalidEndpoint",
        fmt::format("endpoint '{}': must be scheme://host[:port] with no path", endpoint));
  }
  if (!options.ca_file.empty()) {
    std::ifstream probe(options.ca_file);
    if (!probe) {
      return InvalidArgumentError("InvalidCaFile",
                                  fmt::format("CA file {}: cannot be read", options.ca_file));
    }
  }
  std::unique_ptr<Impl> impl;
  try {
    impl = std::make_unique<Impl>(endpoint);
  } catch (const std::exception& e) {
    return InvalidArgumentError("InvalidEndpoint",
                                fmt::format("endpoint {}: {}", endpoint, e.what()));
  }
  if (!impl->client.is_valid()) {
    return InvalidArgumentError("InvalidEndpoint",
                                fmt::format("endpoint {}: not a valid URL", endpoint));
  }
  impl->client.set_connection_timeout(options.connect_timeout_seconds, 0);
  impl->client.set_read_timeout(options.read_timeout_seconds, 0);
  impl->client.set_write_timeout(options.read_timeout_seconds, 0);
  impl->client.set_keep_alive(true);
  impl->client.set_tcp_nodelay(true);  // no Nagle delay on small requests
  if (https) {
    impl->client.enable_server_certificate_verification(true);
    if (!options.ca_file.empty()) impl->client.set_ca_cert_path(options.ca_file);
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(options), std::move(impl)));
}

HttpClient::HttpClient(HttpClientOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

HttpClient::~HttpClient() = default;

absl::StatusOr<HttpClientResponse> HttpClient::Send(std::string_view method,
                                                    std::string_view target,
                                                    std::optional<std::string_view> body,
                                                    std::string_view content_type) {
  if (!target.starts_with('/')) {
    return InvalidArgumentError("InvalidTarget",
                                fmt::format("request target '{}' must start with '/'", target));
  }
  httplib::Request request;
  request.method = std::string(method);
  request.path = std::string(target);
  request.headers.emplace("Accept", "application/json");
  if (!options_.token.empty()) {
    request.headers.emplace("Authorization", "Bearer " + options_.token);
  }
  if (!body && (method == "POST" || method == "PUT" || method == "PATCH")) {
    request.headers.emplace("Content-Length", "0");
  }
  if (body && method != "POST" && method != "PUT" && method != "PATCH") {
    return InvalidArgumentError("InvalidMethod",
                                fmt::format("a {} request carries no body", method));
  }
  try {
    httplib::Result result =
        body ? SendBody(impl_->client, request, *body, content_type) : impl_->client.send(request);
    if (!result) {
      std::string detail = httplib::to_string(result.error());
      if (result.error() == httplib::Error::SSLServerVerification) {
        detail += " (is --ca-file the server's certificate?)";
      }
      return absl::UnavailableError(
          fmt::format("{} {}{}: {}", method, options_.endpoint, target, detail));
    }
    HttpClientResponse response;
    response.status = result->status;
    response.content_type = result->get_header_value("Content-Type");
    response.retry_after = result->get_header_value("Retry-After");
    response.body = std::move(result->body);
    return response;
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        fmt::format("{} {}{}: {}", method, options_.endpoint, target, e.what()));
  }
}

absl::StatusOr<nlohmann::json> HttpClient::Call(std::string_view method, std::string_view target,
                                                const nlohmann::json* body) {
  std::optional<std::string> text;
  if (body != nullptr) text = body->dump();
  return Answer(method, target, Send(method, target, text));
}

absl::StatusOr<nlohmann::json> HttpClient::CallWithText(std::string_view method,
                                                        std::string_view target,
                                                        const std::string& body,
                                                        std::string_view content_type) {
  return Answer(method, target, Send(method, target, body, content_type));
}

absl::StatusOr<nlohmann::json> HttpClient::Answer(std::string_view method, std::string_view target,
                                                  absl::StatusOr<HttpClientResponse> response) {
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status > 299) {
    return StatusFromErrorResponse(*response);
  }
  if (response->body.empty()) return nlohmann::json();
  auto parsed = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(fmt::format("{} {}: the answer ({}) is not JSON: {:.200}", method,
                                           target, response->status, response->body));
  }
  return parsed;
}

absl::Status StatusFromErrorResponse(const HttpClientResponse& response) {
  std::string code = fmt::format("Http{}", response.status);
  std::string message = response.body.empty() ? fmt::format("HTTP status {}", response.status)
                                              : response.body.substr(0, 500);
  auto parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const auto& error = parsed["error"];
    if (error.contains("code") && error["code"].is_string()) {
      code = error["code"].get<std::string>();
    }
    if (error.contains("message") && error["message"].is_string()) {
      message = error["message"].get<std::string>();
    }
  }
  return MakeError(CodeForHttpStatus(response.status), code, message);
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
        (byte >= '0' && byte <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  return out;
}

}  // namespace stackbill
