#include "wire/registration_token.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "core/error.h"

namespace stackbill {
namespace {

std::string Token(const std::string& json) { return absl::Base64Escape(json); }

void ExpectInvalid(std::string_view token, std::string_view field) {
  auto decoded = DecodeRegistrationToken(token);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(decoded.status()), "InvalidRegistrationToken");
  EXPECT_NE(Message(decoded.status()).find(field), std::string_view::npos) << decoded.status();
}

TEST(RegistrationTokenTest, DecodesAzureStackKeysCaseInsensitivelyAndIgnoresUnknownOnes) {
  auto token = DecodeRegistrationToken(Token(R"({
    "CloudId": "5BF881B3-4D56-4E2E-A8BE-5D3B1C4D9B0A",
    "objectId": "0b5d5e61-6c2a-4a3e-9e0e-1f2d3c4b5a69",
    "billingModel": "payasyouuse",
    "marketplaceSyndicationEnabled": true,
    "hardwareInfo": [{"nodeCount": 4}, "x"],
    "issuer": "AzureStack", "version": "1.0",
    "deploymentDirectoryId": "2ad9d0f7d8a04f3b8b1f2c3d4e5f6a7b",
    "multiTenant": true,
    "somethingNew": {"ignored": [1, 2]}
  })"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->cloud_id.ToString(), "5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a");
  EXPECT_EQ(token->billing_model, BillingModel::kPayAsYouUse);
  EXPECT_TRUE(token->marketplace_syndication_enabled);
  EXPECT_TRUE(token->usage_reporting_enabled);
  EXPECT_TRUE(token->multi_tenant);
  ASSERT_EQ(token->hardware_info.size(), 2u);
  EXPECT_EQ(token->hardware_info[0], R"({"nodeCount":4})");
  EXPECT_EQ(token->deployment_directory_id->ToString(), "2ad9d0f7-d8a0-4f3b-8b1f-2c3d4e5f6a7b");
}

TEST(RegistrationTokenTest, R9_UsageReportingDefaultsFollowTheBillingModel) {
  auto capacity = DecodeRegistrationToken(Token(
      R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":"Capacity","agreementNumber":"EA-1"})"));
  ASSERT_TRUE(capacity.ok()) << capacity.status();
  EXPECT_FALSE(capacity->usage_reporting_enabled);
  EXPECT_EQ(capacity->agreement_number, "EA-1");
  auto custom = DecodeRegistrationToken(
      Token(R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":"Custom"})"));
  EXPECT_FALSE(custom->usage_reporting_enabled);
  auto development = DecodeRegistrationToken(
      Token(R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":"Development"})"));
  EXPECT_TRUE(development->usage_reporting_enabled);
  auto explicit_off = DecodeRegistrationToken(Token(
      R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":"PayAsYouUse","usageReportingEnabled":false})"));
  EXPECT_FALSE(explicit_off->usage_reporting_enabled);
}

TEST(RegistrationTokenTest, RoundTripsThroughEncode) {
  RegistrationToken token;
  token.cloud_id = *Guid::Parse("5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a");
  token.object_id = *Guid::Parse("0b5d5e61-6c2a-4a3e-9e0e-1f2d3c4b5a69");
  token.billing_model = BillingModel::kCustom;
  token.usage_reporting_enabled = false;
  token.ms_asset_tag = "tag-7";
  token.hardware_info = {R"({"nodes":4})"};
  token.issuer = "stackbill";
  token.version = "1";
  token.multi_tenant = true;
  auto decoded = DecodeRegistrationToken(EncodeRegistrationToken(token));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, token);
}

TEST(RegistrationTokenTest, RejectsTextThatIsNotBase64) { ExpectInvalid("***", "base64"); }

TEST(RegistrationTokenTest, RejectsATokenThatIsNotAJsonObject) {
  ExpectInvalid(Token("[1,2]"), "JSON object");
  ExpectInvalid(Token("{\"cloudId\":"), "JSON object");
}

TEST(RegistrationTokenTest, RejectsAnEmptyOrOversizedToken) {
  ExpectInvalid("", "empty");
  ExpectInvalid(std::string(kMaxRegistrationTokenBytes + 4, 'A'), "at most 65536");
}

TEST(RegistrationTokenTest, NamesAMissingCloudId) {
  ExpectInvalid(Token(R"({"billingModel":"PayAsYouUse"})"), "'cloudId'");
}

TEST(RegistrationTokenTest, NamesAMissingBillingModel) {
  ExpectInvalid(Token(R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a"})"), "'billingModel'");
}

TEST(RegistrationTokenTest, NamesAFieldWithAMalformedGuid) {
  ExpectInvalid(Token(R"({"cloudId":"not-a-guid","billingModel":"PayAsYouUse"})"), "'cloudId'");
}

TEST(RegistrationTokenTest, NamesAFieldWithTheWrongType) {
  ExpectInvalid(
      Token(
          R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":"PayAsYouUse","multiTenant":"yes"})"),
      "'multiTenant'");
  ExpectInvalid(Token(R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":7})"),
                "'billingModel'");
}

TEST(RegistrationTokenTest, NamesAnUnknownBillingModel) {
  ExpectInvalid(
      Token(R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":"Free"})"),
      "'billingModel'");
}

TEST(RegistrationTokenTest, RejectsAKeyGivenTwiceInAnyCase) {
  ExpectInvalid(
      Token(
          R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","CLOUDID":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0b","billingModel":"PayAsYouUse"})"),
      "'CLOUDID'");
}

TEST(RegistrationTokenTest, RejectsTextAfterTheObject) {
  ExpectInvalid(
      Token(R"({"cloudId":"5bf881b3-4d56-4e2e-a8be-5d3b1c4d9b0a","billingModel":"PayAsYouUse"} x)"),
      "JSON object");
}

}  // namespace
}  // namespace stackbill
