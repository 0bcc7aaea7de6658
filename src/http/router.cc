#include "http/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <exception>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "core/abseil_compat.h"
#include "core/error.h"
#include "http/arm_error.h"

namespace stackbill {
namespace {

std::string Lower(std::string_view text) { return absl::AsciiStrToLower(AbslView(text)); }

std::string Upper(std::string_view text) { return absl::AsciiStrToUpper(AbslView(text)); }

// "/a/b/" → {"a", "b"}; "/" → {}. One trailing slash is tolerated; other
// empty segments are kept (and then match no literal and no parameter).
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path.front() != '/') return {std::string_view("\x01")};  // matches nothing
  path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return segments;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      break;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

bool IsParamNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Route A is more specific than route B when, at the first segment where one
// is a literal and the other a parameter, A has the literal
// (/v1/invoices/estimate beats /v1/invoices/{id}).
template <typename Pattern>
bool MoreSpecific(const Pattern& a, const Pattern& b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].is_param != b[i].is_param) return !a[i].is_param;
  }
  return false;
}

constexpr std::string_view kBearer = "bearer ";

}  // namespace

const std::string& RequestContext::Param(std::string_view name) const {
  static const std::string kEmpty;
  const auto it = params.find(AbslView(name));
  assert(it != params.end() && "the route's pattern does not declare this parameter");
  return it == params.end() ? kEmpty : it->second;
}

Router::Router(Authenticator& authenticator, std::string public_base_url)
    : authenticator_(authenticator), public_base_url_(std::move(public_base_url)) {}

absl::Status Router::Add(Route route) {
  const std::string_view pattern = route.pattern;
  if (pattern.empty() || pattern.front() != '/') {
    return InvalidArgumentError("InvalidRoute",
                                "route " + route.name + ": pattern must start with '/'");
  }
  Pattern parsed;
  absl::flat_hash_map<std::string, int> names;
  for (const std::string_view segment : SplitPath(pattern)) {
    if (segment.empty()) {
      return InvalidArgumentError("InvalidRoute",
                                  "route " + route.name + ": empty segment in " + route.pattern);
    }
    Segment parsed_segment;
    if (segment.front() == '{') {
      if (segment.size() < 3 || segment.back() != '}') {
        return InvalidArgumentError(
            "InvalidRoute", "route " + route.name + ": malformed parameter in " + route.pattern);
      }
      const std::string_view name = segment.substr(1, segment.size() - 2);
      for (const char c : name) {
        if (!IsParamNameChar(c)) {
          return InvalidArgumentError(
              "InvalidRoute",
              "route " + route.name + ": malformed parameter name in " + route.pattern);
        }
      }
      if (!names.emplace(std::string(name), 0).second) {
        return InvalidArgumentError(
            "InvalidRoute",
            "route " + route.name + ": parameter declared twice in " + route.pattern);
      }
      parsed_segment.is_param = true;
      parsed_segment.text = std::string(name);
    } else {
      if (segment.find_first_of("{}") != std::string_view::npos) {
        return InvalidArgumentError(
            "InvalidRoute",
            "route " + route.name + ": braces inside a literal segment in " + route.pattern);
      }
      parsed_segment.text = Lower(segment);
    }
    parsed.push_back(std::move(parsed_segment));
  }
  route.method = Upper(route.method);
  // Two patterns that differ only in case or in parameter names would match
  // the same requests: they are the same route.
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method != route.method || patterns_[i].size() != parsed.size()) continue;
    bool same = true;
    for (std::size_t j = 0; j < parsed.size() && same; ++j) {
      same = patterns_[i][j].is_param == parsed[j].is_param &&
             (parsed[j].is_param || patterns_[i][j].text == parsed[j].text);
    }
    if (same) {
      return InvalidArgumentError("DuplicateRoute", "route " + route.name + ": " + route.method +
                                                        " " + route.pattern +
                                                        " is already routed to " + routes_[i].name);
    }
  }
  routes_.push_back(std::move(route));
  patterns_.push_back(std::move(parsed));
  return absl::OkStatus();
}

int Router::Find(std::string_view method, std::string_view path,
                 absl::flat_hash_map<std::string, std::string>* params, bool* path_matched) const {
  const std::vector<std::string_view> segments = SplitPath(path);
  int best = -1;
  if (path_matched != nullptr) *path_matched = false;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Pattern& pattern = patterns_[i];
    if (pattern.size() != segments.size()) continue;
    bool matches = true;
    for (std::size_t j = 0; j < segments.size() && matches; ++j) {
      if (pattern[j].is_param) {
        matches = !segments[j].empty();
      } else {
        matches = absl::EqualsIgnoreCase(AbslView(pattern[j].text), AbslView(segments[j]));
      }
    }
    if (!matches) continue;
    if (path_matched != nullptr) *path_matched = true;
    if (routes_[i].method != method) continue;
    if (best < 0 || MoreSpecific(pattern, patterns_[static_cast<std::size_t>(best)])) {
      best = static_cast<int>(i);
    }
  }
  if (best >= 0 && params != nullptr) {
    const Pattern& pattern = patterns_[static_cast<std::size_t>(best)];
    for (std::size_t j = 0; j < segments.size(); ++j) {
      if (pattern[j].is_param) (*params)[pattern[j].text] = std::string(segments[j]);
    }
  }
  return best;
}

const Route* Router::Match(std::string_view method, std::string_view path) const {
  const int index = Find(method, path, nullptr, nullptr);
  return index < 0 ? nullptr : &routes_[static_cast<std::size_t>(index)];
}

absl::StatusOr<Caller> Router::Authenticate(const Route& route, const HttpRequest& request,
                                            Timestamp now) const {
  if (route.authentication == Authentication::kNone) return Caller{};
  const std::optional<std::string_view> header = request.Header("authorization");
  if (!header.has_value()) {
    return MakeError(absl::StatusCode::kUnauthenticated, "AuthenticationFailed",
                     "Authentication failed. The 'Authorization' header is missing.");
  }
  if (header->size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(AbslView(*header), AbslView(kBearer))) {
    return MakeError(absl::StatusCode::kUnauthenticated, "AuthenticationFailed",
                     "Authentication failed. The 'Authorization' header is provided in an invalid "
                     "format; expected 'Bearer <token>'.");
  }
  std::string_view secret = header->substr(kBearer.size());
  while (!secret.empty() && secret.front() == ' ') secret.remove_prefix(1);
  while (!secret.empty() && secret.back() == ' ') secret.remove_suffix(1);
  switch (route.authentication) {
    case Authentication::kPrincipal:
      return authenticator_.AuthenticatePrincipal(secret, now);
    case Authentication::kStackKey:
      return authenticator_.AuthenticateStack(secret, now);
    case Authentication::kPrincipalOrStackKey: {
      auto principal = authenticator_.AuthenticatePrincipal(secret, now);
      if (principal.ok() || principal.status().code() != absl::StatusCode::kUnauthenticated) {
        return principal;
      }
      auto stack = authenticator_.AuthenticateStack(secret, now);
      if (stack.ok() || stack.status().code() != absl::StatusCode::kUnauthenticated) return stack;
      return principal.status();
    }
    case Authentication::kNone:
      break;
  }
  return Caller{};
}

std::size_t Router::LargestBodyLimit() const {
  std::size_t largest = 0;
  for (const Route& route : routes_) largest = std::max(largest, route.max_body_bytes);
  return largest;
}

HttpResponse Router::Dispatch(const HttpRequest& request, Timestamp now) const {
  HttpResponse response = [&]() -> HttpResponse {
    absl::flat_hash_map<std::string, std::string> params;
    bool path_matched = false;
    const int index = Find(request.method, request.path, &params, &path_matched);
    if (index < 0) {
      if (!path_matched) {
        return ErrorResponse(404, "NotFound",
                             "The requested resource path '" + request.path + "' was not found.");
      }
      std::string allow;
      for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (Find(routes_[i].method, request.path, nullptr, nullptr) == static_cast<int>(i) &&
            allow.find(routes_[i].method) == std::string::npos) {
          if (!allow.empty()) allow += ", ";
          allow += routes_[i].method;
        }
      }
      HttpResponse not_allowed =
          ErrorResponse(405, "MethodNotAllowed",
                        "The HTTP method '" + request.method + "' is not supported for path '" +
                            request.path + "'.");
      not_allowed.headers.emplace_back("Allow", allow);
      return not_allowed;
    }
    const Route& route = routes_[static_cast<std::size_t>(index)];
    if (route.validate) {
      const RequestContext unauthenticated{.request = request,
                                           .params = params,
                                           .caller = Caller{},
                                           .now = now,
                                           .public_base_url = public_base_url_};
      if (absl::Status shape = route.validate(unauthenticated); !shape.ok()) {
        return ErrorResponse(shape);
      }
    }
    absl::StatusOr<Caller> caller = Authenticate(route, request, now);
    if (!caller.ok()) {
      if (caller.status().code() == absl::StatusCode::kUnauthenticated) {
        return ErrorResponse(caller.status());
      }
      spdlog::error("request {} route {}: authentication failed: {}", request.request_id,
                    route.name, Message(caller.status()));
      return ErrorResponse(caller.status());
    }
    const RequestContext context{.request = request,
                                 .params = std::move(params),
                                 .caller = *std::move(caller),
                                 .now = now,
                                 .public_base_url = public_base_url_};
    try {
      absl::StatusOr<HttpResponse> result = route.handler(context);
      if (result.ok()) return *std::move(result);
      HttpResponse error = ErrorResponse(result.status());
      if (error.status >= 500) {
        spdlog::error("request {} route {}: {}", request.request_id, route.name,
                      result.status().ToString());
      }
      return error;
    } catch (const std::exception& e) {
      spdlog::error("request {} route {}: handler threw: {}", request.request_id, route.name,
                    e.what());
    } catch (...) {
      spdlog::error("request {} route {}: handler threw a non-standard exception",
                    request.request_id, route.name);
    }
    return ErrorResponse(absl::InternalError("handler threw"));
  }();
  if (!request.request_id.empty()) {
    std::erase_if(response.headers, [](const auto& header) {
      return absl::EqualsIgnoreCase(AbslView(header.first), "x-ms-request-id");
    });
    response.headers.emplace_back("x-ms-request-id", request.request_id);
  }
  return response;
}

}  // namespace stackbill
