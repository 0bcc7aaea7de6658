#include "http/serve_config.h"

#include <gtest/gtest.h>

#include <map>

#include "core/error.h"

namespace stackbill {
namespace {

TEST(ServeConfigTest, TheFileSetsEveryKey) {
  ServeConfig config;
  ASSERT_TRUE(ApplyServeConfigFile(config, R"(# stackbill serve
db = /var/lib/stackbill/s.db
bind=0.0.0.0
port = 9443
port-file = /run/stackbill.port
tls-cert = /etc/stackbill/cert.pem
tls-key = /etc/stackbill/key.pem
public-url = https://billing.example.com
max-body-bytes = 1048576
threads = 16
keep-alive-max-requests = 50
keep-alive-timeout = 7
read-timeout = 11
write-timeout = 12
page-size = 25
)",
                                   "serve.conf")
                  .ok());
  EXPECT_EQ(config.db, "/var/lib/stackbill/s.db");
  EXPECT_EQ(config.server.bind_address, "0.0.0.0");
  EXPECT_EQ(config.server.port, 9443);
  EXPECT_EQ(config.port_file, "/run/stackbill.port");
  EXPECT_EQ(config.server.tls_cert_file, "/etc/stackbill/cert.pem");
  EXPECT_EQ(config.server.tls_key_file, "/etc/stackbill/key.pem");
  EXPECT_EQ(config.public_url, "https://billing.example.com");
  EXPECT_EQ(config.server.max_body_bytes, 1048576u);
  EXPECT_EQ(config.server.threads, 16);
  EXPECT_EQ(config.server.keep_alive_max_requests, 50);
  EXPECT_EQ(config.server.keep_alive_timeout_seconds, 7);
  EXPECT_EQ(config.server.read_timeout_seconds, 11);
  EXPECT_EQ(config.server.write_timeout_seconds, 12);
  EXPECT_EQ(config.page_size, 25);
}

// R10: durability=full survives power loss too; normal (the default)
// survives kill -9 of the server.
TEST(ServeConfigTest, DurabilityIsNormalOrFull) {
  ServeConfig config;
  EXPECT_FALSE(config.durability_full);
  ASSERT_TRUE(ApplyServeConfigFile(config, "durability = full\n", "f").ok());
  EXPECT_TRUE(config.durability_full);
  ASSERT_TRUE(SetServeConfigValue(config, "durability", "normal", "--durability").ok());
  EXPECT_FALSE(config.durability_full);
  EXPECT_EQ(ErrorCode(SetServeConfigValue(config, "durability", "paranoid", "--durability")),
            "InvalidConfiguration");
}

TEST(ServeConfigTest, AutomaticClosingCanBeSwitchedOffAndItsGraceSet) {
  ServeConfig config;
  EXPECT_TRUE(config.auto_close);
  EXPECT_EQ(config.auto_close_grace_hours, 72);  // SPEC §5
  ASSERT_TRUE(ApplyServeConfigFile(config, "auto-close = off\nauto-close-grace = 24\n", "f").ok());
  EXPECT_FALSE(config.auto_close);
  EXPECT_EQ(config.auto_close_grace_hours, 24);
  const absl::Status bad = ApplyServeConfigFile(config, "auto-close = maybe\n", "f");
  EXPECT_EQ(ErrorCode(bad), "InvalidConfiguration");
  EXPECT_EQ(ApplyServeConfigFile(config, "auto-close-grace = -1\n", "f").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ServeConfigTest, UnknownKeysAndBadValuesNameTheLine) {
  ServeConfig config;
  const absl::Status unknown = ApplyServeConfigFile(config, "db = x\nprot = 1\n", "serve.conf");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(unknown), "InvalidConfiguration");
  EXPECT_NE(Message(unknown).find("serve.conf:2"), std::string::npos) << Message(unknown);
  EXPECT_EQ(ApplyServeConfigFile(config, "port = 70000\n", "f").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyServeConfigFile(config, "threads = 4x\n", "f").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyServeConfigFile(config, "just words\n", "f").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ServeConfigTest, TheEnvironmentOverridesTheFile) {
  ServeConfig config;
  ASSERT_TRUE(ApplyServeConfigFile(config, "db = a.db\nport = 1\n", "f").ok());
  const std::map<std::string, std::string> env = {{"STACKBILL_DB", "b.db"},
                                                  {"STACKBILL_PUBLIC_URL", "https://x.example"},
                                                  {"STACKBILL_MAX_BODY_BYTES", "10"}};
  ASSERT_TRUE(ApplyServeConfigEnvironment(config, [&env](const char* name) -> const char* {
                const auto it = env.find(name);
                return it == env.end() ? nullptr : it->second.c_str();
              }).ok());
  EXPECT_EQ(config.db, "b.db");
  EXPECT_EQ(config.server.port, 1);
  EXPECT_EQ(config.public_url, "https://x.example");
  EXPECT_EQ(config.server.max_body_bytes, 10u);
}

TEST(ServeConfigTest, ALaterLayerChoosingPlainHttpDropsEarlierTlsFilesAndViceVersa) {
  ServeConfig config;
  ASSERT_TRUE(ApplyServeConfigFile(config, "tls-cert = c\ntls-key = k\n", "f").ok());
  ASSERT_TRUE(SetServeConfigValue(config, "insecure-http", "true", "--insecure-http").ok());
  EXPECT_TRUE(config.server.insecure_http);
  EXPECT_TRUE(config.server.tls_cert_file.empty());
  ASSERT_TRUE(SetServeConfigValue(config, "tls-cert", "c2", "--tls-cert").ok());
  EXPECT_FALSE(config.server.insecure_http);
}

TEST(ServeConfigTest, TheDefaultPublicUrlUsesTheBoundPort) {
  ServerOptions options;
  EXPECT_EQ(DefaultPublicUrl(options, 5000), "https://127.0.0.1:5000");
  options.bind_address = "0.0.0.0";
  EXPECT_EQ(DefaultPublicUrl(options, 5000), "https://localhost:5000");
  options.bind_address = "::1";
  options.insecure_http = true;
  EXPECT_EQ(DefaultPublicUrl(options, 80), "http://[::1]:80");
}

TEST(ServeConfigTest, APublicUrlMustBeAbsoluteHttp) {
  EXPECT_TRUE(ValidatePublicUrl("https://billing.example.com").ok());
  EXPECT_TRUE(ValidatePublicUrl("http://127.0.0.1:8080/base").ok());
  EXPECT_FALSE(ValidatePublicUrl("billing.example.com").ok());
  EXPECT_FALSE(ValidatePublicUrl("https://").ok());
  EXPECT_FALSE(ValidatePublicUrl("https://x.example/?a=b").ok());
}

}  // namespace
}  // namespace stackbill
