#include "cli/profile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"

namespace stackbill {
namespace {

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/stackbill-profile-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  EnvironmentLookup Env(std::map<std::string, std::string> values) {
    return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
      auto it = values.find(std::string(name));
      if (it == values.end()) return std::nullopt;
      return it->second;
    };
  }

  std::string dir_;
};

TEST_F(ProfileTest, WritesTheProfileMode0600InAPrivateFolderAndReadsItBack) {
  const std::string path = dir_ + "/config/stackbill/profile.json";
  const Profile profile{"https://127.0.0.1:8443", "sbt_secret", "/etc/ca.pem"};
  ASSERT_TRUE(WriteProfile(path, profile).ok());
  struct stat file {};
  ASSERT_EQ(::stat(path.c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
  struct stat folder {};
  ASSERT_EQ(::stat((dir_ + "/config/stackbill").c_str(), &folder), 0);
  EXPECT_EQ(folder.st_mode & 0777, 0700u);
  auto read = ReadProfile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, profile);
}

TEST_F(ProfileTest, RewritingAProfileKeepsMode0600EvenOverAWiderFile) {
  const std::string path = dir_ + "/profile.json";
  { std::ofstream(path) << "{}"; }
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(WriteProfile(path, {"https://h:1", "t", ""}).ok());
  struct stat file {};
  ASSERT_EQ(::stat(path.c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
}

TEST_F(ProfileTest, FlagsWinOverEnvironmentWhichWinsOverTheProfile) {
  const std::string path = dir_ + "/profile.json";
  ASSERT_TRUE(WriteProfile(path, {"https://profile:1", "profile-token", "/profile.pem"}).ok());
  auto env = Env({{"STACKBILL_PROFILE", path},
                  {"STACKBILL_ENDPOINT", "https://env:2"},
                  {"STACKBILL_TOKEN", "env-token"}});

  auto from_env = ResolveConnection({}, env);
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->endpoint, "https://env:2");
  EXPECT_EQ(from_env->token, "env-token");
  EXPECT_EQ(from_env->ca_file, "/profile.pem");  // not in the environment: the profile's

  ConnectionFlags flags;
  flags.endpoint = "https://flag:3";
  flags.token = "flag-token";
  flags.ca_file = "/flag.pem";
  auto from_flags = ResolveConnection(flags, env);
  ASSERT_TRUE(from_flags.ok()) << from_flags.status();
  EXPECT_EQ(from_flags->endpoint, "https://flag:3");
  EXPECT_EQ(from_flags->token, "flag-token");
  EXPECT_EQ(from_flags->ca_file, "/flag.pem");

  auto from_profile = ResolveConnection({}, Env({{"STACKBILL_PROFILE", path}}));
  ASSERT_TRUE(from_profile.ok()) << from_profile.status();
  EXPECT_EQ(from_profile->endpoint, "https://profile:1");
  EXPECT_EQ(from_profile->token, "profile-token");
}

TEST_F(ProfileTest, TheDefaultProfileLivesUnderHomeConfig) {
  auto path = ProfilePath("", Env({{"HOME", "/home/ops"}}));
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "/home/ops/.config/stackbill/profile.json");
  EXPECT_EQ(*ProfilePath("/x.json", Env({{"STACKBILL_PROFILE", "/y.json"}})), "/x.json");
  EXPECT_EQ(*ProfilePath("", Env({{"STACKBILL_PROFILE", "/y.json"}, {"HOME", "/h"}})), "/y.json");
}

TEST_F(ProfileTest, NoEndpointAnywhereIsAFailedPreconditionSayingHowToGiveOne) {
  auto resolved = ResolveConnection({}, Env({{"HOME", dir_}}));
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(resolved.status()), "NoEndpoint");
  EXPECT_NE(Message(resolved.status()).find("stackbill login"), std::string::npos);
}

TEST_F(ProfileTest, AnExplicitProfileThatIsMissingOrBrokenIsAnError) {
  ConnectionFlags flags;
  flags.profile = dir_ + "/missing.json";
  EXPECT_EQ(ResolveConnection(flags, Env({})).status().code(), absl::StatusCode::kNotFound);
  const std::string broken = dir_ + "/broken.json";
  { std::ofstream(broken) << R"({"endpoint": 42})"; }
  auto read = ReadProfile(broken);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(ErrorCode(read.status()), "InvalidProfile");
  EXPECT_NE(Message(read.status()).find("endpoint"), std::string::npos);
}

}  // namespace
}  // namespace stackbill
