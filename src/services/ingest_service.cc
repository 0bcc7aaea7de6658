#include "services/ingest_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>

#include "core/error.h"
#include "core/routing.h"
#include "core/status_macros.h"
#include "services/audit.h"
#include "services/usage_keys.h"
#include "wire/usage_parser.h"

namespace stackbill {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxHistoryRetries = 5;
constexpr std::string_view kHistoryChanged = "HistoryChanged";

// The parser of this thread: simdjson's parsers keep their buffers, so a
// server thread parses every request without allocating once warm.
UsageBodyParser& ThreadParser() {
  thread_local UsageBodyParser parser;
  return parser;
}

bool IsHistoryChanged(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) && ErrorCode(status) == kHistoryChanged;
}

nlohmann::json RoutingJson(const Routing& routing) {
  return {{"billedSubscriptionId", routing.billed_subscription_id.ToString()},
          {"billTo", routing.bill_to.ToString()},
          {"reason", ToString(routing.reason)}};
}

nlohmann::json UsageJson(const UsageRecord& r) {
  return {{"cloudId", r.cloud_id.ToString()},
          {"id", r.record_id},
          {"tenantId", r.tenant_id.ToString()},
          {"subscriptionId", r.local_subscription_id.ToString()},
          {"meterId", r.meter_id.ToString()},
          {"quantity", r.quantity.ToString()},
          {"usageStartTime", r.usage_start.ToString()},
          {"usageEndTime", r.usage_end.ToString()},
          {"resourceUri", r.resource_uri},
          {"routing", RoutingJson(r.routing)},
          {"reportedTime", r.reported_time.ToString()}};
}

// The latest version of each stack's registration, deleted ones included:
// whoever could see a stack's quarantine keeps seeing it after a DELETE.
const Registration* LatestRegistration(const HistoryView& view, const Guid& cloud_id) {
  const auto versions = view.RegistrationVersions(cloud_id);
  return versions.empty() ? nullptr : versions.back();
}

}  // namespace

// ---------------------------------------------------------------------------

// One request's records on their way to the store.
struct IngestService::Prepared {
  std::vector<ParsedUsageRecord> parsed;
  // Output of Prepare, rebuilt on every attempt.
  std::vector<UsageRecord> records;
  std::vector<std::string_view> raw_texts;  // parallel to records
  std::vector<std::size_t> record_index;    // parallel to records: index into parsed
  std::vector<QuarantineEntry> quarantine;
  std::vector<std::size_t> quarantine_index;  // parallel to quarantine
  std::int64_t history_version = 0;

  void Clear() {
    records.clear();
    raw_texts.clear();
    record_index.clear();
    quarantine.clear();
    quarantine_index.clear();
  }
};

// Group commit (R10 at speed): the requests that arrive while a transaction
// is being written wait and share the next. A waiting request leads when
// fewer than max_leaders groups are being written (UsageStore::
// IngestGroupsAtOnce: one on SQLite): it takes the queue's head group —
// consecutive requests routed with the same history version, up to
// max_group_records — writes it in one transaction, hands each request its
// result, and leads again only while its own request is still waiting.
class IngestService::GroupCommitter {
 public:
  GroupCommitter(UsageStore& usage, std::size_t max_group_records, int max_leaders)
      : usage_(usage), max_group_records_(max_group_records), max_leaders_(max_leaders) {}

  absl::StatusOr<IngestWriteResult> Submit(const IngestWrite& write) {
    Slot slot{&write};
    std::unique_lock lock(mu_);
    queue_.push_back(&slot);
    while (!slot.done) {
      // Leading needs a group to take: the own slot may already be in one.
      if (leaders_ < max_leaders_ && !queue_.empty()) {
        ++leaders_;
        LeadOnce(lock);
        --leaders_;
        cv_.notify_all();
      } else {
        cv_.wait(lock);
      }
    }
    return std::move(slot.result);
  }

 private:
  struct Slot {
    const IngestWrite* write;
    absl::StatusOr<IngestWriteResult> result = absl::UnknownError("not written");
    bool done = false;
  };

  // REQUIRES: lock held, queue_ non-empty; returns with the lock held.
  void LeadOnce(std::unique_lock<std::mutex>& lock) {
    std::vector<Slot*> group;
    std::size_t total = 0;
    const std::optional<std::int64_t> version = queue_.front()->write->history_version;
    while (!queue_.empty()) {
      Slot* next = queue_.front();
      const std::size_t size = next->write->records.size() + next->write->quarantine.size();
      if (next->write->history_version != version) break;
      if (!group.empty() && total + size > max_group_records_) break;
      group.push_back(next);
      total += size;
      queue_.erase(queue_.begin());
    }
    lock.unlock();
    Write(group);
    lock.lock();
    for (Slot* s : group) s->done = true;
  }

  // One transaction for the group (UsageStore::WriteIngestGroup), each
  // request's write as it prepared it.
  void Write(std::span<Slot* const> group) {
    std::vector<const IngestWrite*> writes;
    writes.reserve(group.size());
    for (const Slot* s : group) writes.push_back(s->write);
    absl::StatusOr<std::vector<IngestWriteResult>> results = usage_.WriteIngestGroup(writes);
    for (std::size_t i = 0; i < group.size(); ++i) {
      group[i]->result = results.ok() ? absl::StatusOr<IngestWriteResult>(std::move((*results)[i]))
                                      : absl::StatusOr<IngestWriteResult>(results.status());
    }
  }

  UsageStore& usage_;
  const std::size_t max_group_records_;
  std::mutex mu_;
  std::condition_variable cv_;
  const int max_leaders_;
  std::vector<Slot*> queue_;  // guarded by mu_
  int leaders_ = 0;           // groups being written; guarded by mu_
};

// ---------------------------------------------------------------------------

IngestService::IngestService(Store& store, IngestOptions options)
    : store_(store),
      options_(options),
      committer_(std::make_unique<GroupCommitter>(store.usage(), options_.max_group_records,
                                                  options_.groups_at_once > 0
                                                      ? options_.groups_at_once
                                                      : store.usage().IngestGroupsAtOnce())),
      history_(store, std::chrono::milliseconds(options_.history_check_interval_ms)) {}

IngestService::~IngestService() = default;

absl::StatusOr<std::shared_ptr<const HistorySnapshot>> IngestService::CurrentSnapshot(bool force) {
  return history_.Current(force);
}

absl::StatusOr<std::int64_t> IngestService::HistoryVersionForTest() {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             CurrentSnapshot(false));
  return snapshot->history.version;
}

bool IngestService::MeterKnown(const Guid& meter_id) {
  std::lock_guard lock(meters_mu_);
  if (!meters_loaded_) {
    absl::StatusOr<std::vector<Meter>> meters = store_.meters().ListMeters();
    if (meters.ok()) {
      for (const Meter& m : *meters) meters_.insert(m.meter_id);
      meters_loaded_ = true;
    }
  }
  if (meters_.contains(meter_id)) return true;
  // A meter added since (by a PlatformAdmin, maybe on another node): looked up
  // at most once per interval, so a flood of unknown meters costs no queries.
  const Clock::time_point now = Clock::now();
  const auto unknown = unknown_meters_.find(meter_id);
  if (unknown != unknown_meters_.end() &&
      now - unknown->second < std::chrono::milliseconds(options_.history_check_interval_ms)) {
    return false;
  }
  absl::StatusOr<Meter> meter = store_.meters().GetMeter(meter_id);
  if (meter.ok()) {
    meters_.insert(meter_id);
    unknown_meters_.erase(meter_id);
    return true;
  }
  unknown_meters_[meter_id] = now;
  return false;
}

void IngestService::Prepare(const Guid& cloud_id, const HistorySnapshot& snapshot, Timestamp now,
                            Prepared& prepared) {
  prepared.Clear();
  prepared.history_version = snapshot.history.version;
  prepared.records.reserve(prepared.parsed.size());
  prepared.raw_texts.reserve(prepared.parsed.size());
  prepared.record_index.reserve(prepared.parsed.size());
  const stackbill::MeterKnown meter_known = [this](const Guid& id) { return MeterKnown(id); };
  const HistoryView& view = snapshot.view;

  for (std::size_t i = 0; i < prepared.parsed.size(); ++i) {
    const ParsedUsageRecord& parsed = prepared.parsed[i];
    auto quarantine = [&](std::string_view code, std::string_view message) {
      QuarantineEntry& entry = prepared.quarantine.emplace_back();
      entry.cloud_id = cloud_id;
      entry.received_at = now;
      entry.code = std::string(code);
      entry.message = std::string(message);
      entry.raw_text = std::string(parsed.raw);
      if (parsed.malformed.empty() && parsed.fields.record_id) {
        entry.record_id = std::string(*parsed.fields.record_id);
      }
      prepared.quarantine_index.push_back(i);
    };
    auto quarantine_status = [&](const absl::Status& status) {
      quarantine(ErrorCode(status), Message(status));
    };
    if (!parsed.malformed.empty()) {
      quarantine(usage_codes::kMalformedRecord, parsed.malformed);
      continue;
    }
    absl::StatusOr<ValidatedUsage> valid =
        ValidateUsageFields(parsed.fields, cloud_id, meter_known, now, options_.validation);
    if (!valid.ok()) {
      quarantine_status(valid.status());
      continue;
    }
    absl::StatusOr<Guid> tenant = ResolveTenant(view, cloud_id, valid->local_subscription_id,
                                                valid->tenant_id, valid->usage_start);
    if (!tenant.ok()) {
      quarantine_status(tenant.status());
      continue;
    }
    absl::StatusOr<Routing> routing = Route(view, cloud_id, *tenant, valid->usage_start);
    if (!routing.ok()) {
      quarantine_status(routing.status());
      continue;
    }
    UsageKeyFields keys;
    keys.record_id = valid->record_id;
    keys.tenant_id = *tenant;
    keys.local_subscription_id = valid->local_subscription_id;
    keys.meter_id = valid->meter_id;
    keys.quantity = valid->quantity;
    keys.usage_start = valid->usage_start;
    keys.usage_end = valid->usage_end;
    keys.resource_uri = parsed.fields.resource_uri;
    keys.instance_data = parsed.fields.instance_data;

    UsageRecord& record = prepared.records.emplace_back();
    record.cloud_id = cloud_id;
    record.identity = UsageIdentity(keys);
    record.content_hash = UsageContentHash(keys);
    record.record_id = std::move(valid->record_id);
    record.tenant_id = *tenant;
    record.local_subscription_id = valid->local_subscription_id;
    record.meter_id = valid->meter_id;
    record.quantity = valid->quantity;
    record.usage_start = valid->usage_start;
    record.usage_end = valid->usage_end;
    record.resource_uri = std::string(parsed.fields.resource_uri);
    record.instance_data = std::string(parsed.fields.instance_data);
    record.routing = *std::move(routing);
    record.reported_time = now;
    prepared.raw_texts.push_back(parsed.raw);
    prepared.record_index.push_back(i);
  }
}

absl::Status IngestService::CheckQuarantineQuota(const Guid& cloud_id, std::size_t adding) {
  if (adding == 0) return absl::OkStatus();
  QuarantineFilter pending;
  pending.cloud_id = cloud_id;
  STACKBILL_ASSIGN_OR_RETURN(const std::int64_t count,
                             store_.quarantine().CountQuarantine(pending));
  if (count + static_cast<std::int64_t>(adding) > options_.quarantine_quota_per_stack) {
    return MakeError(
        absl::StatusCode::kResourceExhausted, "QuarantineQuotaExceeded",
        fmt::format("the stack has {} quarantined records pending and this request would add {}, "
                    "over its quota of {}; fix the cause and replay (POST /v1/quarantine/replay) "
                    "before sending more",
                    count, adding, options_.quarantine_quota_per_stack));
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestWriteResult> IngestService::PrepareAndCommit(
    const Guid& cloud_id, Timestamp now, bool quarantine_failures,
    std::span<const std::int64_t> replay_of, Prepared& prepared) {
  bool force = false;
  std::vector<std::int64_t> record_replay_of;
  for (int attempt = 0;; ++attempt) {
    STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                               CurrentSnapshot(force));
    Prepare(cloud_id, *snapshot, now, prepared);
    if (quarantine_failures) {
      STACKBILL_RETURN_IF_ERROR(CheckQuarantineQuota(cloud_id, prepared.quarantine.size()));
    }
    IngestWrite write;
    write.records = prepared.records;
    write.raw_texts = prepared.raw_texts;
    if (!replay_of.empty()) {
      record_replay_of.clear();
      for (const std::size_t index : prepared.record_index) {
        record_replay_of.push_back(replay_of[index]);
      }
      write.replay_of = record_replay_of;
    }
    if (quarantine_failures) write.quarantine = prepared.quarantine;
    write.received_at = now;
    write.history_version = prepared.history_version;
    // The store's own preparation (e.g. summing the rollups) on this thread,
    // while another request's write holds the store's writer.
    const std::unique_ptr<PreparedIngest> store_prepared =
        store_.usage().PrepareIngest(write.records);
    write.prepared = store_prepared.get();
    absl::StatusOr<IngestWriteResult> result = committer_->Submit(write);
    if (!IsHistoryChanged(result.status()) || attempt + 1 >= kMaxHistoryRetries) {
      if (IsHistoryChanged(result.status())) {
        return MakeError(absl::StatusCode::kUnavailable, "HistoryChanging",
                         "the registrations changed during every attempt to route the request; "
                         "retry it");
      }
      return result;
    }
    force = true;  // the history moved on: route again with the new one (R13)
  }
}

absl::StatusOr<IngestSummary> IngestService::Ingest(const Caller& caller, const Guid& cloud_id,
                                                    std::string_view content_type,
                                                    std::string_view body, Timestamp now) {
  STACKBILL_RETURN_IF_ERROR(CheckStackIdentity(caller, cloud_id));
  UsageBodyFormat format = UsageBodyFormat::kNdjson;
  if (!content_type.empty()) {
    STACKBILL_ASSIGN_OR_RETURN(format, UsageBodyFormatFor(content_type));
  }
  {
    // R9: a stack whose live registration has usage reporting off may not
    // forward usage. The snapshot is at most history_check_interval_ms old.
    STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                               CurrentSnapshot(false));
    const Registration* live = snapshot->view.RegistrationAt(cloud_id, now);
    if (live != nullptr && !live->usage_reporting_enabled) {
      return PermissionDeniedError(
          "UsageReportingDisabled",
          fmt::format("usage reporting is off in the registration of stack {} ({}); it may not "
                      "forward usage",
                      cloud_id.ToString(), ToString(live->billing_model)));
    }
  }
  Prepared prepared;
  STACKBILL_ASSIGN_OR_RETURN(prepared.parsed, ThreadParser().Parse(body, format));
  if (prepared.parsed.size() > options_.max_records_per_request) {
    return MakeError(absl::StatusCode::kResourceExhausted, "TooManyRecords",
                     fmt::format("the request holds {} records; at most {} are accepted per "
                                 "request (SPEC §4): split the batch",
                                 prepared.parsed.size(), options_.max_records_per_request));
  }
  STACKBILL_ASSIGN_OR_RETURN(IngestWriteResult written,
                             PrepareAndCommit(cloud_id, now, true, {}, prepared));

  IngestSummary summary;
  std::vector<IngestError> errors;
  auto add_error = [&](std::size_t index, std::string code, std::string message) {
    const ParsedUsageRecord& parsed = prepared.parsed[index];
    IngestError& e = errors.emplace_back();
    e.index = index;
    if (parsed.malformed.empty() && parsed.fields.record_id) e.id = *parsed.fields.record_id;
    e.code = std::move(code);
    e.message = std::move(message);
  };
  for (std::size_t k = 0; k < prepared.records.size(); ++k) {
    switch (written.outcomes[k]) {
      case UsageOutcome::kAccepted:
        ++summary.accepted;
        break;
      case UsageOutcome::kDuplicate:
        ++summary.duplicates;
        break;
      case UsageOutcome::kConflictingDuplicate:
        ++summary.quarantined;
        add_error(prepared.record_index[k], std::string(usage_codes::kConflictingDuplicate),
                  "a record with this identity was accepted before with other content (a "
                  "PlatformAdmin may supersede it)");
        break;
    }
  }
  for (std::size_t k = 0; k < prepared.quarantine.size(); ++k) {
    ++summary.quarantined;
    add_error(prepared.quarantine_index[k], prepared.quarantine[k].code,
              prepared.quarantine[k].message);
  }
  std::sort(errors.begin(), errors.end(),
            [](const IngestError& a, const IngestError& b) { return a.index < b.index; });
  if (errors.size() > options_.max_errors) {
    summary.errors_not_shown = static_cast<std::int64_t>(errors.size() - options_.max_errors);
    errors.resize(options_.max_errors);
  }
  summary.errors = std::move(errors);
  return summary;
}

absl::StatusOr<std::vector<Guid>> IngestService::VisibleStacks(const Caller& caller,
                                                               const HistoryView& view,
                                                               Timestamp now, AccessKind kind) {
  std::vector<Guid> visible;
  for (const Stack& stack : view.history().stacks) {
    if (caller.stack_cloud_id) {
      if (*caller.stack_cloud_id == stack.cloud_id) visible.push_back(stack.cloud_id);
      continue;
    }
    const Registration* registration = LatestRegistration(view, stack.cloud_id);
    if (registration == nullptr) continue;
    const absl::Status access =
        kind == AccessKind::kRead
            ? CheckQuarantineAccess(caller, view, *registration, now)
            : CheckSubscriptionAccess(caller, view, registration->name.subscription_id,
                                      AccessKind::kWrite, now);
    if (access.ok()) visible.push_back(stack.cloud_id);
  }
  return visible;
}

absl::StatusOr<Page<QuarantineEntry>> IngestService::ListQuarantine(const Caller& caller,
                                                                    QuarantineFilter filter,
                                                                    const PageRequest& page,
                                                                    Timestamp now) {
  if (!IsPlatformAdmin(caller)) {
    STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                               CurrentSnapshot(false));
    STACKBILL_ASSIGN_OR_RETURN(std::vector<Guid> visible,
                               VisibleStacks(caller, snapshot->view, now, AccessKind::kRead));
    if (filter.cloud_id &&
        std::find(visible.begin(), visible.end(), *filter.cloud_id) == visible.end()) {
      return NotFoundError("StackNotFound", fmt::format("no stack {} is visible to the caller",
                                                        filter.cloud_id->ToString()));
    }
    filter.cloud_ids = std::move(visible);
  }
  return store_.quarantine().ListQuarantine(filter, page);
}

absl::StatusOr<std::vector<UsageTotal>> IngestService::UsageTotals(const Caller& caller,
                                                                   UsageFilter filter) {
  if (!IsPlatformAdmin(caller)) {
    return PermissionDeniedError("AuthorizationFailed",
                                 "usage totals across subscriptions need a PlatformAdmin");
  }
  return store_.usage().SumUsage(filter);
}

absl::StatusOr<ReplayResult> IngestService::Replay(const Caller& caller,
                                                   const ReplayRequest& request, Timestamp now) {
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             CurrentSnapshot(true));
  std::optional<std::vector<Guid>> visible;
  if (!IsPlatformAdmin(caller)) {
    STACKBILL_ASSIGN_OR_RETURN(visible,
                               VisibleStacks(caller, snapshot->view, now, AccessKind::kWrite));
  }
  auto may_replay = [&](const Guid& cloud) {
    return !visible || std::find(visible->begin(), visible->end(), cloud) != visible->end();
  };
  // A stack the caller may read but not change (a Reader): 403; one it may
  // not see at all: 404, like every other resource it cannot see.
  auto refuse = [&](const Guid& cloud, absl::Status not_found) -> absl::Status {
    absl::StatusOr<std::vector<Guid>> readable =
        VisibleStacks(caller, snapshot->view, now, AccessKind::kRead);
    if (readable.ok() && std::find(readable->begin(), readable->end(), cloud) != readable->end()) {
      return PermissionDeniedError("AuthorizationFailed",
                                   "replaying quarantined usage needs write access to the stack's "
                                   "default subscription");
    }
    return not_found;
  };

  // The pending entries to replay, oldest first.
  std::vector<QuarantineEntry> entries;
  if (!request.ids.empty()) {
    if (request.ids.size() > request.limit) {
      return InvalidArgumentError("TooManyEntries",
                                  fmt::format("at most {} entries per replay", request.limit));
    }
    for (const std::int64_t id : request.ids) {
      absl::StatusOr<QuarantineEntry> entry = store_.quarantine().GetQuarantine(id);
      const absl::Status not_found =
          NotFoundError("QuarantineEntryNotFound",
                        fmt::format("no quarantine entry {} is visible to the caller", id));
      if (!entry.ok()) return not_found;
      if (!may_replay(entry->cloud_id)) return refuse(entry->cloud_id, not_found);
      if (!entry->replayed_at) entries.push_back(*std::move(entry));
    }
  } else {
    QuarantineFilter filter = request.filter;
    filter.include_replayed = false;
    if (visible) {
      if (filter.cloud_id && !may_replay(*filter.cloud_id)) {
        return refuse(
            *filter.cloud_id,
            NotFoundError("StackNotFound", fmt::format("no stack {} is visible to the caller",
                                                       filter.cloud_id->ToString())));
      }
      filter.cloud_ids = *visible;
    }
    PageRequest page{.cursor = "", .limit = kMaxPageSize};
    while (entries.size() < request.limit) {
      page.limit = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(kMaxPageSize),
                                                          request.limit - entries.size()));
      STACKBILL_ASSIGN_OR_RETURN(Page<QuarantineEntry> got,
                                 store_.quarantine().ListQuarantine(filter, page));
      for (QuarantineEntry& e : got.items) entries.push_back(std::move(e));
      if (got.next_cursor.empty()) break;
      page.cursor = got.next_cursor;
    }
  }
  // By stack, oldest first within each: the entries' raw texts go through
  // the same parse, validation, routing and dedupe as an ingest request (the
  // raw text of every entry is one record in the NDJSON format).
  std::sort(entries.begin(), entries.end(), [](const QuarantineEntry& a, const QuarantineEntry& b) {
    return std::tie(a.cloud_id, a.id) < std::tie(b.cloud_id, b.id);
  });
  const std::vector<QuarantineEntry>& by_cloud = entries;

  ReplayResult result;
  std::size_t begin = 0;
  while (begin < by_cloud.size()) {
    std::size_t end = begin;
    while (end < by_cloud.size() && by_cloud[end].cloud_id == by_cloud[begin].cloud_id) ++end;
    const Guid cloud = by_cloud[begin].cloud_id;
    // The stack's entries as one NDJSON body, one line each, parsed at once
    // (the parsed views stay valid together); a text that spans lines or is
    // blank stays one (malformed) record.
    Prepared prepared;
    std::vector<std::int64_t> replay_of;
    std::string body;
    for (std::size_t i = begin; i < end; ++i) {
      std::string line = by_cloud[i].raw_text;
      std::replace(line.begin(), line.end(), '\n', ' ');
      std::replace(line.begin(), line.end(), '\r', ' ');
      if (line.find_first_not_of(" \t") == std::string::npos) line = "\"\"";
      body += line;
      body += '\n';
      replay_of.push_back(by_cloud[i].id);
    }
    UsageBodyParser& parser = ThreadParser();
    STACKBILL_ASSIGN_OR_RETURN(prepared.parsed, parser.Parse(body, UsageBodyFormat::kNdjson));
    if (prepared.parsed.size() != end - begin) {
      return absl::InternalError("replay: the quarantined texts did not parse one per line");
    }
    STACKBILL_ASSIGN_OR_RETURN(IngestWriteResult written,
                               PrepareAndCommit(cloud, now, false, replay_of, prepared));
    for (std::size_t k = 0; k < prepared.records.size(); ++k) {
      const QuarantineEntry& entry = by_cloud[begin + prepared.record_index[k]];
      switch (written.outcomes[k]) {
        case UsageOutcome::kAccepted:
          ++result.accepted;
          ++result.replayed;
          break;
        case UsageOutcome::kDuplicate:
          ++result.replayed;
          break;
        case UsageOutcome::kConflictingDuplicate:
          ++result.still_failing;
          result.errors.push_back({static_cast<std::size_t>(entry.id), entry.record_id,
                                   std::string(usage_codes::kConflictingDuplicate),
                                   "a record with this identity is stored with other content"});
          break;
      }
    }
    for (std::size_t k = 0; k < prepared.quarantine.size(); ++k) {
      const QuarantineEntry& entry = by_cloud[begin + prepared.quarantine_index[k]];
      ++result.still_failing;
      result.errors.push_back({static_cast<std::size_t>(entry.id), entry.record_id,
                               prepared.quarantine[k].code, prepared.quarantine[k].message});
    }
    begin = end;
  }
  std::sort(result.errors.begin(), result.errors.end(),
            [](const IngestError& a, const IngestError& b) { return a.index < b.index; });
  if (!entries.empty()) {
    STACKBILL_RETURN_IF_ERROR(
        WriteAudit(store_, caller, now,
                   AuditRecord{.action = "quarantine.replay",
                               .resource = "/v1/quarantine",
                               .partner_id = std::nullopt,
                               .before = nullptr,
                               .after = {{"entries", entries.size()},
                                         {"replayed", result.replayed},
                                         {"accepted", result.accepted},
                                         {"stillFailing", result.still_failing}}}));
  }
  return result;
}

absl::StatusOr<Meter> IngestService::CreateMeter(const Caller& caller, const Meter& meter,
                                                 Timestamp now) {
  STACKBILL_RETURN_IF_ERROR(CheckPlatformAdmin(caller));
  if (meter.meter_id.IsNil()) return InvalidArgumentError("InvalidMeter", "meterId is required");
  if (meter.name.empty() || meter.unit.empty()) {
    return InvalidArgumentError("InvalidMeter", "a meter needs a name and a unit");
  }
  Meter custom = meter;
  custom.custom = true;
  if (absl::Status created = store_.meters().CreateMeter(custom); !created.ok()) {
    if (absl::IsAlreadyExists(created)) {
      return AlreadyExistsError("MeterAlreadyExists",
                                fmt::format("meter {} exists", meter.meter_id.ToString()));
    }
    return created;
  }
  {
    std::lock_guard lock(meters_mu_);
    meters_.insert(custom.meter_id);
    unknown_meters_.erase(custom.meter_id);
  }
  STACKBILL_RETURN_IF_ERROR(
      WriteAudit(store_, caller, now,
                 AuditRecord{.action = "meter.create",
                             .resource = "/v1/meters/" + custom.meter_id.ToString(),
                             .partner_id = std::nullopt,
                             .before = nullptr,
                             .after = {{"meterId", custom.meter_id.ToString()},
                                       {"name", custom.name},
                                       {"category", custom.category},
                                       {"unit", custom.unit}}}));
  return custom;
}

absl::StatusOr<SupersedeResult> IngestService::Supersede(const Caller& caller,
                                                         const SupersedeRequest& request,
                                                         Timestamp now) {
  STACKBILL_RETURN_IF_ERROR(CheckPlatformAdmin(caller));
  if (request.reason.empty()) {
    return InvalidArgumentError("ReasonRequired", "a supersede needs a reason (it is audited)");
  }
  std::string line = request.record_text;
  std::replace(line.begin(), line.end(), '\n', ' ');
  Prepared prepared;
  STACKBILL_ASSIGN_OR_RETURN(prepared.parsed, ThreadParser().Parse(line, UsageBodyFormat::kNdjson));
  if (prepared.parsed.size() != 1) {
    return InvalidArgumentError("MalformedRecord", "the replacement must be exactly one record");
  }
  STACKBILL_ASSIGN_OR_RETURN(std::shared_ptr<const HistorySnapshot> snapshot,
                             CurrentSnapshot(true));
  Prepare(request.cloud_id, *snapshot, now, prepared);
  if (!prepared.quarantine.empty()) {
    const QuarantineEntry& failure = prepared.quarantine.front();
    return InvalidArgumentError(failure.code, failure.message);
  }
  const UsageRecord& replacement = prepared.records.front();
  STACKBILL_ASSIGN_OR_RETURN(UsageRecord stored,
                             store_.usage().GetUsage(request.cloud_id, replacement.identity));
  if (stored.content_hash == replacement.content_hash) {
    // Already this content (a supersede run twice): nothing changes, nothing
    // is recorded twice.
    return SupersedeResult{stored, stored};
  }
  UsageSupersession supersession;
  supersession.cloud_id = request.cloud_id;
  supersession.identity = replacement.identity;
  supersession.at = now;
  supersession.actor_principal_id = caller.principal_id;
  supersession.reason = request.reason;
  supersession.old_meter_id = stored.meter_id;
  supersession.old_quantity = stored.quantity;
  supersession.old_usage_start = stored.usage_start;
  supersession.old_billed_subscription_id = stored.routing.billed_subscription_id;
  supersession.old_content_hash = stored.content_hash;
  supersession.new_quantity = replacement.quantity;
  STACKBILL_ASSIGN_OR_RETURN(UsageRecord before,
                             store_.usage().SupersedeUsage(replacement, supersession));
  STACKBILL_RETURN_IF_ERROR(WriteAudit(
      store_, caller, now,
      AuditRecord{.action = "usage.supersede",
                  .resource = fmt::format("/v1/stacks/{}/usage", request.cloud_id.ToString()),
                  .partner_id = before.routing.bill_to.kind == BillTo::Kind::kPartner
                                    ? std::optional<PartnerId>(before.routing.bill_to.partner_id)
                                    : std::nullopt,
                  .before = UsageJson(before),
                  .after = {{"record", UsageJson(replacement)}, {"reason", request.reason}}}));
  return SupersedeResult{std::move(before), replacement};
}

absl::StatusOr<RerouteResult> IngestService::ProcessReroutes(Timestamp now) {
  std::lock_guard pass(reroute_mu_);
  RerouteResult result;
  STACKBILL_ASSIGN_OR_RETURN(std::vector<RerouteMarker> markers,
                             store_.usage().ListRerouteMarkers());
  if (markers.empty()) return result;
  // The history as of now, at least as new as every marker just read; read
  // at the first record to route (a change that leaves no stored usage to
  // re-route, as when a world is set up, costs no whole-history read).
  std::shared_ptr<const HistorySnapshot> snapshot;
  // Only open periods are re-routed: a closed one is immutable (R12).
  STACKBILL_ASSIGN_OR_RETURN(std::vector<BillingPeriodRecord> closed,
                             store_.billing().ListClosedBillingPeriods());
  std::optional<Timestamp> open_from;
  if (!closed.empty()) open_from = closed.back().period.Next().Start();

  std::vector<std::int64_t> done;
  for (const RerouteMarker& marker : markers) {
    ++result.markers;
    UsageFilter filter;
    filter.cloud_id = marker.cloud_id;
    filter.usage_start_from = open_from ? std::max(marker.from, *open_from) : marker.from;
    PageRequest page{.cursor = "", .limit = kMaxPageSize};
    std::int64_t rerouted = 0;
    while (true) {
      STACKBILL_ASSIGN_OR_RETURN(Page<UsageRecord> got, store_.usage().ListUsage(filter, page));
      std::vector<RoutingUpdate> updates;
      if (!got.items.empty() && snapshot == nullptr) {
        STACKBILL_ASSIGN_OR_RETURN(snapshot, CurrentSnapshot(true));
      }
      for (const UsageRecord& record : got.items) {
        ++result.examined;
        absl::StatusOr<Routing> routing =
            Route(snapshot->view, record.cloud_id, record.tenant_id, record.usage_start);
        if (!routing.ok()) {
          // The new history routes it nowhere (e.g. its registration was
          // deleted): it keeps the routing it was accepted with.
          ++result.unroutable;
          continue;
        }
        if (*routing == record.routing) continue;
        updates.push_back({record.cloud_id, record.identity, *std::move(routing), now});
      }
      STACKBILL_RETURN_IF_ERROR(store_.usage().UpdateRouting(updates));
      rerouted += static_cast<std::int64_t>(updates.size());
      if (got.next_cursor.empty()) break;
      page.cursor = got.next_cursor;
    }
    result.rerouted += rerouted;
    if (rerouted > 0) {
      Caller system;  // the re-route is stackbill's own act, caused by the audited change
      STACKBILL_RETURN_IF_ERROR(WriteAudit(
          store_, system, now,
          AuditRecord{.action = "usage.reroute",
                      .resource = marker.cloud_id ? fmt::format("/v1/stacks/{}/usage",
                                                                marker.cloud_id->ToString())
                                                  : std::string("/v1/usage"),
                      .partner_id = std::nullopt,
                      .before = nullptr,
                      .after = {{"usageStartFrom", filter.usage_start_from->ToString()},
                                {"historyVersion", snapshot->history.version},
                                {"rerouted", rerouted}}}));
    }
    done.push_back(marker.id);
  }
  STACKBILL_RETURN_IF_ERROR(store_.usage().DeleteRerouteMarkers(done));
  return result;
}

}  // namespace stackbill
