// `stackbill forward` (SPEC §4.1): the stack-side forwarder — inbox and/or
// stdin, a durable spool, batches, retries, fail-over, rejected/ — wired to
// the command line (forward/forwarder.h does the work). SIGTERM or SIGINT
// stops it cleanly; kill -9 loses nothing either (the spool is durable).

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_split.h"
#include "cli/api_commands.h"
#include "cli/commands.h"
#include "core/error.h"
#include "forward/forwarder.h"

namespace stackbill {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> stop_requested{false};
extern "C" void RequestStop(int /*signal*/) { stop_requested = true; }

struct ForwardArgs {
  std::vector<std::string> servers;
  std::string cloud_id;
  std::string key_file;
  std::string state = "forwarder";
  std::string inbox;
  bool use_stdin = false;
  std::string tenant_map;
  std::string ca_file;
  std::size_t batch = 20000;
  bool once = false;
  bool spool_only = false;
  int initial_backoff_ms = 200;
  int max_backoff_ms = 30000;
  int poll_ms = 1000;
  double progress_seconds = 5;
  int send_copies = 1;
};

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return NotFoundError("FileNotFound", "cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// The activation key: --key-file (saved into the state folder, mode 0600, so
// that a restart needs no flag), else the one saved there.
absl::StatusOr<std::string> ActivationKey(const ForwardArgs& args) {
  const fs::path saved = fs::path(args.state) / "activation-key";
  if (args.key_file.empty()) {
    absl::StatusOr<std::string> text = ReadText(saved.string());
    if (!text.ok()) {
      return InvalidArgumentError(
          "MissingActivationKey",
          fmt::format("no --key-file given and none saved in {} yet", args.state));
    }
    return Trimmed(*std::move(text));
  }
  absl::StatusOr<std::string> text = ReadText(args.key_file);
  if (!text.ok()) return text.status();
  std::string key = Trimmed(*std::move(text));
  if (key.empty()) return InvalidArgumentError("MissingActivationKey", args.key_file + " is empty");
  std::error_code error;
  fs::create_directories(args.state, error);
  const int fd = ::open(saved.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError("cannot write " + saved.string());
  ::fchmod(fd, 0600);
  const std::string line = key + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::UnavailableError("cannot write " + saved.string());
  return key;
}

absl::Status Run(const ForwardArgs& args) {
  ForwarderOptions options;
  for (const std::string& server : args.servers) {
    for (absl::string_view part : absl::StrSplit(server, ',', absl::SkipEmpty())) {
      options.servers.emplace_back(part);
    }
  }
  absl::StatusOr<Guid> cloud = Guid::Parse(args.cloud_id);
  if (!cloud.ok()) return Annotate(cloud.status(), "--cloud-id");
  options.cloud_id = *cloud;
  if (args.inbox.empty() && !args.use_stdin) {
    return InvalidArgumentError("InvalidArgument", "give --inbox DIR, --stdin, or both");
  }
  if (!args.inbox.empty() && !fs::is_directory(args.inbox)) {
    return NotFoundError("InboxNotFound", args.inbox + " is not a folder");
  }
  ::umask(077);  // the spool, the key and rejected/ are the operator's alone
  absl::StatusOr<std::string> key = ActivationKey(args);
  if (!key.ok()) return key.status();
  options.activation_key = *std::move(key);
  if (!args.tenant_map.empty()) {
    absl::StatusOr<std::string> text = ReadText(args.tenant_map);
    if (!text.ok()) return text.status();
    absl::StatusOr<std::map<Guid, Guid>> map = ParseTenantMap(*text);
    if (!map.ok()) return Annotate(map.status(), args.tenant_map);
    options.tenant_map = *std::move(map);
  }
  options.state_dir = args.state;
  options.inbox = args.inbox;
  options.input_fd = args.use_stdin ? STDIN_FILENO : -1;
  options.ca_file = args.ca_file;
  options.batch_records = args.batch;
  options.once = args.once;
  options.spool_only = args.spool_only;
  options.initial_backoff = std::chrono::milliseconds(args.initial_backoff_ms);
  options.max_backoff = std::chrono::milliseconds(args.max_backoff_ms);
  options.poll_interval = std::chrono::milliseconds(args.poll_ms);
  options.progress_interval =
      std::chrono::milliseconds(static_cast<std::int64_t>(args.progress_seconds * 1000));
  options.send_copies = args.send_copies;

  std::signal(SIGTERM, RequestStop);
  std::signal(SIGINT, RequestStop);
  std::signal(SIGPIPE, SIG_IGN);
  const ProgressSink progress = [](const std::string& line) { std::cerr << line << std::endl; };
  return RunForwarder(options, stop_requested, progress);
}

}  // namespace

void RegisterForwardCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ForwardArgs>();
  auto* command = app.add_subcommand(
      "forward",
      "Forward a stack's usage to stackbill: inbox folder and/or stdin, durable spool, batches, "
      "retries and fail-over (SPEC §4.1)");
  command
      ->add_option("--server", args->servers,
                   "stackbill's base URL (https://host:port); repeat or comma-separate for "
                   "several serve nodes: batches go to them in turn and fail over")
      ->required();
  command->add_option("--cloud-id", args->cloud_id, "The stack's cloudId (GUID)")->required();
  command->add_option("--key-file", args->key_file,
                      "File holding the registration's activation key (saved in --state, mode "
                      "0600, for later runs)");
  command
      ->add_option("--state", args->state,
                   "Folder for the spool (spool.db), the saved key and rejected/")
      ->capture_default_str();
  command->add_option("--inbox", args->inbox,
                      "Folder to take usage files from (NDJSON, or *.json usage pages; write "
                      "elsewhere and rename in; removed once spooled)");
  command->add_flag("--stdin", args->use_stdin,
                    "Also read NDJSON from stdin (durable once spooled; without --inbox the run "
                    "ends when stdin ends and everything is acknowledged)");
  command->add_option("--tenant-map", args->tenant_map,
                      "JSON {\"<local subscription>\": \"<tenant>\"} to fill in missing tenantId");
  command->add_option("--ca-file", args->ca_file, "PEM certificate to trust for HTTPS");
  command->add_option("--batch", args->batch, "Records per request")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command->add_flag("--once", args->once,
                    "Exit when the inbox (and stdin) are drained and everything is acknowledged");
  command->add_flag("--spool-only", args->spool_only,
                    "Take the inbox (and stdin) into the spool and exit without sending (e.g. "
                    "while the server is down for maintenance; benchmarks)");
  command->add_option("--initial-backoff-ms", args->initial_backoff_ms, "First retry delay")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  command->add_option("--max-backoff-ms", args->max_backoff_ms, "Longest retry delay")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  command->add_option("--poll-ms", args->poll_ms, "How often an idle forwarder looks again")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  command
      ->add_option("--progress-seconds", args->progress_seconds, "Seconds between progress lines")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  command
      ->add_option("--send-copies", args->send_copies,
                   "Send every batch this many times (tests: a duplicate storm changes nothing)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  command->callback([args, &exit_code] {
    exit_code = 1;
    if (absl::Status status = Run(*args); !status.ok()) return PrintError(status);
    exit_code = 0;
  });
}

}  // namespace stackbill
