// End to end: the real `stackbill serve` binary on port 0 with a temporary
// store (`stackbill init`) and a development certificate (`stackbill
// dev-cert`), spoken to over HTTPS.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "http/testing/test_client.h"

extern char** environ;

namespace stackbill {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(30);

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs the binary to completion, capturing its output.
RunResult RunStackbill(const std::vector<std::string>& args) {
  std::string command = "'" STACKBILL_BINARY "'";
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " 2>&1";
  RunResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A running `stackbill serve`.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<std::string> argv = {STACKBILL_BINARY, "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c_argv;
    for (std::string& arg : argv) c_argv.push_back(arg.data());
    c_argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, c_argv[0], &actions, nullptr, c_argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exit_code_.has_value()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // The exit code once the process has ended, polled until `deadline`.
  std::optional<int> WaitForExit(Clock::time_point deadline) {
    while (!exit_code_.has_value()) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (Clock::now() >= deadline) {
        return std::nullopt;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    return exit_code_;
  }
  bool Running() { return !WaitForExit(Clock::now()).has_value(); }
  void Signal(int signal) const { ::kill(pid_, signal); }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A write to a connection the server closed must fail, not kill the test.
    ::signal(SIGPIPE, SIG_IGN);
    dir_ = fs::temp_directory_path() /
           ("stackbill-serve-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const RunResult init = RunStackbill({"init", "--db", (dir_ / "s.db").string()});
    ASSERT_EQ(init.exit_code, 0) << init.output;
    // The line "token:         sbt_…" (std::regex is avoided: GCC 12 warns
    // falsely inside it under the sanitizers, and warnings are errors).
    const std::size_t line = init.output.find("token: ");
    ASSERT_NE(line, std::string::npos) << init.output;
    const std::size_t start = init.output.find("sbt_", line);
    ASSERT_NE(start, std::string::npos) << init.output;
    token_ = init.output.substr(start, init.output.find('\n', start) - start);
    const RunResult cert = RunStackbill({"dev-cert", "--out-dir", (dir_ / "tls").string()});
    ASSERT_EQ(cert.exit_code, 0) << cert.output;
  }
  void TearDown() override {
    server_.reset();
    if (HasFailure()) std::cerr << "serve log:\n" << ReadFile(dir_ / "serve.log");
    fs::remove_all(dir_);
  }

  // Starts `serve` on port 0 and waits (with a deadline) for its port file.
  void StartServe(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--db",        (dir_ / "s.db").string(),
                                     "--port",      "0",
                                     "--port-file", (dir_ / "port").string(),
                                     "--tls-cert",  (dir_ / "tls" / "cert.pem").string(),
                                     "--tls-key",   (dir_ / "tls" / "key.pem").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServeProcess>(args, dir_ / "serve.log");
    const auto deadline = Clock::now() + kDeadline;
    while (Clock::now() < deadline) {
      const std::string text = ReadFile(dir_ / "port");
      if (!text.empty() && text.back() == '\n') {
        port_ = std::stoi(text);
        return;
      }
      ASSERT_TRUE(server_->Running()) << "serve exited: " << ReadFile(dir_ / "serve.log");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "no port file before the deadline";
  }

  TestHttpClient Client() const {
    TestClientOptions options;
    options.port = port_;
    options.ca_file = (dir_ / "tls" / "cert.pem").string();
    return TestHttpClient(options);
  }
  std::vector<std::pair<std::string, std::string>> Auth() const {
    return {{"Authorization", "Bearer " + token_}};
  }

  fs::path dir_;
  std::string token_;
  std::unique_ptr<ServeProcess> server_;
  int port_ = 0;
};

TEST_F(ServeTest, DevCertWritesTheKeyWithMode0600) {
  struct stat info {};
  ASSERT_EQ(::stat((dir_ / "tls" / "key.pem").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(ServeTest, HealthzAndReadyzAnswerWithoutAToken) {
  ASSERT_NO_FATAL_FAILURE(StartServe());
  const auto health = Client().Send("GET", "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
  const auto ready = Client().Send("GET", "/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->status, 200);
}

TEST_F(ServeTest, MetricsCountRequestsForAPlatformAdmin) {
  ASSERT_NO_FATAL_FAILURE(StartServe());
  ASSERT_TRUE(Client().Send("GET", "/healthz").ok());
  const auto metrics = Client().Send("GET", "/metrics", Auth());
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_EQ(metrics->status, 200) << metrics->body;
  EXPECT_NE(
      metrics->body.find(
          R"(stackbill_http_requests_total{route="ops.healthz",method="GET",status="200"} 1)"),
      std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("stackbill_http_request_duration_seconds_bucket"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("stackbill_http_requests_in_flight 1"), std::string::npos);
}

TEST_F(ServeTest, ARequestWithoutATokenIs401InTheArmEnvelopeWithARequestId) {
  ASSERT_NO_FATAL_FAILURE(StartServe());
  const auto response = Client().Send("GET", "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 401);
  const auto body = nlohmann::json::parse(response->body);
  EXPECT_EQ(body["error"]["code"], "AuthenticationFailed");
  EXPECT_TRUE(body["error"]["message"].is_string());
  EXPECT_TRUE(response->Header("x-ms-request-id").has_value());
}

TEST_F(ServeTest, ABodyOverTheLimitIs413) {
  ASSERT_NO_FATAL_FAILURE(StartServe({"--max-body-bytes", "1024"}));
  const auto response = Client().Send("POST", "/v1/directories", Auth(), std::string(4096, ' '));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "RequestEntityTooLarge");
  EXPECT_TRUE(response->Header("x-ms-request-id").has_value());
}

TEST_F(ServeTest, SigtermFinishesTheRequestInFlightAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(StartServe());
  std::mutex mutex;
  std::condition_variable changed;
  bool paused = false;
  bool resume = false;
  const TestHttpClient client = Client();
  // A request in flight: its headers and half its body are sent, the rest
  // waits until the server has been told to stop.
  auto in_flight = std::async(std::launch::async, [&] {
    return client.PostInTwoParts("/healthz", Auth(), std::string(512, ' '), [&] {
      std::unique_lock lock(mutex);
      paused = true;
      changed.notify_all();
      changed.wait_for(lock, kDeadline, [&] { return resume; });
    });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, kDeadline, [&] { return paused; }));
  }
  // Wait until the server has read the request's headers: two requests in
  // flight, that one and the /metrics request asking.
  bool begun = false;
  for (const auto until = Clock::now() + kDeadline; !begun && Clock::now() < until;) {
    const auto metrics = Client().Send("GET", "/metrics", Auth());
    begun = metrics.ok() &&
            metrics->body.find("stackbill_http_requests_in_flight 2\n") != std::string::npos;
  }
  ASSERT_TRUE(begun) << "the server never began the request";
  server_->Signal(SIGTERM);
  // The server stops accepting first: poll until a new connection fails.
  const auto deadline = Clock::now() + kDeadline;
  while (Client().Send("GET", "/healthz").ok() && Clock::now() < deadline) {
  }
  EXPECT_TRUE(server_->Running()) << "serve exited with a request in flight";
  {
    std::lock_guard lock(mutex);
    resume = true;
    changed.notify_all();
  }
  const auto response = in_flight.get();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 405);  // answered in full: POST is not a method of /healthz
  EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "MethodNotAllowed");
  EXPECT_EQ(server_->WaitForExit(Clock::now() + kDeadline), std::optional<int>(0));
  EXPECT_FALSE(fs::exists(dir_ / "port"));
}

TEST_F(ServeTest, PlainHttpIsRefusedOnANonLoopbackAddress) {
  const RunResult result = RunStackbill({"serve", "--db", (dir_ / "s.db").string(), "--bind",
                                         "0.0.0.0", "--port", "0", "--insecure-http"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("loopback"), std::string::npos) << result.output;
}

TEST_F(ServeTest, TlsIsRequiredUnlessPlainHttpIsAskedFor) {
  const RunResult result = RunStackbill({"serve", "--db", (dir_ / "s.db").string(), "--port", "0"});
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("TLS"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace stackbill
