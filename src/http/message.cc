#include "http/message.h"

#include "absl/strings/match.h"
#include "core/abseil_compat.h"

namespace stackbill {
namespace {

std::optional<std::string_view> FirstValue(
    const std::vector<std::pair<std::string, std::string>>& pairs, std::string_view name) {
  for (const auto& [key, value] : pairs) {
    if (absl::EqualsIgnoreCase(AbslView(key), AbslView(name))) return std::string_view(value);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> HttpRequest::Query(std::string_view name) const {
  return FirstValue(query, name);
}

std::optional<std::string_view> HttpRequest::Header(std::string_view name) const {
  return FirstValue(headers, name);
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse HttpResponse::Empty(int status) {
  HttpResponse response;
  response.status = status;
  response.content_type.clear();
  return response;
}

}  // namespace stackbill
