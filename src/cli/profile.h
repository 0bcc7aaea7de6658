#pragma once

// Where the API commands find stackbill: the endpoint, bearer token and CA
// file, taken from flags (--endpoint, --token, --ca-file), else the
// environment (STACKBILL_ENDPOINT, STACKBILL_TOKEN, STACKBILL_CA_FILE), else
// the profile file that `stackbill login` writes. The profile lives at
// --profile, else STACKBILL_PROFILE, else ~/.config/stackbill/profile.json;
// it holds a secret, so it is written mode 0600 (its folder 0700).

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "http/client.h"

namespace stackbill {

struct Profile {
  std::string endpoint;
  std::string token;
  std::string ca_file;  // empty: the system's trust store
  friend bool operator==(const Profile&, const Profile&) = default;
};

// The connection flags every API command accepts.
struct ConnectionFlags {
  std::string endpoint;
  std::string token;
  std::string ca_file;
  std::string profile;  // path of the profile file
};

// Reads an environment variable; std::getenv in the binary, a map in tests.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvironmentLookup ProcessEnvironment();

// The profile path: `flag` when not empty, else STACKBILL_PROFILE, else
// $HOME/.config/stackbill/profile.json. FailedPrecondition when none can be
// found (no HOME).
absl::StatusOr<std::string> ProfilePath(std::string_view flag, const EnvironmentLookup& env);

// Reads a profile. NotFound when the file does not exist; InvalidArgument
// naming the file and the field when it is not a profile.
absl::StatusOr<Profile> ReadProfile(const std::string& path);

// Writes `profile` to `path` atomically (temporary file + rename), mode 0600,
// creating the folder (mode 0700) when missing. Internal on I/O errors.
absl::Status WriteProfile(const std::string& path, const Profile& profile);

// Resolves the connection with precedence flags > environment > profile
// file. A missing profile file is not an error; a missing endpoint is
// FailedPrecondition telling how to give one.
absl::StatusOr<HttpClientOptions> ResolveConnection(const ConnectionFlags& flags,
                                                    const EnvironmentLookup& env);

// Adds --endpoint, --token, --ca-file and --profile to `command`, bound to
// `flags` (which must outlive the command).
void AddConnectionOptions(CLI::App& command, ConnectionFlags& flags);

// ResolveConnection with the process environment, then HttpClient::Create.
absl::StatusOr<std::unique_ptr<HttpClient>> ConnectFromFlags(const ConnectionFlags& flags);

}  // namespace stackbill
