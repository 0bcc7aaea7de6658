// `stackbill simulate --world FILE` (SPEC §4.2): writes a seeded, realistic
// window of hourly usage for a world's stacks (cli/simulate.h) as NDJSON —
// one folder per stack of files an inbox can take, or one stack on stdout —
// and the exact totals it produced per billed subscription and meter, to
// compare with what the server counted (`stackbill usage totals`).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/api_commands.h"
#include "cli/commands.h"
#include "cli/simulate.h"
#include "cli/store_options.h"
#include "cli/world_file.h"
#include "core/error.h"
#include "core/status_macros.h"

namespace stackbill {
namespace {

namespace fs = std::filesystem;

struct SimulateArgs {
  std::string world;
  std::string month;
  std::string from;
  std::string to;
  std::uint64_t seed = 1;
  int vms = 3;
  std::string stack;
  std::string out;
  std::string summary;
  int file_hours = 24;
  bool quiet = false;
};

absl::Status WriteWhole(const fs::path& path, std::string_view text) {
  // Written beside, then renamed in: an inbox never sees half a file.
  const fs::path temp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream file(temp, std::ios::binary | std::ios::trunc);
    file.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!file) return absl::InternalError(fmt::format("cannot write {}", temp.string()));
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) return absl::InternalError(fmt::format("{}: {}", path.string(), error.message()));
  return absl::OkStatus();
}

// Collects a stack's hours into files of `file_hours` hours each:
// DIR/<stack>/usage-YYYYMMDDTHH.ndjson, named by their first hour.
class FolderSink {
 public:
  FolderSink(fs::path dir, int file_hours) : dir_(std::move(dir)), file_hours_(file_hours) {}

  absl::Status Add(const WorldStack& stack, Timestamp hour, std::string_view lines) {
    Pending& pending = pending_[stack.name];
    if (pending.hours == 0) {
      const fs::path folder = dir_ / stack.name;
      std::error_code error;
      fs::create_directories(folder, error);
      if (error)
        return absl::InternalError(fmt::format("{}: {}", folder.string(), error.message()));
      if (!pending.wrote_cloud_id) {
        STACKBILL_RETURN_IF_ERROR(
            WriteWhole(folder / "cloud-id", stack.cloud_id.ToString() + "\n"));
        pending.wrote_cloud_id = true;
      }
      const CivilTime c = hour.ToCivil();
      pending.path = folder / fmt::format("usage-{:04}{:02}{:02}T{:02}.ndjson", c.year, c.month,
                                          c.day, c.hour);
    }
    pending.text.append(lines);
    if (++pending.hours == file_hours_) return Flush(pending);
    return absl::OkStatus();
  }

  absl::Status Finish() {
    for (auto& [name, pending] : pending_) STACKBILL_RETURN_IF_ERROR(Flush(pending));
    return absl::OkStatus();
  }

 private:
  struct Pending {
    fs::path path;
    std::string text;
    int hours = 0;
    bool wrote_cloud_id = false;
  };

  static absl::Status Flush(Pending& pending) {
    if (pending.hours == 0) return absl::OkStatus();
    STACKBILL_RETURN_IF_ERROR(WriteWhole(pending.path, pending.text));
    pending.text.clear();
    pending.hours = 0;
    return absl::OkStatus();
  }

  fs::path dir_;
  int file_hours_;
  std::map<std::string, Pending> pending_;
};

absl::Status ResolveWindow(const SimulateArgs& args, SimulationOptions& options) {
  if (!args.month.empty() && (!args.from.empty() || !args.to.empty())) {
    return InvalidArgumentError("InvalidArgument", "give --month or --from/--to, not both");
  }
  if (!args.from.empty() || !args.to.empty()) {
    if (args.from.empty() || args.to.empty()) {
      return InvalidArgumentError("InvalidArgument", "--from and --to go together");
    }
    absl::StatusOr<Timestamp> from = Timestamp::Parse(args.from);
    if (!from.ok()) return Annotate(from.status(), "--from");
    absl::StatusOr<Timestamp> to = Timestamp::Parse(args.to);
    if (!to.ok()) return Annotate(to.status(), "--to");
    options.from = *from;
    options.to = *to;
    return absl::OkStatus();
  }
  YearMonth month = YearMonth::Of(WallClockNow()).Previous();
  if (!args.month.empty()) {
    absl::StatusOr<YearMonth> parsed = YearMonth::Parse(args.month);
    if (!parsed.ok()) return Annotate(parsed.status(), "--month");
    month = *parsed;
  }
  options.from = month.Start();
  options.to = month.End();
  return absl::OkStatus();
}

nlohmann::json SummaryJson(const World& world, const SimulationOptions& options,
                           const SimulationSummary& summary) {
  std::map<Guid, std::string> names;
  for (const WorldSubscription& s : world.subscriptions) names[s.id] = s.display_name;
  nlohmann::json stacks = nlohmann::json::array();
  for (const SimulatedStack& s : summary.stacks) {
    stacks.push_back(
        {{"name", s.name}, {"cloudId", s.cloud_id.ToString()}, {"records", s.records}});
  }
  std::map<Guid, std::int64_t> per_subscription;
  nlohmann::json value = nlohmann::json::array();
  for (const auto& [key, total] : summary.totals) {
    per_subscription[key.first] += total.records;
    value.push_back({{"subscriptionId", key.first.ToString()},
                     {"meterId", key.second.ToString()},
                     {"records", total.records},
                     {"quantity", total.quantity.ToString()}});
  }
  nlohmann::json subscriptions = nlohmann::json::array();
  for (const auto& [id, records] : per_subscription) {
    subscriptions.push_back(
        {{"subscriptionId", id.ToString()}, {"displayName", names[id]}, {"records", records}});
  }
  return {{"world", world.name},
          {"from", options.from.ToString()},
          {"to", options.to.ToString()},
          {"seed", options.seed},
          {"vmsPerSubscription", options.vms_per_subscription},
          {"records", summary.records},
          {"stacks", stacks},
          {"skipped", summary.skipped},
          {"subscriptions", subscriptions},
          {"value", value}};
}

absl::Status Run(const SimulateArgs& args) {
  absl::StatusOr<World> world = LoadWorld(args.world);
  if (!world.ok()) return world.status();
  SimulationOptions options;
  STACKBILL_RETURN_IF_ERROR(ResolveWindow(args, options));
  options.seed = args.seed;
  options.vms_per_subscription = args.vms;
  options.stack = args.stack;
  if (args.out == "-" && args.stack.empty()) {
    return InvalidArgumentError("InvalidArgument",
                                "--out - writes one stack: name it with --stack");
  }

  FolderSink folder(args.out, args.file_hours);
  const bool to_folder = !args.out.empty() && args.out != "-";
  const bool progress = !args.quiet;
  auto last_report = std::chrono::steady_clock::now();
  std::int64_t written = 0;
  const SimulationSink sink = [&](const WorldStack& stack, Timestamp hour,
                                  std::string_view lines) -> absl::Status {
    written += std::count(lines.begin(), lines.end(), '\n');
    if (progress && std::chrono::steady_clock::now() - last_report > std::chrono::seconds(2)) {
      last_report = std::chrono::steady_clock::now();
      std::cerr << fmt::format("simulate: {} records, at {}\n", written, hour.ToString());
    }
    if (args.out == "-") {
      std::cout.write(lines.data(), static_cast<std::streamsize>(lines.size()));
      return std::cout ? absl::OkStatus() : absl::InternalError("cannot write to stdout");
    }
    return to_folder ? folder.Add(stack, hour, lines) : absl::OkStatus();
  };
  absl::StatusOr<SimulationSummary> summary = Simulate(*world, options, sink);
  if (!summary.ok()) return summary.status();
  if (to_folder) STACKBILL_RETURN_IF_ERROR(folder.Finish());
  std::cout.flush();

  const nlohmann::json json = SummaryJson(*world, options, *summary);
  if (!args.summary.empty()) {
    STACKBILL_RETURN_IF_ERROR(WriteWhole(args.summary, json.dump(2) + "\n"));
  }
  // The human summary goes where it does not mix with the records.
  std::ostream& human = args.out == "-" ? std::cerr : std::cout;
  human << fmt::format("simulated {} records for world {}, {} – {}, seed {}\n", summary->records,
                       world->name, options.from.ToString(), options.to.ToString(), options.seed);
  for (const SimulatedStack& s : summary->stacks) {
    human << fmt::format("  stack {:<24} {:>12} records\n", s.name, s.records);
  }
  for (const std::string& skipped : summary->skipped) human << "  skipped " << skipped << "\n";
  human << "routed to (R7), per billed subscription:\n";
  for (const auto& s : json["subscriptions"]) {
    human << fmt::format("  {} {:<36} {:>12} records\n", s["subscriptionId"].get<std::string>(),
                         s["displayName"].get<std::string>(), s["records"].get<std::int64_t>());
  }
  if (to_folder) human << "records written under " << args.out << "/<stack>/\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterSimulateCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SimulateArgs>();
  auto* command = app.add_subcommand(
      "simulate",
      "Write a seeded, realistic window of hourly usage for a world's stacks, with its exact "
      "totals per billed subscription (SPEC §4.2)");
  command->add_option("--world", args->world, "The world file (JSON, docs/WORLD.md)")->required();
  command->add_option("--month", args->month,
                      "The month to simulate, YYYY-MM (default: the previous calendar month)");
  command->add_option("--from", args->from, "Window start (ISO 8601, hour-aligned; with --to)");
  command->add_option("--to", args->to, "Window end, exclusive (ISO 8601, hour-aligned)");
  command->add_option("--seed", args->seed, "Seed: the same seed gives the same records")
      ->capture_default_str();
  command
      ->add_option("--vms", args->vms,
                   "VMs per stack-local subscription (about 2,400 records each per month)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  command->add_option("--stack", args->stack, "Only this stack (by name)");
  command->add_option("--out", args->out,
                      "Folder for the records (DIR/<stack>/usage-*.ndjson, written elsewhere and "
                      "renamed in), or - for stdout (one --stack); none: totals only");
  command->add_option("--file-hours", args->file_hours, "Hours of usage per file in --out DIR")
      ->check(CLI::Range(1, 24 * 366))
      ->capture_default_str();
  command->add_option("--summary", args->summary,
                      "Write the totals as JSON here (the shape of `stackbill usage totals`)");
  command->add_flag("--quiet", args->quiet, "No progress lines on stderr");
  command->callback([args, &exit_code] {
    exit_code = 1;
    if (absl::Status status = Run(*args); !status.ok()) return PrintError(status);
    exit_code = 0;
  });
}

}  // namespace stackbill
