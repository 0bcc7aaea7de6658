// The spool and the forwarder (SPEC §4.1, R10, R11). The forwarder runs
// against a real HTTP server (http/server.h, plain HTTP on loopback) whose
// usage route is scripted per test: 503 with Retry-After, a capped error
// list, a 413. The whole system (the real usage route, kill -9) is
// tests/forward_fault_test.sh.

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/error.h"
#include "forward/forwarder.h"
#include "forward/spool.h"
#include "gtest/gtest.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "services/authenticator.h"
#include "services/testing/refusing_authenticator.h"

namespace stackbill {
namespace {

namespace fs = std::filesystem;

const Guid kCloud = *Guid::Parse("7e5f8d1c-0b3a-4c2e-9d11-2f4a6b8c0d11");
const Guid kLocal = *Guid::Parse("11111111-2222-3333-4444-555555555555");
const Guid kTenant = *Guid::Parse("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");

std::string Record(int n, bool with_tenant = false) {
  return fmt::format(
      R"({{{}"subscriptionId":"{}","meterId":"FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5","quantity":{},)"
      R"("usageStartTime":"2026-11-01T00:00:00Z","usageEndTime":"2026-11-01T01:00:00Z","id":"r{}"}})",
      with_tenant ? fmt::format(R"("tenantId":"{}",)", kTenant.ToString()) : std::string(),
      kLocal.ToString(), n, n);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "forward_test.XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& path, std::string_view text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
}

// --- Spool ----------------------------------------------------------------

TEST(Spool, KeepsRecordsInOrderAcrossReopenAndRemovesAcknowledgedOnes) {
  TempDir dir;
  const std::string path = (dir.path() / "spool.db").string();
  {
    auto spool = Spool::Open(path, kCloud);
    ASSERT_TRUE(spool.ok()) << spool.status();
    const std::vector<std::string_view> lines = {"a", "b", "c"};
    ASSERT_TRUE((*spool)->Append(lines, "file-1").ok());
    EXPECT_EQ((*spool)->backlog(), 3);
  }
  // R10: what was spooled survives the process.
  auto spool = Spool::Open(path, kCloud);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ((*spool)->backlog(), 3);
  EXPECT_TRUE(*(*spool)->HasSource("file-1"));
  EXPECT_FALSE(*(*spool)->HasSource("file-2"));
  SpoolBatch batch;
  ASSERT_TRUE((*spool)->Oldest(2, 1 << 20, batch).ok());
  ASSERT_EQ(batch.size(), 2U);
  EXPECT_EQ(batch.line(0), "a");
  EXPECT_EQ(batch.line(1), "b");
  EXPECT_EQ(batch.text(), "a\nb\n");  // the request body as is
  EXPECT_EQ(batch.from(1), "b\n");
  ASSERT_TRUE((*spool)->Remove(batch.last_seq()).ok());
  EXPECT_EQ((*spool)->backlog(), 1);
  const std::int64_t acknowledged = batch.last_seq();
  // The same batch object is refilled (its memory reused).
  ASSERT_TRUE((*spool)->Oldest(10, 1 << 20, batch).ok());
  ASSERT_EQ(batch.size(), 1U);
  EXPECT_EQ(batch.line(0), "c");
  EXPECT_EQ(batch.text(), "c\n");
  EXPECT_GT(batch.first_seq(), acknowledged);
}

TEST(Spool, IsPrivateAndBelongsToOneStack) {
  TempDir dir;
  const std::string path = (dir.path() / "spool.db").string();
  ASSERT_TRUE(Spool::Open(path, kCloud).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);  // SPEC §4.1
  auto other = Spool::Open(path, kTenant);
  EXPECT_EQ(ErrorCode(other.status()), "SpoolCloudMismatch");
}

TEST(Spool, BatchesAreBoundedInBytesButNeverEmpty) {
  TempDir dir;
  auto spool = Spool::Open((dir.path() / "spool.db").string(), kCloud);
  const std::string big(100, 'x');
  const std::vector<std::string_view> lines = {big, big, big};
  ASSERT_TRUE((*spool)->Append(lines).ok());
  SpoolBatch batch;
  ASSERT_TRUE((*spool)->Oldest(10, 250, batch).ok());
  EXPECT_EQ(batch.size(), 2U);
  ASSERT_TRUE((*spool)->Oldest(10, 10, batch).ok());
  EXPECT_EQ(batch.size(), 1U);
}

// --- Pure helpers -----------------------------------------------------------

TEST(FillTenant, AddsTheMappedTenantOnlyWhereTheRecordHasNone) {
  const std::map<Guid, Guid> map = {{kLocal, kTenant}};
  const std::string filled = FillTenant(Record(1), map);
  EXPECT_EQ(nlohmann::json::parse(filled)["tenantId"], kTenant.ToString());
  // The rest of the text is kept exactly (quantities keep their digits).
  EXPECT_NE(filled.find(R"("quantity":1,)"), std::string::npos);
  EXPECT_EQ(FillTenant(Record(2, true), map), Record(2, true));
  EXPECT_EQ(FillTenant(Record(3), {}), Record(3));
  EXPECT_EQ(FillTenant("not json", map), "not json");
}

TEST(ParseTenantMap, ReadsGuidsAndRefusesTheRest) {
  auto map = ParseTenantMap(fmt::format(R"({{"{}":"{}"}})", kLocal.ToString(), kTenant.ToString()));
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->at(kLocal), kTenant);
  EXPECT_FALSE(ParseTenantMap("[]").ok());
  EXPECT_FALSE(ParseTenantMap(R"({"x":"y"})").ok());
}

TEST(Backoff, GrowsExponentiallyWithJitterUpToTheCapAndHonoursRetryAfter) {
  using std::chrono::milliseconds;
  EXPECT_EQ(Backoff(0, milliseconds(100), milliseconds(1000), 0.999, milliseconds(0)).count(), 99);
  EXPECT_EQ(Backoff(3, milliseconds(100), milliseconds(1000), 0.5, milliseconds(0)).count(), 400);
  EXPECT_EQ(Backoff(10, milliseconds(100), milliseconds(1000), 0.5, milliseconds(0)).count(), 500);
  EXPECT_EQ(Backoff(40, milliseconds(100), milliseconds(1000), 0.0, milliseconds(0)).count(), 0);
  EXPECT_EQ(Backoff(0, milliseconds(100), milliseconds(1000), 0.5, milliseconds(3000)).count(),
            3000);
}

// --- The forwarder against a scripted server ----------------------------------

// A usage route that counts each record id once and answers as stackbill
// does; `script` may answer first (a failure) for the n-th request.
class ScriptedServer {
 public:
  using Script = std::function<std::optional<HttpResponse>(int request, std::size_t records)>;

  explicit ScriptedServer(Script script = nullptr) : script_(std::move(script)) {
    EXPECT_TRUE(router_
                    .Add({"POST", "/v1/stacks/{cloudId}/usage", Authentication::kNone, "usage",
                          [this](const RequestContext& context) { return Handle(context); },
                          nullptr, std::size_t{64} << 20})
                    .ok());
    ServerOptions options;
    options.port = 0;
    options.insecure_http = true;
    options.threads = 2;
    auto server = HttpServer::Create(options, router_, metrics_,
                                     [] { return Timestamp::FromUnixSeconds(1'790'000'000); });
    EXPECT_TRUE(server.ok());
    server_ = *std::move(server);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~ScriptedServer() { server_->Stop(); }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", server_->port()); }
  std::size_t distinct() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<std::string> bodies() {
    std::lock_guard<std::mutex> lock(mu_);
    return bodies_;
  }

 private:
  absl::StatusOr<HttpResponse> Handle(const RequestContext& context) {
    std::lock_guard<std::mutex> lock(mu_);
    const int n = requests_++;
    std::vector<std::string> lines;
    std::string_view rest = context.request.body;
    while (!rest.empty()) {
      const std::size_t end = rest.find('\n');
      lines.emplace_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    }
    if (script_) {
      if (std::optional<HttpResponse> early = script_(n, lines.size())) return *early;
    }
    bodies_.emplace_back(context.request.body);
    nlohmann::json errors = nlohmann::json::array();
    std::int64_t accepted = 0;
    std::int64_t duplicates = 0;
    std::int64_t quarantined = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      nlohmann::json record = nlohmann::json::parse(lines[i], nullptr, false);
      if (record.is_discarded()) {
        ++quarantined;
        errors.push_back({{"index", i}, {"code", "MalformedRecord"}, {"message", "not JSON"}});
      } else if (seen_.insert(record.value("id", "")).second) {
        ++accepted;
      } else {
        ++duplicates;
      }
    }
    // Like the server's cap, but at 2, so that the forwarder must ask again.
    std::int64_t not_shown = 0;
    if (errors.size() > 2) {
      not_shown = static_cast<std::int64_t>(errors.size()) - 2;
      errors.erase(errors.begin() + 2, errors.end());
    }
    return HttpResponse::Json(200, nlohmann::json{{"accepted", accepted},
                                                  {"duplicates", duplicates},
                                                  {"quarantined", quarantined},
                                                  {"errors", errors},
                                                  {"errorsNotShown", not_shown}}
                                       .dump());
  }

  Script script_;
  RefusingAuthenticator authenticator_;
  Router router_{authenticator_, ""};
  RequestMetrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  int requests_ = 0;
  std::set<std::string> seen_;
  std::vector<std::string> bodies_;
};

class ForwarderTest : public ::testing::Test {
 protected:
  ForwarderTest() {
    fs::create_directories(dir_.path() / "inbox");
    options_.cloud_id = kCloud;
    options_.activation_key = "key";
    options_.state_dir = (dir_.path() / "state").string();
    options_.inbox = (dir_.path() / "inbox").string();
    options_.once = true;
    options_.initial_backoff = std::chrono::milliseconds(1);
    options_.max_backoff = std::chrono::milliseconds(20);
    options_.poll_interval = std::chrono::milliseconds(10);
  }

  absl::Status Run(ForwarderCounts* counts = nullptr) {
    const std::atomic<bool> stop{false};
    const ProgressSink progress = [this](const std::string& line) { lines_.push_back(line); };
    return RunForwarder(options_, stop, progress, counts);
  }

  void Drop(const std::string& name, const std::string& text) {
    WriteFile(dir_.path() / "inbox" / name, text);
  }

  std::vector<nlohmann::json> Rejected() {
    std::vector<nlohmann::json> out;
    for (const auto& entry : fs::directory_iterator(fs::path(options_.state_dir) / "rejected")) {
      std::ifstream file(entry.path());
      for (std::string line; std::getline(file, line);) out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  TempDir dir_;
  ForwarderOptions options_;
  std::vector<std::string> lines_;
};

std::string Lines(int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) text += Record(i) + "\n";
  return text;
}

TEST_F(ForwarderTest, SendsEveryInboxRecordOnceAndEmptiesInboxAndSpool) {
  ScriptedServer server;
  options_.servers = {server.url()};
  options_.batch_records = 7;
  Drop("a.ndjson", Lines(0, 20));
  Drop("b.ndjson", "\n" + Lines(20, 30) + "\n\n");
  ForwarderCounts counts;
  ASSERT_TRUE(Run(&counts).ok());
  EXPECT_EQ(server.distinct(), 30U);
  EXPECT_EQ(counts.accepted, 30);
  EXPECT_EQ(counts.backlog, 0);
  EXPECT_TRUE(fs::is_empty(options_.inbox));
  EXPECT_NE(lines_.back().find("done: sent 30"), std::string::npos) << lines_.back();
}

TEST_F(ForwarderTest, LeavesSymlinksHiddenAndTemporaryFilesAlone) {
  ScriptedServer server;
  options_.servers = {server.url()};
  WriteFile(dir_.path() / "elsewhere.ndjson", Lines(0, 5));
  fs::create_symlink(dir_.path() / "elsewhere.ndjson", dir_.path() / "inbox" / "link.ndjson");
  Drop(".hidden.ndjson", Lines(5, 6));
  Drop("partial.ndjson.tmp", Lines(6, 7));
  Drop("real.ndjson", Lines(7, 9));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(server.distinct(), 2U);
  EXPECT_TRUE(fs::is_symlink(dir_.path() / "inbox" / "link.ndjson"));
  EXPECT_TRUE(fs::exists(dir_.path() / "inbox" / ".hidden.ndjson"));
  EXPECT_TRUE(fs::exists(dir_.path() / "inbox" / "partial.ndjson.tmp"));
}

TEST_F(ForwarderTest, TakesUsagePagesAndFillsTenantsFromTheMap) {
  ScriptedServer server;
  options_.servers = {server.url()};
  options_.tenant_map = {{kLocal, kTenant}};
  Drop("page.json", fmt::format(R"({{"value":[{{"properties":{}}},{{"properties":{}}}]}})",
                                Record(1), Record(2, true)));
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(server.bodies().size(), 1U);
  const std::string body = server.bodies()[0];
  const auto first = nlohmann::json::parse(body.substr(0, body.find('\n')));
  EXPECT_EQ(first["tenantId"], kTenant.ToString());
  EXPECT_EQ(first["id"], "r1");
  EXPECT_EQ(server.distinct(), 2U);
}

TEST_F(ForwarderTest, AnUnparseablePageGoesToRejectedWhole) {
  ScriptedServer server;
  options_.servers = {server.url()};
  Drop("broken.json", R"({"value":[)");
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(server.requests(), 0);
  EXPECT_TRUE(fs::exists(fs::path(options_.state_dir) / "rejected" / "broken.json"));
  EXPECT_TRUE(fs::exists(fs::path(options_.state_dir) / "rejected" / "broken.json.reason"));
}

TEST_F(ForwarderTest, SpreadsBatchesOverTheServersInTurn) {
  ScriptedServer a;
  ScriptedServer b;
  options_.servers = {a.url(), b.url()};
  options_.batch_records = 2;
  Drop("a.ndjson", Lines(0, 10));
  ASSERT_TRUE(Run().ok());
  // Five batches: a, b, a, b, a; each record sent once.
  EXPECT_EQ(a.requests(), 3);
  EXPECT_EQ(b.requests(), 2);
  EXPECT_EQ(a.distinct() + b.distinct(), 10U);
}

TEST_F(ForwarderTest, RetriesUnavailableServersHonouringRetryAfterAndFailsOver) {
  // 503 with Retry-After: 1 first, then accepted.
  ScriptedServer server([](int request, std::size_t) -> std::optional<HttpResponse> {
    if (request > 0) return std::nullopt;
    HttpResponse busy = HttpResponse::Json(503, R"({"error":{"code":"Busy","message":"busy"}})");
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  });
  // The first URL refuses connections: nothing listens there.
  options_.servers = {"http://127.0.0.1:1", server.url()};
  Drop("a.ndjson", Lines(0, 3));
  const auto start = std::chrono::steady_clock::now();
  ForwarderCounts counts;
  ASSERT_TRUE(Run(&counts).ok());
  EXPECT_EQ(server.distinct(), 3U);
  EXPECT_GE(counts.retries, 2);
  // Retry-After was honoured: at least a second passed (a lower bound, not a
  // timing assertion on speed).
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(ForwarderTest, WritesEveryQuarantinedRecordWithItsReasonEvenWhenErrorsAreCapped) {
  ScriptedServer server;
  options_.servers = {server.url()};
  Drop("a.ndjson", Record(1) + "\nbad one\nbad two\n" + Record(2) + "\nbad three\nbad four\n");
  ForwarderCounts counts;
  ASSERT_TRUE(Run(&counts).ok());
  EXPECT_EQ(counts.quarantined, 4);
  std::vector<nlohmann::json> rejected = Rejected();
  ASSERT_EQ(rejected.size(), 4U);
  std::set<std::string> records;
  for (const auto& r : rejected) {
    EXPECT_EQ(r["code"], "MalformedRecord");
    records.insert(r["record"].get<std::string>());
  }
  EXPECT_EQ(records, (std::set<std::string>{"bad one", "bad two", "bad three", "bad four"}));
  EXPECT_EQ(server.distinct(), 2U);
}

TEST_F(ForwarderTest, HalvesBatchesTheServerFindsTooLarge) {
  ScriptedServer server([](int, std::size_t records) -> std::optional<HttpResponse> {
    if (records <= 4) return std::nullopt;
    return HttpResponse::Json(413, R"({"error":{"code":"TooManyRecords","message":"too many"}})");
  });
  options_.servers = {server.url()};
  options_.batch_records = 16;
  Drop("a.ndjson", Lines(0, 10));
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(server.distinct(), 10U);
}

TEST_F(ForwarderTest, StopsOnARefusedKeyAndKeepsTheSpool) {
  ScriptedServer server([](int, std::size_t) -> std::optional<HttpResponse> {
    return HttpResponse::Json(
        401, R"({"error":{"code":"InvalidActivationKey","message":"unknown key"}})");
  });
  options_.servers = {server.url()};
  Drop("a.ndjson", Lines(0, 3));
  ForwarderCounts counts;
  const absl::Status status = Run(&counts);
  EXPECT_EQ(ErrorCode(status), "InvalidActivationKey") << status;
  // Nothing lost: the records wait in the spool for the next run.
  auto spool = Spool::Open((fs::path(options_.state_dir) / "spool.db").string(), kCloud);
  EXPECT_EQ((*spool)->backlog(), 3);
}

TEST_F(ForwarderTest, ResumesWhatAnEarlierRunSpooledAndSendsCopiesWithoutDoubleCounting) {
  {
    fs::create_directories(options_.state_dir);
    auto spool = Spool::Open((fs::path(options_.state_dir) / "spool.db").string(), kCloud);
    const std::string a = Record(1);
    const std::string b = Record(2);
    const std::vector<std::string_view> lines = {a, b};
    ASSERT_TRUE(spool.ok()) << spool.status();
    ASSERT_TRUE((*spool)->Append(lines).ok());
  }
  ScriptedServer server;
  options_.servers = {server.url()};
  options_.send_copies = 3;
  ForwarderCounts counts;
  ASSERT_TRUE(Run(&counts).ok());
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.distinct(), 2U);
}

TEST_F(ForwarderTest, ReadsStdinUntilItsEnd) {
  ScriptedServer server;
  options_.servers = {server.url()};
  options_.inbox.clear();
  options_.once = false;  // stdin alone: its end is the end, --once or not
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  options_.input_fd = fds[0];
  std::thread writer([fd = fds[1]] {
    const std::string text = Lines(0, 50);
    // Two halves with a pause: the first is spooled before the end arrives.
    const std::size_t half = text.size() / 2;
    EXPECT_EQ(::write(fd, text.data(), half), static_cast<ssize_t>(half));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(::write(fd, text.data() + half, text.size() - half),
              static_cast<ssize_t>(text.size() - half));
    ::close(fd);
  });
  ASSERT_TRUE(Run().ok());
  writer.join();
  ::close(fds[0]);
  EXPECT_EQ(server.distinct(), 50U);
}

TEST_F(ForwarderTest, AStoppedForwarderKeepsWhatItReadFromStdinInTheSpool) {
  // The server never acknowledges, so whatever is read stays spooled.
  ScriptedServer server([](int, std::size_t) -> std::optional<HttpResponse> {
    return HttpResponse::Json(503, R"({"error":{"code":"Busy","message":"busy"}})");
  });
  options_.servers = {server.url()};
  options_.inbox.clear();
  options_.once = false;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  options_.input_fd = fds[0];
  const std::string text = Lines(0, 5);
  ASSERT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  std::atomic<bool> stop{false};
  const ProgressSink quiet = [](const std::string&) {};
  absl::Status status;
  std::thread forwarder([&] { status = RunForwarder(options_, stop, quiet); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;  // SIGTERM; stdin is still open
  forwarder.join();
  ::close(fds[1]);
  ::close(fds[0]);
  EXPECT_TRUE(status.ok()) << status;
  auto spool = Spool::Open((fs::path(options_.state_dir) / "spool.db").string(), kCloud);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ((*spool)->backlog(), 5);  // R10: nothing read is lost
}

}  // namespace
}  // namespace stackbill
