#include "http/arm.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace stackbill {
namespace {

HttpRequest WithQuery(std::vector<std::pair<std::string, std::string>> query) {
  HttpRequest request;
  request.method = "GET";
  request.path = "/x";
  request.query = std::move(query);
  return request;
}

TEST(ArmTest, AMissingApiVersionIsMissingApiVersionParameterInArmsWords) {
  const auto version = CheckApiVersion(WithQuery({}), {"2017-06-01"});
  EXPECT_EQ(version.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(version.status()), "MissingApiVersionParameter");
  EXPECT_EQ(Message(version.status()),
            "The api-version query parameter (?api-version=) is required for all requests.");
  EXPECT_EQ(ErrorCode(CheckApiVersion(WithQuery({{"api-version", ""}}), {"2017-06-01"}).status()),
            "MissingApiVersionParameter");
}

TEST(ArmTest, AnUnsupportedApiVersionIsInvalidApiVersionParameterListingTheSupportedOnes) {
  const auto version =
      CheckApiVersion(WithQuery({{"api-version", "2019-01-01"}}), {"2017-06-01", "2022-06-01"});
  EXPECT_EQ(ErrorCode(version.status()), "InvalidApiVersionParameter");
  EXPECT_EQ(Message(version.status()),
            "The api-version '2019-01-01' is invalid. The supported versions are "
            "'2017-06-01,2022-06-01'.");
}

TEST(ArmTest, TheApiVersionParameterNameMatchesInAnyCase) {
  const auto version =
      CheckApiVersion(WithQuery({{"API-Version", "2022-06-01"}}), {"2017-06-01", "2022-06-01"});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, "2022-06-01");
}

TEST(ArmTest, NextLinkIsAbsoluteAndPercentEncoded) {
  EXPECT_EQ(NextLink("https://billing.example.com:8443/", "/subscriptions/s 1/registrations",
                     {{"api-version", "2017-06-01"}, {"$skipToken", "a+b/c=d&e"}}),
            "https://billing.example.com:8443/subscriptions/s%201/registrations"
            "?api-version=2017-06-01&%24skipToken=a%2Bb%2Fc%3Dd%26e");
}

TEST(ArmTest, AStrongETagIsQuotedHexAndFollowsTheRepresentation) {
  const std::string a = StrongETag(R"({"a":1})");
  EXPECT_EQ(a.size(), 34u);
  EXPECT_EQ(a.front(), '"');
  EXPECT_EQ(a.back(), '"');
  EXPECT_EQ(a, StrongETag(R"({"a":1})"));
  EXPECT_NE(a, StrongETag(R"({"a":2})"));
}

TEST(ArmTest, IfMatchMismatchIsPreconditionFailed) {
  HttpRequest request = WithQuery({});
  EXPECT_TRUE(CheckIfMatch(request, std::string("\"abc\"")).ok());
  request.headers.emplace_back("if-match", "\"xyz\", \"abc\"");
  EXPECT_TRUE(CheckIfMatch(request, std::string("\"abc\"")).ok());
  const absl::Status mismatch = CheckIfMatch(request, std::string("\"def\""));
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(mismatch), "PreconditionFailed");
  request.headers = {{"if-match", "*"}};
  EXPECT_TRUE(CheckIfMatch(request, std::string("\"def\"")).ok());
  EXPECT_EQ(ErrorCode(CheckIfMatch(request, std::nullopt)), "PreconditionFailed");
}

TEST(ArmTest, JsonResponseCarriesTheETag) {
  const HttpResponse response = JsonResponse(201, nlohmann::json{{"name", "r1"}}, "\"e1\"");
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, R"({"name":"r1"})");
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0], (std::pair<std::string, std::string>{"ETag", "\"e1\""}));
}

TEST(ArmTest, PageByOffsetLinksToTheNextPageCarryingTheQuery) {
  HttpRequest request = WithQuery({{"$skiptoken", "2"}});
  request.path = "/v1/stacks";
  auto page =
      PageByOffset(request, "https://billing.example.com/", 5, 2, {{"api-version", "2017-06-01"}});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->begin, 2u);
  EXPECT_EQ(page->end, 4u);
  EXPECT_EQ(page->next_link,
            "https://billing.example.com/v1/stacks?api-version=2017-06-01&%24skiptoken=4");
  request.query = {{"$skiptoken", "4"}};
  auto last = PageByOffset(request, "https://billing.example.com", 5, 2, {});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->end, 5u);
  EXPECT_FALSE(last->next_link.has_value());
}

TEST(ArmTest, PageByOffsetRefusesASkipTokenThatIsNotAnOffset) {
  for (const char* token : {"-1", "x", "3x", ""}) {
    auto page = PageByOffset(WithQuery({{"$skiptoken", token}}), "https://h", 5, 2, {});
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_EQ(ErrorCode(page.status()), "InvalidSkipToken") << token;
  }
}

}  // namespace
}  // namespace stackbill
