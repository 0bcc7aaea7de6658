#include "http/server.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "http/dev_cert.h"
#include "http/ops_routes.h"
#include "http/testing/test_client.h"
#include "services/testing/refusing_authenticator.h"

namespace stackbill {
namespace {

// A gate a handler waits at until the test opens it.
class Gate {
 public:
  void Arrive() {
    std::unique_lock lock(mutex_);
    arrived_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::seconds(30), [this] { return open_; });
  }
  bool WaitForArrival() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [this] { return arrived_; });
  }
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool arrived_ = false;
  bool open_ = false;
};

const Timestamp kNow = Timestamp::FromUnixSeconds(1'800'000'000);

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("stackbill-server-test-" + std::to_string(::getpid())));
    std::filesystem::remove_all(*dir_);
    // The TLS library checks the certificate against the real clock.
    const auto cert = MakeDevCertificate(Timestamp::FromUnixSeconds(std::time(nullptr)));
    ASSERT_TRUE(cert.ok()) << cert.status();
    ASSERT_TRUE(WriteDevCertificate(*cert, dir_->string(), true).ok());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    ASSERT_TRUE(AddOpsRoutes(router_, OpsOptions{.readiness = [] { return absl::OkStatus(); },
                                                 .metrics = &metrics_})
                    .ok());
    ASSERT_TRUE(router_
                    .Add({"POST", "/echo", Authentication::kNone, "test.echo",
                          [](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
                            nlohmann::json query = nlohmann::json::array();
                            for (const auto& [k, v] : context.request.query) {
                              query.push_back({k, v});
                            }
                            return HttpResponse::Json(
                                200, nlohmann::json{{"path", context.request.path},
                                                    {"query", query},
                                                    {"body", context.request.body},
                                                    {"now", context.now.ToString()}}
                                         .dump());
                          }})
                    .ok());
    ASSERT_TRUE(router_
                    .Add({"GET", "/slow", Authentication::kNone, "test.slow",
                          [this](const RequestContext&) -> absl::StatusOr<HttpResponse> {
                            gate_.Arrive();
                            return HttpResponse::Json(200, R"({"slow":true})");
                          }})
                    .ok());
    // A route taking larger bodies than the server's default (like usage).
    ASSERT_TRUE(router_
                    .Add({"POST", "/big", Authentication::kNone, "test.big",
                          [](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
                            return HttpResponse::Json(
                                200, nlohmann::json{{"bytes", context.request.body.size()}}.dump());
                          },
                          nullptr, 8192})
                    .ok());
  }

  ServerOptions TlsOptions() const {
    ServerOptions options;
    options.port = 0;
    options.tls_cert_file = (*dir_ / "cert.pem").string();
    options.tls_key_file = (*dir_ / "key.pem").string();
    options.max_body_bytes = 1024;
    options.threads = 4;
    return options;
  }

  std::unique_ptr<HttpServer> StartServer(ServerOptions options) {
    auto server = HttpServer::Create(std::move(options), router_, metrics_, [] { return kNow; });
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return nullptr;
    const absl::Status started = (*server)->Start();
    EXPECT_TRUE(started.ok()) << started;
    return *std::move(server);
  }

  TestHttpClient Client(const HttpServer& server) const {
    TestClientOptions options;
    options.port = server.port();
    options.ca_file = (*dir_ / "cert.pem").string();
    return TestHttpClient(options);
  }

  static std::filesystem::path* dir_;
  RefusingAuthenticator authenticator_;
  Router router_{authenticator_, "https://billing.example.com"};
  RequestMetrics metrics_;
  Gate gate_;
};

std::filesystem::path* ServerTest::dir_ = nullptr;

TEST_F(ServerTest, HealthzAnswersOverTlsWithARequestId) {
  auto server = StartServer(TlsOptions());
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  const auto response = Client(*server).Send("GET", "/healthz");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  const auto id = response->Header("x-ms-request-id");
  ASSERT_TRUE(id.has_value());
  EXPECT_TRUE(Guid::IsCanonical(*id)) << *id;
}

TEST_F(ServerTest, TheRequestReachesTheRouterDecodedWithTheServersClock) {
  auto server = StartServer(TlsOptions());
  ASSERT_NE(server, nullptr);
  const auto response =
      Client(*server).Send("POST", "/echo/?b=2&a=x%2By+z&Api-Version=2017-06-01", {}, R"({"x":1})");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->status, 200) << response->body;
  const auto body = nlohmann::json::parse(response->body);
  EXPECT_EQ(body["path"], "/echo/");
  EXPECT_EQ(body["query"],
            nlohmann::json::parse(R"([["b","2"],["a","x+y z"],["Api-Version","2017-06-01"]])"));
  EXPECT_EQ(body["body"], R"({"x":1})");
  EXPECT_EQ(body["now"], kNow.ToString());
}

TEST_F(ServerTest, TheCallersClientRequestIdIsEchoed) {
  auto server = StartServer(TlsOptions());
  ASSERT_NE(server, nullptr);
  const auto response =
      Client(*server).Send("GET", "/healthz", {{"x-ms-client-request-id", "my-id-1"}});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->Header("x-ms-client-request-id"), "my-id-1");
  EXPECT_NE(response->Header("x-ms-request-id"), "my-id-1");
}

TEST_F(ServerTest, ABodyOverTheLimitIs413InTheArmEnvelope) {
  auto server = StartServer(TlsOptions());
  ASSERT_NE(server, nullptr);
  const auto response = Client(*server).Send("POST", "/echo", {}, std::string(4096, 'x'));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "RequestEntityTooLarge");
  EXPECT_TRUE(response->Header("x-ms-request-id").has_value());
}

TEST_F(ServerTest, ARouteWithItsOwnLimitTakesLargerBodiesUpToIt) {
  auto server = StartServer(TlsOptions());
  ASSERT_NE(server, nullptr);
  const auto fits = Client(*server).Send("POST", "/big", {}, std::string(4096, 'x'));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->status, 200) << fits->body;
  EXPECT_EQ(nlohmann::json::parse(fits->body)["bytes"], 4096);
  const auto over = Client(*server).Send("POST", "/big", {}, std::string(9000, 'x'));
  ASSERT_TRUE(over.ok()) << over.status();
  EXPECT_EQ(over->status, 413);
  EXPECT_EQ(nlohmann::json::parse(over->body)["error"]["code"], "RequestEntityTooLarge");
}

TEST_F(ServerTest, BodiesBeyondTheInFlightBudgetAre429WithRetryAfter) {
  ServerOptions options = TlsOptions();
  options.max_body_bytes_in_flight = 3000;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  const auto refused = Client(*server).Send("POST", "/big", {}, std::string(4096, 'x'));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(refused->Header("Retry-After"), "1");
  EXPECT_EQ(nlohmann::json::parse(refused->body)["error"]["code"], "TooManyRequests");
  // The budget is given back: a body that fits still goes through.
  const auto fits = Client(*server).Send("POST", "/big", {}, std::string(1000, 'x'));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->status, 200);
  const auto again = Client(*server).Send("POST", "/big", {}, std::string(2500, 'x'));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 200) << "the first request's bytes were released";
}

TEST_F(ServerTest, UnauthenticatedMetricsIs401AndRequestsAreCounted) {
  auto server = StartServer(TlsOptions());
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(Client(*server).Send("GET", "/healthz").ok());
  const auto response = Client(*server).Send("GET", "/metrics");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(nlohmann::json::parse(response->body)["error"]["code"], "AuthenticationFailed");
  const std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(
      text.find(
          R"(stackbill_http_requests_total{route="ops.healthz",method="GET",status="200"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          R"(stackbill_http_requests_total{route="ops.metrics",method="GET",status="401"} 1)"),
      std::string::npos)
      << text;
}

TEST_F(ServerTest, StopFinishesTheRequestInFlight) {
  auto server = StartServer(TlsOptions());
  ASSERT_NE(server, nullptr);
  const TestHttpClient client = Client(*server);
  auto slow = std::async(std::launch::async, [&client] { return client.Send("GET", "/slow"); });
  ASSERT_TRUE(gate_.WaitForArrival());
  EXPECT_NE(metrics_.RenderPrometheus().find("stackbill_http_requests_in_flight 1\n"),
            std::string::npos);
  auto stopped = std::async(std::launch::async, [&server] { server->Stop(); });
  // Stopping closes the listener first: poll until new connections fail.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (client.Send("GET", "/healthz").ok() && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "Stop() returned before the request in flight was answered";
  gate_.Open();
  stopped.get();
  const auto response = slow.get();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_FALSE(server->running());
}

TEST_F(ServerTest, PlainHttpIsServedOnLoopbackWhenAskedFor) {
  ServerOptions options;
  options.port = 0;
  options.insecure_http = true;
  auto server = StartServer(options);
  ASSERT_NE(server, nullptr);
  TestClientOptions client_options;
  client_options.port = server->port();
  client_options.tls = false;
  const auto response = TestHttpClient(client_options).Send("GET", "/healthz");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
}

TEST(ServerOptionsTest, PlainHttpIsRefusedOnANonLoopbackAddress) {
  ServerOptions options;
  options.insecure_http = true;
  options.bind_address = "0.0.0.0";
  const absl::Status status = ValidateServerOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(Message(status).find("loopback"), std::string::npos);
  options.bind_address = "::1";
  EXPECT_TRUE(ValidateServerOptions(options).ok());
}

TEST(ServerOptionsTest, TlsIsTheDefaultAndNeedsACertificateAndKey) {
  ServerOptions options;
  EXPECT_EQ(ValidateServerOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  EXPECT_TRUE(ValidateServerOptions(options).ok());
  RefusingAuthenticator authenticator;
  Router router(authenticator, "");
  RequestMetrics metrics;
  EXPECT_EQ(HttpServer::Create(options, router, metrics, [] { return kNow; }).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ServerOptionsTest, LoopbackAddressesAreRecognised) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("LocalHost"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackAddress("::"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("example.com"));
}

}  // namespace
}  // namespace stackbill
