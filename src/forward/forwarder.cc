#include "forward/forwarder.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "core/error.h"
#include "core/status_macros.h"
#include "forward/spool.h"
#include "http/client.h"
#include "wire/usage_parser.h"

namespace stackbill {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool Blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string Splice(std::string_view record, Guid tenant) {
  const std::size_t brace = record.find('{');
  std::string out;
  out.reserve(record.size() + 52);
  out.append(record.substr(0, brace + 1));
  out.append(fmt::format(R"("tenantId":"{}",)", tenant.ToString()));
  out.append(record.substr(brace + 1));
  return out;
}

// The tenant to splice into one parsed record, if any.
std::optional<Guid> TenantToFill(const ParsedUsageRecord& record,
                                 const std::map<Guid, Guid>& tenant_map) {
  if (tenant_map.empty() || !record.malformed.empty() || record.fields.tenant_id) {
    return std::nullopt;
  }
  absl::StatusOr<Guid> local = Guid::Parse(record.fields.subscription_id);
  if (!local.ok()) return std::nullopt;
  auto it = tenant_map.find(*local);
  if (it == tenant_map.end()) return std::nullopt;
  return it->second;
}

std::string FillTenantWith(UsageBodyParser& parser, std::string_view line,
                           const std::map<Guid, Guid>& tenant_map) {
  if (tenant_map.empty()) return std::string(line);
  absl::StatusOr<std::vector<ParsedUsageRecord>> records =
      parser.Parse(line, UsageBodyFormat::kNdjson);
  if (!records.ok() || records->size() != 1) return std::string(line);
  std::optional<Guid> tenant = TenantToFill(records->front(), tenant_map);
  return tenant ? Splice(line, *tenant) : std::string(line);
}

absl::Status WriteDurably(const fs::path& path, std::string_view text) {
  const fs::path temp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(fmt::format("{}: {}", temp.string(), std::strerror(errno)));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return absl::UnavailableError(fmt::format("{}: {}", temp.string(), std::strerror(error)));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return absl::UnavailableError(fmt::format("fsync {}", temp.string()));
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) return absl::UnavailableError(fmt::format("{}: {}", path.string(), error.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWhole(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::UnavailableError(fmt::format("cannot read {}", path.string()));
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return absl::UnavailableError(fmt::format("cannot read {}", path.string()));
  return text;
}

struct BatchError {
  std::size_t index = 0;  // in the batch
  std::string code;
  std::string message;
};

struct BatchAnswer {
  std::int64_t accepted = 0;
  std::int64_t duplicates = 0;
  std::int64_t quarantined = 0;
  std::vector<BatchError> errors;
  std::int64_t errors_not_shown = 0;
};

// A 413 from the server: the batch must shrink.
constexpr std::string_view kTooLarge = "RequestTooLarge";

class Forwarder {
 public:
  Forwarder(const ForwarderOptions& options, const std::atomic<bool>& stop,
            const ProgressSink& progress)
      : options_(options),
        stop_(stop),
        progress_(progress),
        batch_records_(std::max<std::size_t>(options.batch_records, 1)),
        random_(std::random_device{}()) {}

  absl::Status Run(ForwarderCounts* counts) {
    STACKBILL_RETURN_IF_ERROR(Prepare());
    std::thread reader;
    if (options_.input_fd >= 0) reader = std::thread([this] { ReadInput(); });
    absl::Status status = Loop();
    input_stop_ = true;
    if (reader.joinable()) reader.join();
    if (status.ok()) status = input_status();
    Report(/*final=*/true);
    if (counts != nullptr) {
      *counts = counts_;
      std::lock_guard<std::mutex> lock(spool_mu_);
      counts->backlog = spool_->backlog();
    }
    return status;
  }

 private:
  absl::Status Prepare() {
    if (options_.servers.empty()) {
      return InvalidArgumentError("InvalidArgument", "give at least one --server URL");
    }
    std::error_code error;
    fs::create_directories(fs::path(options_.state_dir) / "rejected", error);
    if (error) {
      return absl::UnavailableError(fmt::format("{}: {}", options_.state_dir, error.message()));
    }
    ::chmod(options_.state_dir.c_str(), 0700);
    STACKBILL_ASSIGN_OR_RETURN(
        spool_,
        Spool::Open((fs::path(options_.state_dir) / "spool.db").string(), options_.cloud_id));
    for (const std::string& server : options_.servers) {
      HttpClientOptions client;
      client.endpoint = server;
      while (!client.endpoint.empty() && client.endpoint.back() == '/') client.endpoint.pop_back();
      client.token = options_.activation_key;
      client.ca_file = options_.ca_file;
      client.read_timeout_seconds = options_.read_timeout_seconds;
      absl::StatusOr<std::unique_ptr<HttpClient>> made = HttpClient::Create(client);
      if (!made.ok()) return Annotate(made.status(), "--server " + server);
      clients_.push_back(*std::move(made));
    }
    target_ = fmt::format("/v1/stacks/{}/usage", options_.cloud_id.ToString());
    started_ = last_report_ = Clock::now();
    return absl::OkStatus();
  }

  absl::Status Loop() {
    while (!stop_) {
      if (!options_.inbox.empty()) STACKBILL_RETURN_IF_ERROR(ScanInbox());
      if (options_.spool_only) {
        if (input_finished() && InboxEmpty()) return input_status();
        Sleep(options_.poll_interval);
        continue;
      }
      SpoolBatch& batch = batch_;
      {
        std::lock_guard<std::mutex> lock(spool_mu_);
        STACKBILL_RETURN_IF_ERROR(spool_->Oldest(batch_records_, options_.batch_bytes, batch));
      }
      if (batch.empty()) {
        // With --once, or when stdin was the only source and it ended,
        // nothing more can arrive: done.
        const bool stdin_only = options_.inbox.empty() && options_.input_fd >= 0;
        if ((options_.once || stdin_only) && input_finished() && InboxEmpty()) {
          return absl::OkStatus();
        }
        if (!input_status().ok()) return input_status();
        Sleep(options_.poll_interval);
        continue;
      }
      absl::Status sent = Deliver(batch);
      if (IsTooLarge(sent)) continue;      // halved; try again
      if (stop_) return absl::OkStatus();  // the batch stays spooled
      STACKBILL_RETURN_IF_ERROR(sent);
      if (Clock::now() - last_report_ >= options_.progress_interval) Report(false);
    }
    return absl::OkStatus();
  }

  static bool IsTooLarge(const absl::Status& status) {
    return status.code() == absl::StatusCode::kResourceExhausted &&
           std::string(status.message()).find(kTooLarge) != std::string::npos;
  }

  // Sends one spooled batch until a server answers 2xx, writes its rejected
  // records, then removes it from the spool.
  absl::Status Deliver(const SpoolBatch& batch) {
    BatchAnswer answer;  // the first copy's: its errors name the rejected records
    for (int copy = 0; copy < std::max(options_.send_copies, 1); ++copy) {
      STACKBILL_ASSIGN_OR_RETURN(BatchAnswer got, Post(batch.text(), batch.size()));
      counts_.sent += static_cast<std::int64_t>(batch.size());
      counts_.accepted += got.accepted;
      counts_.duplicates += got.duplicates;
      counts_.quarantined += got.quarantined;
      if (copy == 0) answer = std::move(got);
    }
    // The server listed only the first errors: send the rest again (it
    // counts nothing twice) until every quarantined record has its reason.
    std::vector<BatchError> errors = answer.errors;
    std::int64_t not_shown = answer.errors_not_shown;
    while (not_shown > 0 && !errors.empty()) {
      const std::size_t from = errors.back().index + 1;
      if (from >= batch.size()) break;
      STACKBILL_ASSIGN_OR_RETURN(BatchAnswer more, Post(batch.from(from), batch.size() - from));
      for (BatchError& e : more.errors) {
        e.index += from;
        errors.push_back(std::move(e));
      }
      not_shown = more.errors_not_shown;
    }
    if (!errors.empty()) STACKBILL_RETURN_IF_ERROR(WriteRejected(batch, errors));
    std::lock_guard<std::mutex> lock(spool_mu_);
    return spool_->Remove(batch.last_seq());
  }

  absl::Status WriteRejected(const SpoolBatch& batch, const std::vector<BatchError>& errors) {
    std::string text;
    for (const BatchError& e : errors) {
      if (e.index >= batch.size()) continue;
      nlohmann::json line = {{"code", e.code},
                             {"message", e.message},
                             {"seq", batch.first_seq() + static_cast<std::int64_t>(e.index)},
                             {"record", batch.line(e.index)}};
      text.append(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      text.push_back('\n');
    }
    return WriteDurably(
        fs::path(options_.state_dir) / "rejected" / fmt::format("{:012}.ndjson", batch.first_seq()),
        text);
  }

  // POSTs one body until a server answers 2xx; retries what may pass later.
  absl::StatusOr<BatchAnswer> Post(std::string_view body, std::size_t records) {
    for (int attempt = 0;; ++attempt) {
      if (stop_) return absl::CancelledError("stopping");
      HttpClient& client = *clients_[server_];
      absl::StatusOr<HttpClientResponse> response =
          client.Send("POST", target_, body, "application/x-ndjson");
      std::chrono::milliseconds retry_after{0};
      std::string why;
      if (!response.ok()) {
        why = std::string(response.status().message());
      } else if (response->status >= 200 && response->status < 300) {
        // Several servers (nodes of one store): the next batch goes to the
        // next one, spreading the load.
        server_ = (server_ + 1) % clients_.size();
        return ParseAnswer(*response, records);
      } else if (response->status == 413) {
        if (batch_records_ == 1) return StatusFromErrorResponse(*response);
        batch_records_ = std::max<std::size_t>(1, std::min(batch_records_, records) / 2);
        progress_(
            fmt::format("forward: the server refused {} records as too large (413); "
                        "batches are now {} records",
                        records, batch_records_));
        return absl::ResourceExhaustedError(std::string(kTooLarge));
      } else if (response->status == 429 || response->status >= 500) {
        why = fmt::format("HTTP {}", response->status);
        std::int64_t seconds = 0;
        if (absl::SimpleAtoi(response->retry_after, &seconds) && seconds > 0) {
          retry_after = std::chrono::seconds(seconds);
        }
      } else {
        // 400, 401, 403, 404: sending again will not help.
        return Annotate(StatusFromErrorResponse(*response),
                        fmt::format("{} refused the usage", client.options().endpoint));
      }
      ++counts_.retries;
      const std::chrono::milliseconds wait =
          Backoff(attempt, options_.initial_backoff, options_.max_backoff, Unit(), retry_after);
      progress_(fmt::format("forward: {} ({}); retrying in {} ms{}", client.options().endpoint, why,
                            wait.count(), clients_.size() > 1 ? " on the next server" : ""));
      server_ = (server_ + 1) % clients_.size();
      Sleep(wait);
    }
  }

  static absl::StatusOr<BatchAnswer> ParseAnswer(const HttpClientResponse& response,
                                                 std::size_t records) {
    nlohmann::json json = nlohmann::json::parse(response.body, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      return absl::InternalError("the server's usage answer is not JSON");
    }
    BatchAnswer answer;
    answer.accepted = json.value("accepted", std::int64_t{0});
    answer.duplicates = json.value("duplicates", std::int64_t{0});
    answer.quarantined = json.value("quarantined", std::int64_t{0});
    answer.errors_not_shown = json.value("errorsNotShown", std::int64_t{0});
    if (answer.accepted + answer.duplicates + answer.quarantined !=
        static_cast<std::int64_t>(records)) {
      return absl::InternalError(
          fmt::format("the server answered for {} records of {}",
                      answer.accepted + answer.duplicates + answer.quarantined, records));
    }
    if (json.contains("errors") && json["errors"].is_array()) {
      for (const auto& e : json["errors"]) {
        BatchError error;
        error.index = e.value("index", std::size_t{0});
        error.code = e.value("code", "");
        error.message = e.value("message", "");
        answer.errors.push_back(std::move(error));
      }
    }
    return answer;
  }

  double Unit() {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    return unit(random_);
  }

  void Sleep(std::chrono::milliseconds total) {
    const auto until = Clock::now() + total;
    while (!stop_ && Clock::now() < until) {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
    }
  }

  // ---- the inbox --------------------------------------------------------

  static bool Ignored(const fs::directory_entry& entry) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.' || name.ends_with(".tmp")) return true;
    std::error_code error;
    // Symlinks are never followed (SPEC §4.1): only files renamed in.
    if (entry.is_symlink(error) || !entry.is_regular_file(error)) return true;
    return false;
  }

  std::vector<fs::path> InboxFiles() {
    std::vector<fs::path> files;
    std::error_code error;
    for (fs::directory_iterator it(options_.inbox, error), end; !error && it != end;
         it.increment(error)) {
      if (!Ignored(*it)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  bool InboxEmpty() { return options_.inbox.empty() || InboxFiles().empty(); }

  absl::Status ScanInbox() {
    for (const fs::path& path : InboxFiles()) {
      if (stop_) break;
      STACKBILL_RETURN_IF_ERROR(SpoolFile(path));
    }
    return absl::OkStatus();
  }

  absl::Status SpoolFile(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return absl::OkStatus();
    const std::string source = fmt::format("{}|{}|{}|{}.{}", path.filename().string(), st.st_size,
                                           st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    {
      std::lock_guard<std::mutex> lock(spool_mu_);
      STACKBILL_ASSIGN_OR_RETURN(bool seen, spool_->HasSource(source));
      if (seen) return Unlink(path);  // spooled before a crash, not yet removed
    }
    STACKBILL_ASSIGN_OR_RETURN(std::string text, ReadWhole(path));
    std::vector<std::string> owned;
    std::vector<std::string_view> lines;
    const bool page = path.extension() == ".json";
    if (page || !options_.tenant_map.empty()) {
      absl::StatusOr<std::vector<ParsedUsageRecord>> records =
          parser_.Parse(text, page ? UsageBodyFormat::kUsagePage : UsageBodyFormat::kNdjson);
      if (!records.ok()) {
        // A usage page that does not parse is not sent: the whole file goes
        // to rejected/ with the reason, and nothing of it is lost.
        const fs::path target = fs::path(options_.state_dir) / "rejected" / path.filename();
        progress_(fmt::format("forward: {} is not a usage page ({}); moved to {}", path.string(),
                              std::string(records.status().message()), target.string()));
        STACKBILL_RETURN_IF_ERROR(
            WriteDurably(target.string() + ".reason",
                         nlohmann::json{{"code", "InvalidUsagePage"},
                                        {"message", std::string(records.status().message())}}
                                 .dump() +
                             "\n"));
        std::error_code error;
        fs::rename(path, target, error);
        if (error)
          return absl::UnavailableError(fmt::format("{}: {}", path.string(), error.message()));
        return absl::OkStatus();
      }
      owned.reserve(records->size());
      for (const ParsedUsageRecord& record : *records) {
        if (std::optional<Guid> tenant = TenantToFill(record, options_.tenant_map)) {
          owned.push_back(Splice(record.raw, *tenant));
        } else {
          owned.emplace_back(record.raw);
        }
      }
      lines.assign(owned.begin(), owned.end());
    } else {
      std::string_view rest = text;
      while (!rest.empty()) {
        const std::size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!Blank(line)) lines.push_back(line);
      }
    }
    {
      std::lock_guard<std::mutex> lock(spool_mu_);
      STACKBILL_RETURN_IF_ERROR(spool_->Append(lines, source));
    }
    counts_.spooled += static_cast<std::int64_t>(lines.size());
    return Unlink(path);
  }

  static absl::Status Unlink(const fs::path& path) {
    std::error_code error;
    fs::remove(path, error);
    if (error) return absl::UnavailableError(fmt::format("{}: {}", path.string(), error.message()));
    return absl::OkStatus();
  }

  // ---- stdin ------------------------------------------------------------

  void ReadInput() {
    const int fd = options_.input_fd;
    std::string carry;
    std::vector<std::string> pending;
    auto first_pending = Clock::now();
    char buffer[1 << 16];
    bool eof = false;
    // Durable once spooled. False when the spool refused (the status says why).
    const auto spool = [&]() -> bool {
      if (pending.empty()) return true;
      std::vector<std::string_view> views(pending.begin(), pending.end());
      std::lock_guard<std::mutex> lock(spool_mu_);
      if (absl::Status s = spool_->Append(views); !s.ok()) {
        SetInputStatus(s);
        return false;
      }
      counts_spooled_input_ += static_cast<std::int64_t>(pending.size());
      pending.clear();
      return true;
    };
    while (!eof && !input_stop_) {
      pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
      const int ready = ::poll(&p, 1, 100);
      if (ready > 0) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          eof = true;
        } else {
          carry.append(buffer, static_cast<std::size_t>(n));
          std::size_t start = 0;
          for (std::size_t nl; (nl = carry.find('\n', start)) != std::string::npos;
               start = nl + 1) {
            std::string_view line(carry.data() + start, nl - start);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (Blank(line)) continue;
            if (pending.empty()) first_pending = Clock::now();
            pending.push_back(FillLine(line));
          }
          carry.erase(0, start);
        }
      }
      if (eof && !Blank(carry)) pending.push_back(FillLine(carry));
      // Spooled at a batch, a pause, or the end of the input.
      if (!pending.empty() && (eof || pending.size() >= batch_records_ || ready == 0 ||
                               Clock::now() - first_pending > std::chrono::milliseconds(200))) {
        if (!spool()) return;
      }
    }
    // Stopping (SIGTERM): what was read is spooled, not dropped.
    if (!spool()) return;
    input_eof_ = eof;
  }

  std::string FillLine(std::string_view line) {
    // The reader thread's own parser: parser_ belongs to the main loop.
    return FillTenantWith(input_parser_, line, options_.tenant_map);
  }

  bool input_finished() const { return options_.input_fd < 0 || input_eof_; }
  absl::Status input_status() {
    std::lock_guard<std::mutex> lock(status_mu_);
    return input_status_;
  }
  void SetInputStatus(absl::Status status) {
    std::lock_guard<std::mutex> lock(status_mu_);
    input_status_ = std::move(status);
  }

  // ---- progress ---------------------------------------------------------

  void Report(bool final) {
    const auto now = Clock::now();
    const double seconds =
        std::chrono::duration<double>(now - (final ? started_ : last_report_)).count();
    const std::int64_t acknowledged = counts_.accepted + counts_.duplicates + counts_.quarantined;
    const std::int64_t delta = final ? acknowledged : acknowledged - last_acknowledged_;
    std::int64_t backlog = 0;
    {
      std::lock_guard<std::mutex> lock(spool_mu_);
      backlog = spool_->backlog();
    }
    progress_(fmt::format(
        "forward: {}sent {}, acknowledged {} (accepted {}, duplicates {}, quarantined {}), "
        "{:.0f} records/s, backlog {}, retries {}",
        final ? "done: " : "", counts_.sent, acknowledged, counts_.accepted, counts_.duplicates,
        counts_.quarantined, seconds > 0 ? static_cast<double>(delta) / seconds : 0.0, backlog,
        counts_.retries));
    last_report_ = now;
    last_acknowledged_ = acknowledged;
  }

  const ForwarderOptions& options_;
  const std::atomic<bool>& stop_;
  const ProgressSink& progress_;
  std::size_t batch_records_;
  std::mt19937_64 random_;
  std::vector<std::unique_ptr<HttpClient>> clients_;
  std::size_t server_ = 0;
  std::string target_;
  UsageBodyParser parser_;        // the main loop's (inbox files)
  UsageBodyParser input_parser_;  // the stdin reader's

  std::mutex spool_mu_;
  std::unique_ptr<Spool> spool_;  // guarded by spool_mu_ once the reader runs
  SpoolBatch batch_;              // the batch being delivered (Loop's; reused)

  std::atomic<bool> input_stop_{false};
  std::atomic<bool> input_eof_{false};
  std::atomic<std::int64_t> counts_spooled_input_{0};
  std::mutex status_mu_;
  absl::Status input_status_;  // guarded by status_mu_

  ForwarderCounts counts_;
  Clock::time_point started_;
  Clock::time_point last_report_;
  std::int64_t last_acknowledged_ = 0;
};

}  // namespace

std::chrono::milliseconds Backoff(int attempt, std::chrono::milliseconds initial,
                                  std::chrono::milliseconds max, double unit,
                                  std::chrono::milliseconds retry_after) {
  const int shift = std::clamp(attempt, 0, 30);
  const std::int64_t ceiling =
      std::min<std::int64_t>(max.count(), initial.count() * (std::int64_t{1} << shift));
  const auto jittered =
      std::chrono::milliseconds(static_cast<std::int64_t>(unit * static_cast<double>(ceiling)));
  return std::max(jittered, retry_after);
}

absl::StatusOr<std::map<Guid, Guid>> ParseTenantMap(std::string_view text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return InvalidArgumentError("InvalidTenantMap",
                                "a tenant map is a JSON object {\"<local subscription>\": "
                                "\"<tenant>\", …}");
  }
  std::map<Guid, Guid> map;
  for (const auto& [key, value] : json.items()) {
    absl::StatusOr<Guid> local = Guid::Parse(key);
    if (!local.ok()) return Annotate(local.status(), "tenant map key " + key);
    if (!value.is_string()) {
      return InvalidArgumentError("InvalidTenantMap",
                                  "tenant map value of " + key + " is not a GUID string");
    }
    absl::StatusOr<Guid> tenant = Guid::Parse(value.get<std::string>());
    if (!tenant.ok()) return Annotate(tenant.status(), "tenant map value of " + key);
    map[*local] = *tenant;
  }
  return map;
}

std::string FillTenant(std::string_view line, const std::map<Guid, Guid>& tenant_map) {
  UsageBodyParser parser;
  return FillTenantWith(parser, line, tenant_map);
}

absl::Status RunForwarder(const ForwarderOptions& options, const std::atomic<bool>& stop,
                          const ProgressSink& progress, ForwarderCounts* counts) {
  Forwarder forwarder(options, stop, progress);
  return forwarder.Run(counts);
}

}  // namespace stackbill
