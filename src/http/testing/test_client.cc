#include "http/testing/test_client.h"

#include <httplib.h>
#include <strings.h>

namespace stackbill {

std::optional<std::string> TestResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && ::strncasecmp(key.data(), name.data(), key.size()) == 0) {
      return value;
    }
  }
  return std::nullopt;
}

namespace {

std::string BaseUrl(const TestClientOptions& options) {
  return (options.tls ? "https://" : "http://") + options.host + ":" + std::to_string(options.port);
}

void Configure(const TestClientOptions& options, httplib::Client& client) {
  if (options.tls) {
    client.set_ca_cert_path(options.ca_file.c_str());
    client.enable_server_certificate_verification(true);
  }
  client.set_url_encode(false);  // targets are sent as given
  client.set_connection_timeout(options.timeout_seconds, 0);
  client.set_read_timeout(options.timeout_seconds, 0);
  client.set_write_timeout(options.timeout_seconds, 0);
}

absl::StatusOr<TestResponse> ToResponse(const std::string& base, const httplib::Result& result) {
  if (!result) {
    return absl::UnavailableError(base + ": " + httplib::to_string(result.error()));
  }
  TestResponse response;
  response.status = result->status;
  response.body = result->body;
  for (const auto& [name, value] : result->headers) response.headers.emplace_back(name, value);
  return response;
}

}  // namespace

absl::StatusOr<TestResponse> TestHttpClient::PostInTwoParts(
    std::string_view target, const std::vector<std::pair<std::string, std::string>>& headers,
    std::string body, const std::function<void()>& between) const {
  const std::string base = BaseUrl(options_);
  httplib::Client client(base);
  Configure(options_, client);
  httplib::Headers library_headers;
  for (const auto& [name, value] : headers) library_headers.emplace(name, value);
  const std::size_t half = body.size() / 2;
  bool paused = false;
  httplib::Result result = client.Post(
      std::string(target), library_headers, body.size(),
      [&](std::size_t offset, std::size_t, httplib::DataSink& sink) {
        if (offset < half) return sink.write(body.data() + offset, half - offset);
        if (!paused) {
          paused = true;
          between();
        }
        return sink.write(body.data() + offset, body.size() - offset);
      },
      "application/json");
  return ToResponse(base, result);
}

absl::StatusOr<TestResponse> TestHttpClient::Send(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers, std::string body) const {
  const std::string base = BaseUrl(options_);
  httplib::Client client(base);
  Configure(options_, client);

  httplib::Request request;
  request.method = std::string(method);
  request.path = std::string(target);
  for (const auto& [name, value] : headers) request.headers.emplace(name, value);
  if (!body.empty() && !request.has_header("Content-Type")) {
    request.headers.emplace("Content-Type", "application/json");
  }
  request.body = std::move(body);
  return ToResponse(base, client.send(request));
}

}  // namespace stackbill
