#include "api/portal_routes.h"

#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "core/error.h"
#include "core/status_macros.h"

namespace stackbill {
namespace {

// The content type of a portal file by its extension; empty: not served.
std::string_view ContentTypeOf(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".map", "application/json; charset=utf-8"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [extension, type] : kTypes) {
    if (name.size() > extension.size() && name.ends_with(extension)) return type;
  }
  return {};
}

bool IsPlainName(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  for (const char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

HttpResponse Serve(const PortalAssets::File& file) {
  HttpResponse response;
  response.status = 200;
  response.content_type = file.content_type;
  response.body = file.body;
  response.headers = {
      {"Content-Security-Policy", std::string(kPortalContentSecurityPolicy)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      // Revalidated on every load: a new binary's portal replaces the old at once.
      {"Cache-Control", "no-cache"},
  };
  return response;
}

}  // namespace

absl::StatusOr<PortalAssets> LoadPortalAssets(const std::filesystem::path& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return NotFoundError("PortalNotInstalled",
                         "the portal's files are not at " + dir.string() +
                             " (build them with `scripts/build release`, or set --portal-dir)");
  }
  PortalAssets assets;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    const std::string_view type = ContentTypeOf(name);
    if (!entry.is_regular_file() || !IsPlainName(name) || type.empty()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return absl::UnavailableError("cannot read " + entry.path().string());
    assets.files[name] = {std::string(type), std::move(body).str()};
  }
  if (error) return absl::UnavailableError("cannot list " + dir.string() + ": " + error.message());
  if (!assets.files.contains("index.html")) {
    return NotFoundError("PortalNotInstalled", "no index.html in " + dir.string());
  }
  return assets;
}

absl::Status AddPortalRoutes(Router& router, PortalAssets assets) {
  auto shared = std::make_shared<const PortalAssets>(std::move(assets));
  STACKBILL_RETURN_IF_ERROR(
      router.Add({.method = "GET",
                  .pattern = "/portal",
                  .authentication = Authentication::kNone,
                  .name = "portal.index",
                  .handler = [shared](const RequestContext&) -> absl::StatusOr<HttpResponse> {
                    return Serve(shared->files.at("index.html"));
                  }}));
  return router.Add(
      {.method = "GET",
       .pattern = "/portal/{file}",
       .authentication = Authentication::kNone,
       .name = "portal.file",
       .handler = [shared](const RequestContext& ctx) -> absl::StatusOr<HttpResponse> {
         const auto it = shared->files.find(ctx.Param("file"));
         if (it == shared->files.end()) {
           return NotFoundError("NotFound", "the portal has no file " + ctx.Param("file"));
         }
         return Serve(it->second);
       }});
}

}  // namespace stackbill
