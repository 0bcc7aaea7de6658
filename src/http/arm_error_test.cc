#include "http/arm_error.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace stackbill {
namespace {

std::string Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(ArmErrorTest, TheProductCodeIsTheArmCodeAndTheCanonicalCodeTheHttpStatus) {
  const ArmError error = ToArmError(
      InvalidArgumentError("InvalidRegistrationToken", "registration token: cloudId is missing"));
  EXPECT_EQ(error.http_status, 400);
  EXPECT_EQ(error.code, "InvalidRegistrationToken");
  EXPECT_EQ(error.message, "registration token: cloudId is missing");
}

TEST(ArmErrorTest, EachCanonicalCodeWithoutAProductCodeHasADefault) {
  struct Case {
    absl::Status status;
    int http_status;
    std::string code;
  };
  const Case cases[] = {
      {absl::InvalidArgumentError("x"), 400, "BadRequest"},
      {absl::OutOfRangeError("x"), 400, "BadRequest"},
      {absl::UnauthenticatedError("x"), 401, "AuthenticationFailed"},
      {absl::PermissionDeniedError("x"), 403, "AuthorizationFailed"},
      {absl::NotFoundError("x"), 404, "NotFound"},
      {absl::AlreadyExistsError("x"), 409, "Conflict"},
      {absl::FailedPreconditionError("x"), 409, "Conflict"},
      {absl::ResourceExhaustedError("x"), 429, "TooManyRequests"},
      {absl::UnavailableError("x"), 503, "ServiceUnavailable"},
      {absl::DeadlineExceededError("x"), 504, "GatewayTimeout"},
      {absl::InternalError("x"), 500, "InternalServerError"},
      {absl::UnknownError("x"), 500, "InternalServerError"},
      {absl::DataLossError("x"), 500, "InternalServerError"},
  };
  for (const Case& c : cases) {
    const ArmError error = ToArmError(c.status);
    EXPECT_EQ(error.http_status, c.http_status) << c.status;
    EXPECT_EQ(error.code, c.code) << c.status;
  }
}

TEST(ArmErrorTest, ProductCodesInTheOverrideTableKeepTheirOwnHttpStatus) {
  EXPECT_EQ(ToArmError(MakeError(absl::StatusCode::kFailedPrecondition, "StackNotRegistered",
                                 "cloud c1 is not registered"))
                .http_status,
            403);
  EXPECT_EQ(ToArmError(FailedPreconditionError("PreconditionFailed", "etag")).http_status, 412);
  EXPECT_EQ(ToArmError(FailedPreconditionError("UnauthorizedCspRegistration", "x")).http_status,
            409);
}

TEST(ArmErrorTest, ServerErrorsNeverLeakTheirMessageOrCode) {
  const ArmError error = ToArmError(MakeError(absl::StatusCode::kInternal, "StoreSchemaTooNew",
                                              "/var/lib/stackbill/s.db: SELECT failed"));
  EXPECT_EQ(error.http_status, 500);
  EXPECT_EQ(error.code, "InternalServerError");
  EXPECT_EQ(error.message.find("/var/lib"), std::string::npos);
  EXPECT_EQ(ToArmError(absl::UnavailableError("database is locked")).message.find("locked"),
            std::string::npos);
}

TEST(ArmErrorTest, TheResponseIsTheArmEnvelope) {
  const HttpResponse response =
      ErrorResponse(NotFoundError("SubscriptionNotFound", "subscription 9a1… not found"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json; charset=utf-8");
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body, (nlohmann::json{{"error",
                                   {{"code", "SubscriptionNotFound"},
                                    {"message", "subscription 9a1… not found"}}}}));
}

TEST(ArmErrorTest, RetryableAnswersCarryRetryAfterAnd401CarriesWwwAuthenticate) {
  EXPECT_EQ(Header(ErrorResponse(absl::ResourceExhaustedError("slow down")), "Retry-After"), "1");
  EXPECT_EQ(Header(ErrorResponse(absl::UnavailableError("busy")), "Retry-After"), "1");
  EXPECT_EQ(Header(ErrorResponse(absl::UnauthenticatedError("who")), "WWW-Authenticate"), "Bearer");
}

TEST(ArmErrorTest, InvalidUtf8InAMessageIsReplacedNotThrown) {
  const HttpResponse response = ErrorResponse(InvalidArgumentError("BadRequest", "bad \xff byte"));
  EXPECT_TRUE(nlohmann::json::accept(response.body));
}

}  // namespace
}  // namespace stackbill
