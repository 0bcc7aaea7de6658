#pragma once

// The route table of `stackbill serve` and the dispatch of one request:
// match → authenticate → handler → response, with every failure turned into
// the ARM error envelope by one function (arm_error.h). The table is data
// (routes()), so tests can walk every route — the authorisation matrix test
// does.
//
// Patterns are literal segments and {name} parameters:
//   /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/
//   providers/Microsoft.AzureStack/registrations/{registrationName}
// Literal segments match case-insensitively (ARM); parameter values are
// passed as received (percent-decoded). Thread-safe for Dispatch once built.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/time.h"
#include "http/message.h"
#include "services/authenticator.h"

namespace stackbill {

// What a route requires in `Authorization: Bearer …`.
enum class Authentication {
  kNone,                 // /healthz, /readyz (and nothing else)
  kPrincipal,            // a principal's token
  kStackKey,             // a stack's activation key
  kPrincipalOrStackKey,  // either (e.g. stack subscriber mapping)
};

struct RequestContext {
  const HttpRequest& request;
  // Path parameters by the names used in the pattern.
  absl::flat_hash_map<std::string, std::string> params;
  // Set for every route whose Authentication is not kNone.
  Caller caller;
  // When the request is handled (the server's clock, read once per request).
  Timestamp now;
  // The configured public base URL ("https://billing.example.com"), never the
  // request's Host header: nextLink and Location are built from it.
  std::string_view public_base_url;

  // The path parameter `name`. REQUIRES: the pattern declares it.
  const std::string& Param(std::string_view name) const;
};

using RouteHandler = std::function<absl::StatusOr<HttpResponse>(const RequestContext&)>;

// Checks of the request's shape that must answer before authentication: SPEC
// §3 orders request shape, api-version and token syntax (400) before
// authentication and role (401/403/404). Runs with an empty caller.
using RouteValidator = std::function<absl::Status(const RequestContext&)>;

struct Route {
  std::string method;   // "GET", "PUT", "PATCH", "POST", "DELETE"
  std::string pattern;  // see above
  Authentication authentication = Authentication::kPrincipal;
  std::string name;  // stable id for logs, metrics and tests: "registrations.put"
  RouteHandler handler;
  RouteValidator validate = nullptr;  // optional; runs before authentication
  // The largest request body this route takes; 0: the server's default
  // (ServerOptions::max_body_bytes). The server answers 413 beyond it.
  std::size_t max_body_bytes = 0;
};

class Router {
 public:
  // `authenticator` must outlive the router.
  Router(Authenticator& authenticator, std::string public_base_url);

  // Adds a route. InvalidArgument for a malformed pattern or a (method,
  // pattern) already present (compared case-insensitively).
  absl::Status Add(Route route);

  // Handles one request; never throws. Unmatched path: 404 with ARM code
  // "NotFound"; matched path with another method: 405 "MethodNotAllowed".
  // Missing/invalid credentials: 401 with the authenticator's code. A handler
  // error becomes the ARM envelope (ErrorResponse). Every response carries
  // x-ms-request-id = request.request_id.
  HttpResponse Dispatch(const HttpRequest& request, Timestamp now) const;

  // The largest Route::max_body_bytes of any route (0 when none sets one).
  std::size_t LargestBodyLimit() const;

  // The route matched by (method, path), or nullptr (for logs and metrics).
  const Route* Match(std::string_view method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

  // Replaces the public base URL (e.g. once a server bound to port 0 knows its
  // port). REQUIRES: no Dispatch has started.
  void SetPublicBaseUrl(std::string public_base_url) {
    public_base_url_ = std::move(public_base_url);
  }
  const std::string& public_base_url() const { return public_base_url_; }

 private:
  // One segment of a parsed pattern: a literal (lower-cased) or a parameter.
  struct Segment {
    bool is_param = false;
    std::string text;  // literal, lower case; or the parameter's name
  };
  using Pattern = std::vector<Segment>;

  // The index of the most specific route matching (method, path), filling
  // `params`; -1 when none. `path_matched` tells whether any method matched
  // the path.
  int Find(std::string_view method, std::string_view path,
           absl::flat_hash_map<std::string, std::string>* params, bool* path_matched) const;
  absl::StatusOr<Caller> Authenticate(const Route& route, const HttpRequest& request,
                                      Timestamp now) const;

  Authenticator& authenticator_;
  std::string public_base_url_;
  std::vector<Route> routes_;
  std::vector<Pattern> patterns_;  // parallel to routes_
};

}  // namespace stackbill
