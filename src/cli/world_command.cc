// `stackbill world apply FILE` (SPEC §4.2): creates or updates what a world
// file declares through the API, idempotently, and prints what it did and the
// secrets it issued. `stackbill world check FILE` only validates the file.

#include <fmt/format.h>

#include <iostream>
#include <map>
#include <memory>

#include "cli/api_commands.h"
#include "cli/commands.h"
#include "cli/profile.h"
#include "cli/world_apply.h"
#include "cli/world_file.h"
#include "core/error.h"
#include "http/client.h"

namespace stackbill {
namespace {

// WorldApi over HTTP: one client per bearer token, all to the same endpoint.
class HttpWorldApi : public WorldApi {
 public:
  explicit HttpWorldApi(HttpClientOptions options) : options_(std::move(options)) {}

  absl::StatusOr<nlohmann::json> Call(std::string_view method, std::string_view target,
                                      const nlohmann::json* body,
                                      const std::string& token) override {
    auto client = ClientFor(token);
    if (!client.ok()) return client.status();
    return (*client)->Call(method, target, body);
  }

 private:
  absl::StatusOr<HttpClient*> ClientFor(const std::string& token) {
    auto it = clients_.find(token);
    if (it != clients_.end()) return it->second.get();
    HttpClientOptions options = options_;
    if (!token.empty()) options.token = token;
    auto client = HttpClient::Create(options);
    if (!client.ok()) return client.status();
    return (clients_[token] = *std::move(client)).get();
  }

  HttpClientOptions options_;
  std::map<std::string, std::unique_ptr<HttpClient>> clients_;
};

}  // namespace

void RegisterWorldCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::string file;
    ConnectionFlags connection;
  };
  auto args = std::make_shared<Args>();  // shared with the callbacks, which outlive this frame
  auto* world = app.add_subcommand("world", "World files: a whole setup declared in JSON");
  world->require_subcommand(1);

  auto* apply = world->add_subcommand(
      "apply", "Create what a world file declares through the API (idempotent; docs/WORLD.md)");
  apply->add_option("file", args->file, "The world file (JSON)")->required();
  AddConnectionOptions(*apply, args->connection);
  apply->callback([args, &exit_code] {
    exit_code = 1;
    auto parsed = LoadWorld(args->file);
    if (!parsed.ok()) return PrintError(parsed.status());
    auto options = ResolveConnection(args->connection, ProcessEnvironment());
    if (!options.ok()) return PrintError(options.status());
    HttpWorldApi api(*std::move(options));
    WorldApplyReport report;
    const absl::Status status = ApplyWorld(*parsed, api, report);
    for (const auto& line : report.lines) std::cout << line << "\n";
    for (const auto& note : report.notes) std::cout << "note: " << note << "\n";
    if (!report.secrets.empty()) {
      std::cout << "\nSecrets issued by this run (shown once; stackbill keeps only hashes):\n";
      for (const auto& secret : report.secrets) std::cout << "  " << secret << "\n";
    }
    std::cout << fmt::format("world {}: {} created, {} unchanged, {} ensured\n", parsed->name,
                             report.created, report.unchanged, report.ensured);
    if (!status.ok()) return PrintError(status);
    exit_code = 0;
  });

  auto* check = world->add_subcommand("check", "Validate a world file without applying it");
  check->add_option("file", args->file, "The world file (JSON)")->required();
  check->callback([args, &exit_code] {
    auto parsed = LoadWorld(args->file);
    if (!parsed.ok()) {
      exit_code = 1;
      return PrintError(parsed.status());
    }
    std::cout << fmt::format(
        "world {}: {} partners, {} directories, {} subscriptions, {} principals, {} stacks, "
        "{} registrations\n",
        parsed->name, parsed->partners.size(), parsed->directories.size(),
        parsed->subscriptions.size(), parsed->principals.size(), parsed->stacks.size(),
        parsed->registrations.size());
    exit_code = 0;
  });
}

}  // namespace stackbill
