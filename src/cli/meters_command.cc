#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/store_options.h"
#include "core/error.h"

namespace stackbill {

void RegisterMetersCommand(CLI::App& app, int& exit_code) {
  struct Args {
    std::string db;
    std::size_t limit = 0;
  };
  auto args = std::make_shared<Args>();  // shared with the callback, which outlives this frame
  auto* meters = app.add_subcommand("meters", "The meter catalogue");
  meters->require_subcommand(1);
  auto* list = meters->add_subcommand("list", "List the meters in a store");
  list->add_option("--db,--database", args->db, "The store: a SQLite file or a postgresql:// URL")
      ->required()
      ->type_name("FILE|URL");
  list->add_option("--limit", args->limit, "Show at most this many (0: all)")
      ->capture_default_str();
  list->callback([args, &exit_code] {
    if (absl::Status location = CheckStoreLocation(args->db); !location.ok()) {
      spdlog::error("meters list: {}", Message(location));
      exit_code = 2;
      return;
    }
    if (!IsPostgresStore(args->db) && !std::filesystem::exists(args->db)) {
      spdlog::error("meters list: {} does not exist; create it with 'stackbill init'", args->db);
      exit_code = 1;
      return;
    }
    auto store = OpenStore(args->db);
    if (!store.ok()) {
      spdlog::error("meters list: {}", Message(store.status()));
      exit_code = 1;
      return;
    }
    auto all = (*store)->meters().ListMeters();
    if (!all.ok()) {
      spdlog::error("meters list: {}", Message(all.status()));
      exit_code = 1;
      return;
    }
    std::cout << fmt::format("{:<36}  {:<16}  {:<34}  {}\n", "METER ID", "CATEGORY", "NAME",
                             "UNIT");
    std::size_t shown = 0;
    for (const auto& meter : *all) {
      if (args->limit != 0 && shown == args->limit) break;
      std::cout << fmt::format("{:<36}  {:<16}  {:<34}  {}\n", meter.meter_id.ToString(),
                               meter.category, meter.name, meter.unit);
      ++shown;
    }
    std::cout << fmt::format("{} of {} meters\n", shown, all->size());
    exit_code = 0;
  });
}

}  // namespace stackbill
