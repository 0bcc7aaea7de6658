#include "cli/profile.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace stackbill {
namespace {

constexpr std::string_view kProfileError = "InvalidProfile";

absl::Status WriteAll(int fd, std::string_view text, const std::string& path) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(fmt::format("profile {}: write: {}", path, std::strerror(errno)));
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

EnvironmentLookup ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<std::string> ProfilePath(std::string_view flag, const EnvironmentLookup& env) {
  if (!flag.empty()) return std::string(flag);
  if (auto path = env("STACKBILL_PROFILE")) return *path;
  if (auto home = env("HOME")) return *home + "/.config/stackbill/profile.json";
  return FailedPreconditionError("NoProfile",
                                 "no profile path: set HOME, STACKBILL_PROFILE or --profile");
}

absl::StatusOr<Profile> ReadProfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return NotFoundError("ProfileNotFound", fmt::format("profile {}: no such file", path));
    }
    return absl::InternalError(fmt::format("profile {}: cannot be read", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return InvalidArgumentError(kProfileError, fmt::format("profile {}: not a JSON object", path));
  }
  Profile profile;
  const std::pair<const char*, std::string*> fields[] = {
      {"endpoint", &profile.endpoint}, {"token", &profile.token}, {"caFile", &profile.ca_file}};
  for (const auto& [key, target] : fields) {
    if (!json.contains(key)) continue;
    if (!json[key].is_string()) {
      return InvalidArgumentError(kProfileError,
                                  fmt::format("profile {}: {} must be a string", path, key));
    }
    *target = json[key].get<std::string>();
  }
  return profile;
}

absl::Status WriteProfile(const std::string& path, const Profile& profile) {
  const std::filesystem::path file(path);
  if (file.has_parent_path()) {
    std::error_code error;
    const auto parent = file.parent_path();
    if (!std::filesystem::exists(parent)) {
      std::filesystem::create_directories(parent, error);
      if (error) {
        return absl::InternalError(fmt::format("profile {}: cannot create {}: {}", path,
                                               parent.string(), error.message()));
      }
      std::filesystem::permissions(parent, std::filesystem::perms::owner_all, error);
    }
  }
  nlohmann::json json = {
      {"endpoint", profile.endpoint}, {"token", profile.token}, {"caFile", profile.ca_file}};
  const std::string text = json.dump(2) + "\n";
  const std::string temporary = path + ".tmp";
  ::unlink(temporary.c_str());
  // Created 0600 from the start, so the token is never readable by others.
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        fmt::format("profile {}: cannot create {}: {}", path, temporary, std::strerror(errno)));
  }
  absl::Status status = WriteAll(fd, text, path);
  if (status.ok() && ::fchmod(fd, 0600) != 0) {
    status = absl::InternalError(fmt::format("profile {}: chmod: {}", path, std::strerror(errno)));
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = absl::InternalError(fmt::format("profile {}: fsync: {}", path, std::strerror(errno)));
  }
  ::close(fd);
  if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(fmt::format("profile {}: rename: {}", path, std::strerror(errno)));
  }
  if (!status.ok()) ::unlink(temporary.c_str());
  return status;
}

absl::StatusOr<HttpClientOptions> ResolveConnection(const ConnectionFlags& flags,
                                                    const EnvironmentLookup& env) {
  Profile stored;
  auto path = ProfilePath(flags.profile, env);
  if (path.ok()) {
    auto read = ReadProfile(*path);
    if (read.ok()) {
      stored = *std::move(read);
    } else if (read.status().code() != absl::StatusCode::kNotFound || !flags.profile.empty()) {
      // An explicitly named profile must exist; a broken one is always an error.
      return read.status();
    }
  }
  auto pick = [&env](const std::string& flag, std::string_view variable,
                     const std::string& from_profile) {
    if (!flag.empty()) return flag;
    if (auto value = env(variable)) return *value;
    return from_profile;
  };
  HttpClientOptions options;
  options.endpoint = pick(flags.endpoint, "STACKBILL_ENDPOINT", stored.endpoint);
  options.token = pick(flags.token, "STACKBILL_TOKEN", stored.token);
  options.ca_file = pick(flags.ca_file, "STACKBILL_CA_FILE", stored.ca_file);
  if (options.endpoint.empty()) {
    return FailedPreconditionError(
        "NoEndpoint",
        "no endpoint: pass --endpoint, set STACKBILL_ENDPOINT, or run 'stackbill login'");
  }
  return options;
}

void AddConnectionOptions(CLI::App& command, ConnectionFlags& flags) {
  command.add_option("--endpoint", flags.endpoint,
                     "stackbill's URL, https://host:port (else STACKBILL_ENDPOINT, the profile)");
  command.add_option("--token", flags.token, "Bearer token (else STACKBILL_TOKEN, the profile)");
  command.add_option("--ca-file", flags.ca_file,
                     "PEM certificate to trust (else STACKBILL_CA_FILE, the profile)");
  command.add_option("--profile", flags.profile,
                     "Profile file (else STACKBILL_PROFILE, ~/.config/stackbill/profile.json)");
}

absl::StatusOr<std::unique_ptr<HttpClient>> ConnectFromFlags(const ConnectionFlags& flags) {
  auto options = ResolveConnection(flags, ProcessEnvironment());
  if (!options.ok()) return options.status();
  return HttpClient::Create(*std::move(options));
}

}  // namespace stackbill
