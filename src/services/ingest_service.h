#pragma once

// IngestService: the use cases of SPEC §4 over the store — usage ingestion
// (parse → validate → route → dedupe → durable), the quarantine and its
// replay, custom meters, a PlatformAdmin's supersede of a stored record, and
// the re-routing of stored usage after a change of the effective-dated
// history (R7, R10–R13).
//
// The hot path: one request's body is parsed by a per-thread simdjson parser,
// every record is validated (core/usage_validation.h) and routed
// (core/routing.h) against a cached history snapshot, and the request joins a
// group commit — the requests that arrive while a transaction is being
// written share the next one (GroupCommitter). The write succeeds only if the
// history version is still the one the records were routed with; otherwise
// the snapshot is reloaded and the request is routed again (R13: routing never
// depends on which node or which moment handled the request). A request is
// answered only after its transaction committed (R10).
//
// Thread-safe. Several IngestServices (processes, nodes) may share a store.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/access.h"
#include "core/entities.h"
#include "core/history.h"
#include "core/usage_validation.h"
#include "services/history_cache.h"
#include "store/store.h"

namespace stackbill {

struct IngestOptions {
  UsageValidationOptions validation = {};
  // Records per request (SPEC §4: 100,000); more is 413 TooManyRecords.
  std::size_t max_records_per_request = 100000;
  // Entries of `errors` in a response; the rest are only counted.
  std::size_t max_errors = 1000;
  // Pending quarantine entries per stack; a request that would exceed it is
  // refused whole (429 QuarantineQuotaExceeded) and nothing of it is stored.
  std::int64_t quarantine_quota_per_stack = 100000;
  // How long a checked history snapshot is used before its version is read
  // again (the "briefly cached" live registration of SPEC §3). The commit
  // checks the version anyway, so this bounds only how soon a DELETE or a
  // usage-reporting change refuses whole requests.
  std::int64_t history_check_interval_ms = 1000;
  // Requests merged into one transaction at most (group commit).
  std::size_t max_group_records = 200000;
  // Group transactions written at once; 0: as many as the store writes side
  // by side (UsageStore::IngestGroupsAtOnce).
  int groups_at_once = 0;
};

struct IngestError {
  std::size_t index = 0;  // the record's position in the body
  std::string id;         // its `id`, if it had one
  std::string code;       // the quarantine code
  std::string message;
};

// The response body of SPEC §4.
struct IngestSummary {
  std::int64_t accepted = 0;
  std::int64_t duplicates = 0;
  std::int64_t quarantined = 0;
  std::vector<IngestError> errors;  // at most IngestOptions::max_errors
  std::int64_t errors_not_shown = 0;
};

struct ReplayRequest {
  // Entries to replay: these ids, or every pending entry matching `filter`
  // (at most `limit`).
  std::vector<std::int64_t> ids;
  QuarantineFilter filter;
  std::size_t limit = 10000;
};

struct ReplayResult {
  std::int64_t replayed = 0;  // accepted now, or duplicates of stored records
  std::int64_t accepted = 0;  // of which newly accepted
  std::int64_t still_failing = 0;
  std::vector<IngestError> errors;  // index: the quarantine entry id
};

// A PlatformAdmin's supersede (R11): `record_text` is a usage record in the
// ingest format (one NDJSON line) whose identity names the stored record.
struct SupersedeRequest {
  Guid cloud_id;
  std::string record_text;
  std::string reason;
};

struct SupersedeResult {
  UsageRecord before;
  UsageRecord after;
};

// The outcome of one re-route pass.
struct RerouteResult {
  std::int64_t markers = 0;     // pending changes handled
  std::int64_t examined = 0;    // stored records looked at
  std::int64_t rerouted = 0;    // records whose routing changed
  std::int64_t unroutable = 0;  // records the new history no longer routes (kept as they were)
};

class IngestService {
 public:
  // `store` must outlive this.
  IngestService(Store& store, IngestOptions options);
  ~IngestService();
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  // POST /v1/stacks/{cloudId}/usage. The caller must be the stack identity of
  // `cloud_id` (403 AuthorizationFailed otherwise); its live registration must
  // report usage (403 UsageReportingDisabled). `content_type` picks NDJSON or
  // a usage page (415 UnsupportedMediaType otherwise; empty: NDJSON).
  // InvalidArgument / InvalidJson (400) for a page that does not parse;
  // ResourceExhausted / TooManyRecords for too many records (413) and
  // QuarantineQuotaExceeded (429); Unavailable when the store stays busy.
  // On OK every accepted and quarantined record is durable.
  absl::StatusOr<IngestSummary> Ingest(const Caller& caller, const Guid& cloud_id,
                                       std::string_view content_type, std::string_view body,
                                       Timestamp now);

  // GET /v1/quarantine: entries the caller may see (CheckQuarantineAccess of
  // each stack's registration; PlatformAdmins see all). A filter naming a
  // stack the caller may not see is 404 StackNotFound.
  absl::StatusOr<Page<QuarantineEntry>> ListQuarantine(const Caller& caller,
                                                       QuarantineFilter filter,
                                                       const PageRequest& page, Timestamp now);

  // GET /v1/usage/totals: the stored usage per (billed subscription, meter),
  // counted and summed exactly — what an operator compares with a stack's or
  // the simulator's own totals. PlatformAdmin only (403 AuthorizationFailed):
  // the per-subscription view with SPEC §6's visibility rules is /v1/usage.
  absl::StatusOr<std::vector<UsageTotal>> UsageTotals(const Caller& caller, UsageFilter filter);

  // POST /v1/quarantine/replay: runs the entries through the same validation,
  // routing and dedupe as Ingest, as of `now`. Entries now accepted (or
  // duplicates of stored records) are marked replayed in the same
  // transaction; the others stay pending, unchanged. PlatformAdmins, or the
  // stack's registration owners and partners over them (entries of stacks the
  // caller may not see are skipped when selected by filter, 404 when named).
  absl::StatusOr<ReplayResult> Replay(const Caller& caller, const ReplayRequest& request,
                                      Timestamp now);

  // POST /v1/meters (PlatformAdmin): a custom meter; AlreadyExists /
  // MeterAlreadyExists for a known id. Audited.
  absl::StatusOr<Meter> CreateMeter(const Caller& caller, const Meter& meter, Timestamp now);

  // R11 supersede (PlatformAdmin): validates the replacement like an ingested
  // record (its quarantine code as the error otherwise), routes it, and
  // replaces the stored record with the same identity (404 UsageNotFound if
  // none). Audited with before and after.
  absl::StatusOr<SupersedeResult> Supersede(const Caller& caller, const SupersedeRequest& request,
                                            Timestamp now);

  // Handles the pending re-route markers (store.h RerouteMarker): every
  // stored record they cover in an open billing period is routed again with
  // the current history, and those whose routing changed get it with
  // reported time `now` (SPEC §4), audited per marker. Safe to call from
  // several nodes at once (the updates are idempotent).
  absl::StatusOr<RerouteResult> ProcessReroutes(Timestamp now);

  // The snapshot the service routes with, reloaded when stale (for tests).
  absl::StatusOr<std::int64_t> HistoryVersionForTest();

 private:
  struct Prepared;
  class GroupCommitter;

  absl::StatusOr<std::shared_ptr<const HistorySnapshot>> CurrentSnapshot(bool force);
  bool MeterKnown(const Guid& meter_id);
  // Validates and routes `prepared.parsed` against `snapshot` (SPEC §4's
  // order) into records to write and quarantine entries.
  void Prepare(const Guid& cloud_id, const HistorySnapshot& snapshot, Timestamp now,
               Prepared& prepared);
  // Prepares and writes, routing again with a fresh snapshot when the history
  // changed under the write (R13). `replay_of`: see IngestWrite.
  absl::StatusOr<IngestWriteResult> PrepareAndCommit(const Guid& cloud_id, Timestamp now,
                                                     bool quarantine_failures,
                                                     std::span<const std::int64_t> replay_of,
                                                     Prepared& prepared);
  absl::Status CheckQuarantineQuota(const Guid& cloud_id, std::size_t adding);
  absl::StatusOr<std::vector<Guid>> VisibleStacks(const Caller& caller, const HistoryView& view,
                                                  Timestamp now, AccessKind kind);

  Store& store_;
  IngestOptions options_;
  std::unique_ptr<GroupCommitter> committer_;

  HistoryCache history_;

  std::mutex meters_mu_;
  absl::flat_hash_set<Guid> meters_;  // guarded by meters_mu_
  // Meters looked up and not found, and when: looked up again after
  // history_check_interval_ms (a meter added on another node).
  absl::flat_hash_map<Guid, std::chrono::steady_clock::time_point> unknown_meters_;
  bool meters_loaded_ = false;  // guarded by meters_mu_

  std::mutex reroute_mu_;  // one re-route pass at a time in this process
};

}  // namespace stackbill
