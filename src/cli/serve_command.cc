// `stackbill serve`: the wiring of the HTTPS server — configuration (file <
// environment < flags), the store, the authenticator, the routes, the
// listener, the port file and the graceful shutdown on SIGTERM/SIGINT.

#include <fcntl.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/api.h"
#include "api/portal_routes.h"
#include "cli/commands.h"
#include "cli/store_options.h"
#include "core/error.h"
#include "http/metrics.h"
#include "http/ops_routes.h"
#include "http/router.h"
#include "http/serve_config.h"
#include "http/server.h"
#include "services/store_authenticator.h"

namespace stackbill {
namespace {

constexpr char kConfigHelp[] =
    "Configuration: a file (--config) of 'key = value' lines ('#' comments), overridden by "
    "the environment, overridden by flags. Keys (environment variable): db (STACKBILL_DB), "
    "bind (STACKBILL_BIND), port (STACKBILL_PORT), port-file (STACKBILL_PORT_FILE), tls-cert "
    "(STACKBILL_TLS_CERT), tls-key (STACKBILL_TLS_KEY), insecure-http (STACKBILL_INSECURE_HTTP, "
    "true|false), public-url (STACKBILL_PUBLIC_URL), max-body-bytes (STACKBILL_MAX_BODY_BYTES), "
    "threads (STACKBILL_THREADS), keep-alive-max-requests, keep-alive-timeout, read-timeout, "
    "write-timeout (seconds), page-size, auto-close (on|off), auto-close-grace (hours; billing "
    "periods close by themselves that long after the month ends), durability (normal|full), "
    "portal-dir "
    "(STACKBILL_ + the key in upper "
    "case with '_'). TLS is "
    "required "
    "unless --insecure-http, which is refused on anything but a loopback address. /healthz and "
    "/readyz need no token; /metrics needs a PlatformAdmin's. SIGTERM or SIGINT stops accepting "
    "connections and exits 0 once the requests in flight are answered.";

// Where the portal's files are: the configured directory, else
// ../share/stackbill/portal next to this binary (an installed layout), else
// the build tree's (STACKBILL_BUILD_PORTAL_DIR, set by CMake).
std::filesystem::path PortalDir(const std::string& configured) {
  if (!configured.empty()) return configured;
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    std::filesystem::path installed =
        self.parent_path().parent_path() / "share" / "stackbill" / "portal";
    if (std::filesystem::is_directory(installed, error)) return installed;
  }
  return STACKBILL_BUILD_PORTAL_DIR;
}

// Writes `content` to `path` atomically: a temporary file in the same
// directory, then rename(2), so a reader never sees a partial file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return absl::UnavailableError("cannot write " + temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    return absl::UnavailableError("cannot rename " + temporary + " to " + path);
  }
  return absl::OkStatus();
}

absl::Status ReadFile(const std::string& path, std::string& text) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read configuration file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return absl::OkStatus();
}

struct ServeArgs {
  std::string config_file;
  // Flag name (without "--") → value, for the flags given.
  std::vector<std::pair<std::string, std::string>> flags;
  bool insecure_http = false;
};

int Serve(const ServeArgs& args, const std::vector<std::pair<std::string, std::string>>& flags) {
  // glibc gives each worker thread its own malloc arena and keeps what a
  // 20,000-record ingest batch freed in it: with four forwarders the peak RSS
  // of a 1M-record ingest and resend was 1.9 GiB, 1.3 GiB with two arenas at
  // the same ingest time (docs/PERFORMANCE.md, bench/run). A no-op where the
  // allocator is not glibc's (the sanitizers').
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  ServeConfig config;
  config.server.port = 8443;
  if (!args.config_file.empty()) {
    std::string text;
    absl::Status status = ReadFile(args.config_file, text);
    if (status.ok()) status = ApplyServeConfigFile(config, text, args.config_file);
    if (!status.ok()) {
      spdlog::error("serve: {}", Message(status));
      return 2;
    }
  }
  if (absl::Status status = ApplyServeConfigEnvironment(
          config,
          [](const char* name) {
            return std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread starts
          });
      !status.ok()) {
    spdlog::error("serve: {}", Message(status));
    return 2;
  }
  for (const auto& [key, value] : flags) {
    if (absl::Status status = SetServeConfigValue(config, key, value, "--" + key); !status.ok()) {
      spdlog::error("serve: {}", Message(status));
      return 2;
    }
  }
  if (config.db.empty()) {
    spdlog::error(
        "serve: no store: give --db FILE|postgresql://… (or STACKBILL_DB, or db = in --config)");
    return 2;
  }
  if (absl::Status valid = ValidateServerOptions(config.server); !valid.ok()) {
    spdlog::error("serve: {}", Message(valid));
    return 2;
  }
  if (!config.public_url.empty()) {
    if (absl::Status valid = ValidatePublicUrl(config.public_url); !valid.ok()) {
      spdlog::error("serve: {}", Message(valid));
      return 2;
    }
  }
  if (absl::Status location = CheckStoreLocation(config.db); !location.ok()) {
    spdlog::error("serve: {}", Message(location));
    return 2;
  }
  const std::string store_name = DescribeStore(config.db);
  if (!IsPostgresStore(config.db) && !std::filesystem::exists(config.db)) {
    spdlog::error("serve: {} does not exist; create it with 'stackbill init --db {}'", config.db,
                  config.db);
    return 1;
  }
  // SIGTERM and SIGINT are taken by sigtimedwait below, so they are blocked
  // before any thread starts (threads inherit the mask): before the store
  // opens, as the SQLite store starts its checkpointer thread then — a
  // SIGTERM delivered to that thread would have ended the process with the
  // default action (exit 143), not the graceful shutdown. SIGPIPE from a
  // client that went away must not end the process.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto store = OpenStore(config.db, config.durability_full);
  if (!store.ok()) {
    spdlog::error("serve: cannot open {}: {}", store_name, Message(store.status()));
    return 1;
  }
  // One clock for every node of a store (issue 9): the database server's
  // when the store has one, measured again every minute below.
  StoreClock clock(**store);
  if (absl::Status synced = clock.Sync(); synced.ok()) {
    spdlog::info("serve: using the database's clock ({} ms from this machine's)",
                 clock.offset_nanos() / 1'000'000);
  } else if (!absl::IsUnimplemented(synced)) {
    spdlog::error("serve: cannot read the database's clock: {}", Message(synced));
    return 1;
  }

  StoreAuthenticator authenticator(**store);
  Router router(authenticator, config.public_url);
  RequestMetrics metrics;
  Store& store_ref = **store;
  absl::Status routes = AddOpsRoutes(
      router, OpsOptions{.readiness = [&store_ref]() -> absl::Status {
                           // A cheap indexed read: NotFound means the store answered.
                           const auto probe = store_ref.identity().GetToken("readyz-probe");
                           if (probe.ok() || absl::IsNotFound(probe.status())) {
                             return absl::OkStatus();
                           }
                           return probe.status();
                         },
                         .metrics = &metrics});
  ApiOptions api;
  api.page_size = config.page_size;
  api.max_usage_body_bytes = config.max_usage_body_bytes;
  api.ingest.max_records_per_request = static_cast<std::size_t>(config.max_usage_records);
  api.ingest.validation.future_skew_seconds = config.usage_future_skew_seconds;
  api.ingest.validation.max_age_seconds =
      std::int64_t{config.usage_max_age_days} * Timestamp::kSecondsPerDay;
  api.ingest.quarantine_quota_per_stack = config.quarantine_quota;
  api.billing.auto_close = config.auto_close;
  api.billing.auto_close_grace = std::chrono::hours(config.auto_close_grace_hours);
  auto ingest = std::make_shared<IngestService>(**store, api.ingest);
  auto billing = std::make_shared<BillingService>(**store, api.billing);
  if (routes.ok()) routes = AddApiRoutes(router, **store, api, ingest, billing);
  if (routes.ok()) {
    // The portal is optional: without its files the API serves as before.
    const std::filesystem::path portal_dir = PortalDir(config.portal_dir);
    absl::StatusOr<PortalAssets> portal = LoadPortalAssets(portal_dir);
    if (portal.ok()) {
      spdlog::info("portal: {} files from {}, at /portal/", portal->files.size(),
                   portal_dir.string());
      routes = AddPortalRoutes(router, *std::move(portal));
    } else if (!config.portal_dir.empty()) {
      spdlog::error("serve: {}", Message(portal.status()));
      return 1;
    } else {
      spdlog::warn("portal: not served: {}", Message(portal.status()));
    }
  }
  if (!routes.ok()) {
    spdlog::error("serve: cannot build the routes: {}", Message(routes));
    return 1;
  }

  auto server =
      HttpServer::Create(config.server, router, metrics, [&clock] { return clock.Now(); });
  if (!server.ok()) {
    spdlog::error("serve: {}", Message(server.status()));
    return 2;
  }
  if (absl::Status bound = (*server)->Bind(); !bound.ok()) {
    spdlog::error("serve: {}", Message(bound));
    return 1;
  }
  if (config.public_url.empty()) {
    router.SetPublicBaseUrl(DefaultPublicUrl(config.server, (*server)->port()));
  }
  if (absl::Status started = (*server)->Start(); !started.ok()) {
    spdlog::error("serve: {}", Message(started));
    return 1;
  }
  spdlog::info("serving {} (public URL {})", store_name, router.public_base_url());
  if (!config.port_file.empty()) {
    if (absl::Status written =
            WriteFileAtomically(config.port_file, std::to_string((*server)->port()) + "\n");
        !written.ok()) {
      spdlog::error("serve: {}", Message(written));
      (*server)->Stop();
      return 1;
    }
  }

  int exit_code = 0;
  // The re-route pass (R13) runs on this thread between signal checks: usage
  // stored before an effectiveFrom correction or a re-mapping is routed again.
  auto next_reroute = std::chrono::steady_clock::now();
  // So does the automatic close (SPEC §5), once a minute; a close that fails
  // (MissingPrice) is logged once per distinct message until it succeeds.
  auto next_close = std::chrono::steady_clock::now();
  std::string last_close_error;
  // And the database's clock is read again once a minute (a failure keeps
  // the last offset).
  auto next_clock_sync = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (true) {
    if (std::chrono::steady_clock::now() >= next_clock_sync) {
      if (absl::Status synced = clock.Sync(); !synced.ok() && !absl::IsUnimplemented(synced)) {
        spdlog::warn("serve: reading the database's clock failed (the last offset stays): {}",
                     Message(synced));
      }
      next_clock_sync = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }
    if (config.auto_close && std::chrono::steady_clock::now() >= next_close) {
      absl::StatusOr<std::vector<ClosePeriodResult>> closes = billing->AutoClose(clock.Now());
      if (!closes.ok()) {
        if (Message(closes.status()) != last_close_error) {
          last_close_error = Message(closes.status());
          spdlog::warn("serve: automatic close failed (retried every minute): {}",
                       last_close_error);
        }
      } else {
        last_close_error.clear();
        for (const ClosePeriodResult& closed : *closes) {
          if (closed.newly_closed) {
            spdlog::info("serve: closed billing period {} automatically: {} invoice(s)",
                         closed.period.period.ToString(), closed.invoices.size());
          }
        }
      }
      next_close = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }
    if (std::chrono::steady_clock::now() >= next_reroute) {
      absl::StatusOr<RerouteResult> pass = ingest->ProcessReroutes(clock.Now());
      if (!pass.ok()) {
        spdlog::warn("serve: re-route pass failed (retried): {}", Message(pass.status()));
      } else if (pass->markers > 0) {
        spdlog::info("serve: re-routed {} of {} stored records after {} history changes",
                     pass->rerouted, pass->examined, pass->markers);
      }
      next_reroute =
          std::chrono::steady_clock::now() + std::chrono::seconds(config.reroute_interval_seconds);
    }
    timespec timeout{.tv_sec = 0, .tv_nsec = 250'000'000};
    const int signal = sigtimedwait(&stop_signals, nullptr, &timeout);
    if (signal == SIGTERM || signal == SIGINT) {
      spdlog::info("serve: {}: finishing the requests in flight, then exiting",
                   signal == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (!(*server)->running()) {
      spdlog::error("serve: the listener stopped unexpectedly");
      exit_code = 1;
      break;
    }
  }
  (*server)->Stop();
  if (!config.port_file.empty()) {
    std::error_code ignored;
    std::filesystem::remove(config.port_file, ignored);
  }
  spdlog::info("serve: stopped");
  return exit_code;
}

}  // namespace

void RegisterServeCommand(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* command = app.add_subcommand(
      "serve", "Serve the HTTPS API (ARM Microsoft.AzureStack and /v1) over a store");
  command->footer(kConfigHelp);
  command->add_option("--config", args->config_file, "Configuration file (key = value lines)")
      ->type_name("FILE");
  // Each flag is kept as text and applied through the same setter as the file
  // and the environment, so all three layers validate alike.
  struct Flag {
    const char* name;
    const char* key;
    const char* type;
    const char* help;
  };
  static constexpr Flag kFlags[] = {
      {"--db,--database", "db", "FILE|URL",
       "The store created by 'stackbill init': a SQLite file, or a PostgreSQL database "
       "(postgresql://user@host:port/dbname; several serve nodes may share one)"},
      {"--bind", "bind", "ADDRESS", "Address to listen on (default 127.0.0.1)"},
      {"--port", "port", "PORT", "TCP port (default 8443; 0 picks a free one)"},
      {"--port-file", "port-file", "FILE", "Write the bound port to this file once listening"},
      {"--tls-cert", "tls-cert", "FILE", "PEM certificate (chain); see 'stackbill dev-cert'"},
      {"--tls-key", "tls-key", "FILE", "PEM private key of the certificate"},
      {"--public-url", "public-url", "URL",
       "Public base URL for nextLink/Location (default https://BIND:PORT)"},
      {"--max-body-bytes", "max-body-bytes", "BYTES",
       "Larger request bodies get 413 (default 4194304)"},
      {"--threads", "threads", "N", "Worker threads (default 8)"},
      {"--page-size", "page-size", "N", "Items per page of lists before a nextLink (default 100)"},
      {"--max-body-bytes-in-flight", "max-body-bytes-in-flight", "BYTES",
       "Request bytes received at once; beyond it 429 with Retry-After (default 536870912)"},
      {"--max-usage-body-bytes", "max-usage-body-bytes", "BYTES",
       "Largest usage request body (default 67108864)"},
      {"--max-usage-records", "max-usage-records", "N",
       "Records per usage request; more is 413 (default 100000)"},
      {"--usage-future-skew", "usage-future-skew", "SECONDS",
       "How far usageEndTime may lie in the future (default 3600)"},
      {"--usage-max-age-days", "usage-max-age-days", "DAYS",
       "Oldest usage accepted, the dedupe retention (default 400)"},
      {"--quarantine-quota", "quarantine-quota", "N",
       "Pending quarantined records per stack before 429 (default 100000)"},
      {"--reroute-interval", "reroute-interval", "SECONDS",
       "Seconds between re-route passes after history changes (default 2)"},
      {"--auto-close", "auto-close", "on|off",
       "Close billing periods by themselves after the grace (default on)"},
      {"--auto-close-grace", "auto-close-grace", "HOURS",
       "Hours after a month's end (UTC) before it closes by itself (default 72)"},
      {"--durability", "durability", "normal|full",
       "normal: an acknowledged record survives kill -9 of serve (R10); full: power loss too, "
       "every commit fsynced (default normal)"},
      {"--portal-dir", "portal-dir", "DIR",
       "The web portal's files, served at /portal/ (default: ../share/stackbill/portal next "
       "to the binary, else the build's)"},
  };
  auto values = std::make_shared<std::vector<std::string>>(std::size(kFlags));
  std::vector<CLI::Option*> options;
  for (std::size_t i = 0; i < std::size(kFlags); ++i) {
    options.push_back(command->add_option(kFlags[i].name, (*values)[i], kFlags[i].help)
                          ->type_name(kFlags[i].type));
  }
  CLI::Option* insecure =
      command->add_flag("--insecure-http", args->insecure_http,
                        "Serve plain HTTP instead of TLS (only on a loopback address)");
  insecure->excludes(options[4])->excludes(options[5]);
  command->callback([args, values, options, insecure, &exit_code] {
    std::vector<std::pair<std::string, std::string>> flags;
    for (std::size_t i = 0; i < std::size(kFlags); ++i) {
      if (options[i]->count() > 0) flags.emplace_back(kFlags[i].key, (*values)[i]);
    }
    if (insecure->count() > 0) flags.emplace_back("insecure-http", "true");
    exit_code = Serve(*args, flags);
  });
}

}  // namespace stackbill
