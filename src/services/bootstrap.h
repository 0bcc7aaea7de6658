#pragma once

// Bootstrap: turns an empty store into a working one (`stackbill init`).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/entities.h"
#include "core/time.h"
#include "store/store.h"

namespace stackbill {

struct BootstrapOptions {
  // The platform's own directory and its first administrator.
  std::string directory_name = "Platform";
  std::string directory_domain = "platform.stackbill.local";
  std::string admin_name = "admin@platform.stackbill.local";
  // Lifetime of the administrator's first token.
  int token_hours = 24 * 90;
};

struct BootstrapResult {
  Directory directory;
  Principal admin;
  std::string token_id;
  std::string token;  // the plaintext, to show once; the store keeps only its hash
  Timestamp token_expires_at;
  int meters_loaded = 0;
  std::vector<std::string> skipped_meters;  // catalogue rows without an ID, for the log
};

// Creates the platform directory, a PlatformAdmin principal (role scope "/"),
// a token for it, and loads the built-in meter catalogue; each mutation is
// audited with the administrator as actor. `now` is the time recorded.
// FailedPrecondition / "AlreadyInitialized" when the store already has a
// PlatformAdmin (so a second `init` cannot mint a second master token);
// InvalidArgument for empty names or a non-positive token lifetime.
absl::StatusOr<BootstrapResult> Bootstrap(Store& store, const BootstrapOptions& options,
                                          Timestamp now);

}  // namespace stackbill
