#include <gtest/gtest.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/api_commands.h"
#include "wire/registration_token.h"

namespace stackbill {
namespace {

class StackTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/stackbill-token-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `stack token ARGS… --out FILE` and decodes what it wrote.
  absl::StatusOr<RegistrationToken> Run(std::vector<std::string> args) {
    CLI::App app;
    int exit_code = -1;
    auto* stack = app.add_subcommand("stack");
    AddStackTokenCommand(*stack, exit_code);
    const std::string out = dir_ + "/token";
    args.insert(args.begin(), {"stackbill", "stack", "token", "--out", out});
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    app.parse(static_cast<int>(argv.size()), argv.data());
    if (exit_code != 0) return absl::InvalidArgumentError("stack token failed");
    struct stat file {};
    EXPECT_EQ(::stat(out.c_str(), &file), 0);
    EXPECT_EQ(file.st_mode & 0777, 0600u);
    std::ifstream in(out);
    std::string text;
    std::getline(in, text);
    return DecodeRegistrationToken(text);
  }

  std::string dir_;
};

TEST_F(StackTokenTest, TheWrittenTokenDecodesToWhatWasAskedFor) {
  auto token = Run({"--cloud-id", "5BF881B3-4D56-4E2E-A8BE-5D3B1C4D9B0A", "--billing-model",
                    "Capacity", "--agreement-number", "EA-1234", "--usage-reporting", "on",
                    "--deployment-directory-id", "2ad9d0f7-d8a0-4f3b-8b1f-2c3d4e5f6a7b",
                    "--multi-tenant", "--object-id", "0b5d5e61-6c2a-4a3e-9e0e-1f2d3c4b5a69"});
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->cloud_id.ToString(), "5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a");
  EXPECT_EQ(token->object_id.ToString(), "0b5d5e61-6c2a-4a3e-9e0e-1f2d3c4b5a69");
  EXPECT_EQ(token->billing_model, BillingModel::kCapacity);
  EXPECT_TRUE(token->usage_reporting_enabled);
  EXPECT_EQ(token->agreement_number, "EA-1234");
  ASSERT_TRUE(token->deployment_directory_id.has_value());
  EXPECT_EQ(token->deployment_directory_id->ToString(), "2ad9d0f7-d8a0-4f3b-8b1f-2c3d4e5f6a7b");
  EXPECT_TRUE(token->multi_tenant);
}

TEST_F(StackTokenTest, ObjectIdIsRandomWhenNotGivenAndUsageReportingFollowsTheModel) {
  auto first = Run({"--cloud-id", "5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a", "--billing-model",
                    "Custom", "--asset-tag", "tag-7"});
  auto second =
      Run({"--cloud-id", "5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a", "--billing-model", "PayAsYouUse"});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(first->object_id.IsNil());
  EXPECT_NE(first->object_id, second->object_id);
  EXPECT_FALSE(first->usage_reporting_enabled);  // Custom: off by default (SPEC §3.1)
  EXPECT_EQ(first->ms_asset_tag, "tag-7");
  EXPECT_TRUE(second->usage_reporting_enabled);
  EXPECT_FALSE(second->multi_tenant);
}

TEST_F(StackTokenTest, AMalformedCloudIdFails) {
  EXPECT_FALSE(Run({"--cloud-id", "not-a-guid", "--billing-model", "PayAsYouUse"}).ok());
  EXPECT_FALSE(
      Run({"--cloud-id", "5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a", "--billing-model", "Monthly"})
          .ok());
}

}  // namespace
}  // namespace stackbill
