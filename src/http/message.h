#pragma once

// Transport-neutral HTTP messages. The server adapter (server.h) turns the
// library's request into an HttpRequest and an HttpResponse back; nothing
// above src/http names the HTTP library. Value types; thread-compatible.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stackbill {

struct HttpRequest {
  std::string method;      // upper case: "GET", "PUT", …
  std::string path;        // percent-decoded, without the query string
  std::string raw_target;  // as received, for logs
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order received
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_address;
  std::string request_id;  // assigned by the server; echoed as x-ms-request-id

  // The first value of query parameter `name`, compared case-insensitively
  // (ARM treats query parameter names so), or nullopt.
  std::optional<std::string_view> Query(std::string_view name) const;
  // The first value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // A JSON response with `status` and the serialised `body`.
  static HttpResponse Json(int status, std::string body);
  // An empty response (e.g. 204).
  static HttpResponse Empty(int status);
};

}  // namespace stackbill
