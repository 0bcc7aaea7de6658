#pragma once

// ARM conventions for the API handlers (SPEC §3): the api-version check with
// ARM's codes and wording, absolute nextLink URLs built from the configured
// public base URL, strong ETags and JSON responses.

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "http/message.h"

namespace stackbill {

// The request's api-version (query parameter name matched case-insensitively)
// when it is one of `supported`. InvalidArgument with
//   "MissingApiVersionParameter": "The api-version query parameter
//     (?api-version=) is required for all requests." (absent or empty), or
//   "InvalidApiVersionParameter": "The api-version '{v}' is invalid. The
//     supported versions are '{a},{b}'."
absl::StatusOr<std::string> CheckApiVersion(const HttpRequest& request,
                                            std::initializer_list<std::string_view> supported);

// RFC 3986 percent-encoding of everything but the unreserved characters
// (A–Z a–z 0–9 - . _ ~); '/' too is kept when `keep_slash`.
std::string PercentEncode(std::string_view text, bool keep_slash = false);

// An absolute URL: `public_base_url` (trailing '/' ignored) + `path` (each
// segment percent-encoded, '/' kept) + "?k=v&…" for `query` in the order
// given (keys and values percent-encoded), e.g. the nextLink of a page with
// its continuation token among the parameters.
std::string NextLink(std::string_view public_base_url, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& query);

// One page of a list held in memory, addressed by offset: `$skiptoken` is the
// index of the page's first item (absent: 0). Each page re-reads and so
// re-authorises the list.
struct OffsetPage {
  std::size_t begin = 0;
  std::size_t end = 0;                   // exclusive
  std::optional<std::string> next_link;  // absolute, when items remain
};

// The page of `total` items that `request` asks for, at most `page_size`
// (REQUIRES >= 1) long; its nextLink carries `query` (e.g. api-version) and
// the next `$skiptoken`. InvalidArgument / "InvalidSkipToken" for a token that
// is not a non-negative integer.
absl::StatusOr<OffsetPage> PageByOffset(const HttpRequest& request,
                                        std::string_view public_base_url, std::size_t total,
                                        int page_size,
                                        std::vector<std::pair<std::string, std::string>> query);

// A strong ETag for a resource's representation: the quoted lower-case hex of
// the first 128 bits of SHA-256 of `representation` (e.g. its JSON text).
std::string StrongETag(std::string_view representation);

// OK when the request carries no If-Match, If-Match "*" (`current_etag`
// present), or an ETag in its list equal to `current_etag`. Otherwise
// FailedPrecondition / "PreconditionFailed" (412). `current_etag` is nullopt
// when the resource does not exist.
absl::Status CheckIfMatch(const HttpRequest& request,
                          const std::optional<std::string>& current_etag);

// A JSON response with the serialised `body` (invalid UTF-8 replaced, never
// thrown); with an ETag header when `etag` is not empty.
HttpResponse JsonResponse(int status, const nlohmann::json& body, std::string_view etag = {});

}  // namespace stackbill
