#include "http/arm.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "absl/strings/ascii.h"
#include "core/abseil_compat.h"
#include "core/error.h"

namespace stackbill {

absl::StatusOr<std::string> CheckApiVersion(const HttpRequest& request,
                                            std::initializer_list<std::string_view> supported) {
  const std::optional<std::string_view> version = request.Query("api-version");
  if (!version.has_value() || version->empty()) {
    return InvalidArgumentError(
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.");
  }
  std::string list;
  for (const std::string_view candidate : supported) {
    if (candidate == *version) return std::string(candidate);
    if (!list.empty()) list += ',';
    list += candidate;
  }
  return InvalidArgumentError("InvalidApiVersionParameter",
                              "The api-version '" + std::string(*version) +
                                  "' is invalid. The supported versions are '" + list + "'.");
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  return out;
}

std::string NextLink(std::string_view public_base_url, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& query) {
  while (!public_base_url.empty() && public_base_url.back() == '/') {
    public_base_url.remove_suffix(1);
  }
  std::string url(public_base_url);
  if (path.empty() || path.front() != '/') url += '/';
  url += PercentEncode(path, /*keep_slash=*/true);
  char separator = '?';
  for (const auto& [key, value] : query) {
    url += separator;
    url += PercentEncode(key);
    url += '=';
    url += PercentEncode(value);
    separator = '&';
  }
  return url;
}

std::string StrongETag(std::string_view representation) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(representation.data()), representation.size(),
         digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string etag = "\"";
  for (std::size_t i = 0; i < 16; ++i) {
    etag += kHex[digest[i] >> 4];
    etag += kHex[digest[i] & 0x0f];
  }
  etag += '"';
  return etag;
}

absl::Status CheckIfMatch(const HttpRequest& request,
                          const std::optional<std::string>& current_etag) {
  const std::optional<std::string_view> if_match = request.Header("if-match");
  if (!if_match.has_value()) return absl::OkStatus();
  std::string_view rest = *if_match;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!current_etag.has_value()) continue;
    if (item == "*" || item == *current_etag) return absl::OkStatus();
  }
  return FailedPreconditionError(
      "PreconditionFailed",
      current_etag.has_value()
          ? "The resource's ETag " + *current_etag + " does not match If-Match " +
                std::string(*if_match) + "."
          : std::string("The resource does not exist, and If-Match requires that it does."));
}

HttpResponse JsonResponse(int status, const nlohmann::json& body, std::string_view etag) {
  HttpResponse response = HttpResponse::Json(
      status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!etag.empty()) response.headers.emplace_back("ETag", std::string(etag));
  return response;
}

absl::StatusOr<OffsetPage> PageByOffset(const HttpRequest& request,
                                        std::string_view public_base_url, std::size_t total,
                                        int page_size,
                                        std::vector<std::pair<std::string, std::string>> query) {
  std::size_t begin = 0;
  if (std::optional<std::string_view> token = request.Query("$skiptoken")) {
    const auto [ptr, ec] = std::from_chars(token->data(), token->data() + token->size(), begin);
    if (ec != std::errc() || ptr != token->data() + token->size()) {
      return InvalidArgumentError("InvalidSkipToken",
                                  fmt::format("The $skiptoken '{}' is invalid.", *token));
    }
  }
  OffsetPage page;
  page.begin = std::min(begin, total);
  page.end = std::min(total, page.begin + static_cast<std::size_t>(page_size));
  if (page.end < total) {
    query.emplace_back("$skiptoken", std::to_string(page.end));
    page.next_link = NextLink(public_base_url, request.path, query);
  }
  return page;
}

}  // namespace stackbill
