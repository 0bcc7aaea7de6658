#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/store_options.h"
#include "core/error.h"
#include "services/bootstrap.h"

namespace stackbill {

void RegisterInitCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::string db;
    BootstrapOptions bootstrap;
  };
  auto args = std::make_shared<Args>();  // shared with the callback, which outlives this frame
  auto* command = app.add_subcommand(
      "init",
      "Create a new store and its first PlatformAdmin, and print that principal's token once");
  command
      ->add_option("--db,--database", args->db,
                   "The store to create: a SQLite file (must not exist), or an empty PostgreSQL "
                   "database (postgresql://user@host:port/dbname)")
      ->required()
      ->type_name("FILE|URL");
  command
      ->add_option("--admin-name", args->bootstrap.admin_name,
                   "User principal name of the first PlatformAdmin")
      ->capture_default_str();
  command
      ->add_option("--directory-domain", args->bootstrap.directory_domain,
                   "Domain of the platform's own directory")
      ->capture_default_str();
  command
      ->add_option("--token-hours", args->bootstrap.token_hours,
                   "Lifetime of the printed token, in hours")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->callback([args, &exit_code] {
    if (absl::Status location = CheckStoreLocation(args->db); !location.ok()) {
      spdlog::error("init: {}", Message(location));
      exit_code = 2;
      return;
    }
    const std::string store_name = DescribeStore(args->db);
    // A PostgreSQL database is created by its administrator; init fills an
    // empty one (checked before anything is migrated into it).
    if (absl::Status fresh = CheckNewStore(args->db); !fresh.ok()) {
      spdlog::error("init: {}", Message(fresh));
      exit_code = 1;
      return;
    }
    auto store = OpenStore(args->db);
    if (!store.ok()) {
      spdlog::error("init: cannot create {}: {}", store_name, Message(store.status()));
      exit_code = 1;
      return;
    }
    auto result = Bootstrap(**store, args->bootstrap, WallClockNow());
    if (!result.ok()) {
      spdlog::error("init: {}", Message(result.status()));
      exit_code = 1;
      return;
    }
    for (const auto& line : result->skipped_meters) spdlog::info("meter catalogue: {}", line);
    spdlog::info("created {} with {} meters", store_name, result->meters_loaded);
    std::cout << "PlatformAdmin: " << result->admin.name << " ("
              << result->admin.object_id.ToString() << ")\n"
              << "token id:      " << result->token_id << "\n"
              << "expires:       " << result->token_expires_at.ToString() << "\n"
              << "token:         " << result->token << "\n"
              << "This token is shown once; stackbill keeps only its hash.\n";
    exit_code = 0;
  });
}

}  // namespace stackbill
