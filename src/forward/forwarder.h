#pragma once

// Forwarder: `stackbill forward`, the stack side of usage ingestion (SPEC
// §4.1). It takes usage from an inbox folder — files written elsewhere and
// renamed in: NDJSON (any name but *.json) or Azure usage pages (*.json);
// hidden files, *.tmp, folders and symlinks are left alone — and/or from
// stdin, fills in tenantId from a local-subscription → tenant map, keeps
// everything in a durable spool (forward/spool.h) and sends it in batches to
// POST /v1/stacks/{cloudId}/usage.
//
// Nothing lost, nothing counted twice (R10, R11): an inbox file is removed
// only once its records are spooled; a spooled batch is removed only once a
// server answered 2xx for it; whatever was in flight when either side died is
// sent again after the restart, and the server counts it once. With several
// server URLs (serve nodes on one store, issue 9) the batches go to them in
// turn. Network errors, 5xx and 429 are retried with exponential backoff and
// full jitter (429/503 honour Retry-After), moving to the next server URL
// each time.
// 413 halves the batch. 401, 403 and other 4xx stop the forwarder with the
// server's error (the spool keeps the records for the next run).
//
// Records the server quarantined are written to <state>/rejected/<seq>.ndjson,
// one JSON object per record: {"code","message","index","record"} ("record"
// is the line as sent), before their batch leaves the spool. When the server
// capped the errors it listed, the tail of the batch is sent again until
// every reason is known (the server counts nothing twice).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/guid.h"

namespace stackbill {

struct ForwarderOptions {
  std::vector<std::string> servers;  // base URLs, used in turn, failing over
  std::string ca_file;               // PEM to trust for HTTPS; empty: system store
  Guid cloud_id;
  std::string activation_key;
  std::string state_dir;            // spool.db, rejected/
  std::string inbox;                // empty: no inbox
  int input_fd = -1;                // stdin source (a file descriptor), or -1
  std::map<Guid, Guid> tenant_map;  // local subscription → tenant
  std::size_t batch_records = 20000;
  std::size_t batch_bytes = std::size_t{16} << 20;
  bool once = false;        // exit once the sources are drained and the spool is empty
  bool spool_only = false;  // take the inbox (and stdin) into the spool, send nothing, exit
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds progress_interval{5000};
  int send_copies = 1;  // send every batch this many times (duplicate-storm tests)
  int read_timeout_seconds = 120;
};

// What a run did, for the progress line and the caller.
struct ForwarderCounts {
  std::int64_t spooled = 0;
  std::int64_t sent = 0;  // records in answered requests
  std::int64_t accepted = 0;
  std::int64_t duplicates = 0;
  std::int64_t quarantined = 0;
  std::int64_t retries = 0;
  std::int64_t backlog = 0;
};

using ProgressSink = std::function<void(const std::string& line)>;

// Runs until `stop` turns true (the spool and sources are left consistent),
// or, with `once`, until everything is sent. Returns the first fatal error.
absl::Status RunForwarder(const ForwarderOptions& options, const std::atomic<bool>& stop,
                          const ProgressSink& progress, ForwarderCounts* counts = nullptr);

// Parses a tenant map file: JSON {"<local subscription>": "<tenant>", …}.
absl::StatusOr<std::map<Guid, Guid>> ParseTenantMap(std::string_view text);

// tenantId spliced into an NDJSON record that lacks one and whose local
// subscription the map knows; `line` unchanged otherwise (kept exact).
std::string FillTenant(std::string_view line, const std::map<Guid, Guid>& tenant_map);

// How long to wait before retry `attempt` (0-based): full jitter over
// [0, min(max, initial × 2^attempt)], `unit` a uniform draw in [0, 1); and at
// least `retry_after` when the server gave one.
std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds initial,
                                  std::chrono::milliseconds max, double unit,
                                  std::chrono::milliseconds retry_after);

}  // namespace stackbill
