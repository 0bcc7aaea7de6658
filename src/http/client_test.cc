#include "http/client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "core/error.h"

namespace stackbill {
namespace {

HttpClientOptions Options(std::string endpoint, std::string ca_file = "") {
  HttpClientOptions options;
  options.endpoint = std::move(endpoint);
  options.ca_file = std::move(ca_file);
  return options;
}

// A plain-HTTP server on a free loopback port answering a few fixed routes.
class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/ok", [](const httplib::Request& request, httplib::Response& response) {
      response.set_content(
          nlohmann::json{{"auth", request.get_header_value("Authorization")}}.dump(),
          "application/json");
    });
    server_.Put("/echo", [](const httplib::Request& request, httplib::Response& response) {
      response.status = 201;
      response.set_content(request.body, "application/json");
    });
    server_.Get("/conflict", [](const httplib::Request&, httplib::Response& response) {
      response.status = 409;
      response.set_content(
          R"({"error":{"code":"CloudAlreadyRegistered","message":"Cloud identifier x is already registered"}})",
          "application/json");
    });
    server_.Get("/plain-error", [](const httplib::Request&, httplib::Response& response) {
      response.status = 502;
      response.set_content("bad gateway", "text/plain");
    });
    server_.Delete("/empty", [](const httplib::Request&, httplib::Response& response) {
      response.status = 204;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Poll with a deadline until the listener thread runs.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_TRUE(server_.is_running());
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::unique_ptr<HttpClient> Client(std::string token = "") {
    auto client = HttpClient::Create({.endpoint = "http://127.0.0.1:" + std::to_string(port_),
                                      .token = std::move(token),
                                      .ca_file = "",
                                      .connect_timeout_seconds = 5,
                                      .read_timeout_seconds = 5});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(ClientTest, SendsTheBearerTokenAndParsesJson) {
  auto answer = Client("sbt_x")->Call("GET", "/ok");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ((*answer)["auth"], "Bearer sbt_x");
  nlohmann::json body = {{"a", 1}};
  auto echoed = Client()->Call("PUT", "/echo", &body);
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(*echoed, body);
  auto empty = Client()->Call("DELETE", "/empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->is_null());
}

TEST_F(ClientTest, AnArmErrorBecomesAStatusWithItsCodeAndMessage) {
  auto answer = Client()->Call("GET", "/conflict");
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorCode(answer.status()), "CloudAlreadyRegistered");
  EXPECT_EQ(Message(answer.status()), "Cloud identifier x is already registered");

  auto plain = Client()->Call("GET", "/plain-error");
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorCode(plain.status()), "Http502");
  EXPECT_EQ(Message(plain.status()), "bad gateway");

  auto missing = Client()->Call("GET", "/nowhere");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, NoAnswerIsUnavailableNamingTheEndpoint) {
  server_.stop();
  auto answer = Client()->Call("GET", "/ok");
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(Message(answer.status()).find("127.0.0.1"), std::string::npos);
}

TEST(ClientCreateTest, RefusesEndpointsItCannotUse) {
  EXPECT_EQ(HttpClient::Create(Options("ftp://h")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpClient::Create(Options("https://h:1/v1")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(HttpClient::Create(Options("https://h:1", "/no/such.pem")).status()),
            "InvalidCaFile");
  EXPECT_TRUE(HttpClient::Create(Options("https://127.0.0.1:8443")).ok());
}

TEST(UrlEncodeTest, KeepsUnreservedCharactersAndEncodesTheRest) {
  EXPECT_EQ(UrlEncode("a-Z_0.9~"), "a-Z_0.9~");
  EXPECT_EQ(UrlEncode("a b/c@d?"), "a%20b%2Fc%40d%3F");
}

}  // namespace
}  // namespace stackbill
