#pragma once

// The web portal (issue 10): the static files that `npm run build` in
// web/portal writes, served by `stackbill serve` itself at /portal/ — no CDN,
// nothing fetched at run time. The pages call the public API with the token
// the user pastes; the files themselves need no token.
//
// Every answer carries a Content-Security-Policy that allows only the
// portal's own scripts, styles and API (no inline script, no eval, no other
// origin), plus nosniff, no referrer and no framing.

#include <filesystem>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/router.h"

namespace stackbill {

// The portal's files by name (a flat directory), read once at start.
struct PortalAssets {
  struct File {
    std::string content_type;
    std::string body;
  };
  std::map<std::string, File> files;
};

// Reads every regular file of `dir` whose name is [A-Za-z0-9._-]+ and whose
// extension is one the portal uses (.html .js .css .svg .png .map .txt).
// NotFound when `dir` is missing or has no index.html.
absl::StatusOr<PortalAssets> LoadPortalAssets(const std::filesystem::path& dir);

// The Content-Security-Policy of every portal answer.
inline constexpr std::string_view kPortalContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// GET /portal (index.html) and GET /portal/{file}; no authentication.
absl::Status AddPortalRoutes(Router& router, PortalAssets assets);

}  // namespace stackbill
