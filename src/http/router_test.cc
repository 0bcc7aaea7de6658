#include "http/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/error.h"

namespace stackbill {
namespace {

constexpr std::string_view kPrincipalToken = "sbt_principal";
constexpr std::string_view kStackKey = "sbk_stack";

class FakeAuthenticator : public Authenticator {
 public:
  absl::StatusOr<Caller> AuthenticatePrincipal(std::string_view bearer, Timestamp now) override {
    last_now = now;
    if (bearer != kPrincipalToken) {
      return MakeError(absl::StatusCode::kUnauthenticated, "InvalidAuthenticationToken",
                       "The access token is invalid.");
    }
    Caller caller;
    caller.principal_id = *Guid::Parse("11111111-1111-1111-1111-111111111111");
    return caller;
  }
  absl::StatusOr<Caller> AuthenticateStack(std::string_view key, Timestamp now) override {
    last_now = now;
    if (key != kStackKey) {
      return MakeError(absl::StatusCode::kUnauthenticated, "InvalidActivationKey",
                       "The activation key is invalid.");
    }
    Caller caller;
    caller.stack_cloud_id = *Guid::Parse("22222222-2222-2222-2222-222222222222");
    return caller;
  }
  Timestamp last_now;
};

HttpRequest Request(std::string method, std::string path, std::string token = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.request_id = "rid-1";
  if (!token.empty()) request.headers.emplace_back("authorization", "Bearer " + token);
  return request;
}

std::string ArmCode(const HttpResponse& response) {
  return nlohmann::json::parse(response.body).at("error").at("code").get<std::string>();
}

std::string Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

RouteHandler Echo(std::string what) {
  return [what](const RequestContext&) -> absl::StatusOr<HttpResponse> {
    return HttpResponse::Json(200, nlohmann::json{{"route", what}}.dump());
  };
}

std::string RouteOf(const HttpResponse& response) {
  return nlohmann::json::parse(response.body).at("route").get<std::string>();
}

const Timestamp kNow = Timestamp::FromUnixSeconds(1'800'000'000);

class RouterTest : public ::testing::Test {
 protected:
  FakeAuthenticator authenticator_;
  Router router_{authenticator_, "https://billing.example.com"};
};

TEST_F(RouterTest, PathParametersArePassedAsReceivedAndLiteralsMatchInAnyCase) {
  ASSERT_TRUE(
      router_
          .Add({.method = "GET",
                .pattern = "/subscriptions/{subscriptionId}/resourceGroups/{rg}",
                .authentication = Authentication::kNone,
                .name = "rg.get",
                .handler = [](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
                  return HttpResponse::Json(200,
                                            nlohmann::json{{"sub", context.Param("subscriptionId")},
                                                           {"rg", context.Param("rg")},
                                                           {"base", context.public_base_url}}
                                                .dump());
                }})
          .ok());
  const HttpResponse response =
      router_.Dispatch(Request("GET", "/SUBSCRIPTIONS/AbC/resourcegroups/My Group/"), kNow);
  ASSERT_EQ(response.status, 200);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["sub"], "AbC");
  EXPECT_EQ(body["rg"], "My Group");
  EXPECT_EQ(body["base"], "https://billing.example.com");
}

TEST_F(RouterTest, AnUnknownPathIs404NotFoundWithTheRequestId) {
  ASSERT_TRUE(router_.Add({"GET", "/a", Authentication::kNone, "a", Echo("a")}).ok());
  const HttpResponse response = router_.Dispatch(Request("GET", "/b"), kNow);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(ArmCode(response), "NotFound");
  EXPECT_EQ(Header(response, "x-ms-request-id"), "rid-1");
}

TEST_F(RouterTest, AKnownPathWithAnotherMethodIs405WithAllow) {
  ASSERT_TRUE(router_.Add({"GET", "/a/{id}", Authentication::kNone, "a.get", Echo("a")}).ok());
  ASSERT_TRUE(router_.Add({"PUT", "/a/{id}", Authentication::kNone, "a.put", Echo("a")}).ok());
  const HttpResponse response = router_.Dispatch(Request("POST", "/a/1"), kNow);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(ArmCode(response), "MethodNotAllowed");
  EXPECT_EQ(Header(response, "Allow"), "GET, PUT");
  EXPECT_EQ(Header(response, "x-ms-request-id"), "rid-1");
}

TEST_F(RouterTest, ALiteralSegmentBeatsAParameterWhateverTheOrderOfAdding) {
  ASSERT_TRUE(
      router_.Add({"GET", "/v1/invoices/{id}", Authentication::kNone, "id", Echo("id")}).ok());
  ASSERT_TRUE(router_
                  .Add({"GET", "/v1/invoices/estimate", Authentication::kNone, "estimate",
                        Echo("estimate")})
                  .ok());
  EXPECT_EQ(RouteOf(router_.Dispatch(Request("GET", "/v1/invoices/Estimate"), kNow)), "estimate");
  EXPECT_EQ(RouteOf(router_.Dispatch(Request("GET", "/v1/invoices/inv-1"), kNow)), "id");
  EXPECT_EQ(router_.Match("GET", "/v1/invoices/estimate")->name, "estimate");
  EXPECT_EQ(router_.Match("DELETE", "/v1/invoices/estimate"), nullptr);
}

TEST_F(RouterTest, MalformedAndDuplicatePatternsAreRefused) {
  EXPECT_EQ(router_.Add({"GET", "a", Authentication::kNone, "x", Echo("x")}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.Add({"GET", "/a//b", Authentication::kNone, "x", Echo("x")}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.Add({"GET", "/a/{}", Authentication::kNone, "x", Echo("x")}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.Add({"GET", "/a/{b}/{b}", Authentication::kNone, "x", Echo("x")}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(router_.Add({"GET", "/a/x{b}", Authentication::kNone, "x", Echo("x")}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(router_.Add({"GET", "/a/{id}", Authentication::kNone, "x", Echo("x")}).ok());
  const absl::Status duplicate =
      router_.Add({"get", "/A/{other}/", Authentication::kNone, "y", Echo("y")});
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(duplicate), "DuplicateRoute");
  EXPECT_TRUE(router_.Add({"PUT", "/a/{id}", Authentication::kNone, "z", Echo("z")}).ok());
}

TEST_F(RouterTest, AMissingAuthorizationHeaderIs401AuthenticationFailed) {
  ASSERT_TRUE(router_.Add({"GET", "/p", Authentication::kPrincipal, "p", Echo("p")}).ok());
  const HttpResponse response = router_.Dispatch(Request("GET", "/p"), kNow);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(ArmCode(response), "AuthenticationFailed");
  EXPECT_EQ(Header(response, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(Header(response, "x-ms-request-id"), "rid-1");
}

TEST_F(RouterTest, ANonBearerAuthorizationIs401AuthenticationFailed) {
  ASSERT_TRUE(router_.Add({"GET", "/p", Authentication::kPrincipal, "p", Echo("p")}).ok());
  HttpRequest request = Request("GET", "/p");
  request.headers.emplace_back("authorization", "Basic dXNlcjpwYXNz");
  const HttpResponse response = router_.Dispatch(request, kNow);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(ArmCode(response), "AuthenticationFailed");
}

TEST_F(RouterTest, AnInvalidTokenGetsTheAuthenticatorsCode) {
  ASSERT_TRUE(router_.Add({"GET", "/p", Authentication::kPrincipal, "p", Echo("p")}).ok());
  const HttpResponse response = router_.Dispatch(Request("GET", "/p", "sbt_wrong"), kNow);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(ArmCode(response), "InvalidAuthenticationToken");
}

TEST_F(RouterTest, TheHandlerSeesTheAuthenticatedCallerAndTheServersClock) {
  ASSERT_TRUE(
      router_
          .Add({.method = "GET",
                .pattern = "/p",
                .authentication = Authentication::kPrincipal,
                .name = "p",
                .handler = [](const RequestContext& context) -> absl::StatusOr<HttpResponse> {
                  EXPECT_EQ(context.now, kNow);
                  return HttpResponse::Json(
                      200,
                      nlohmann::json{{"route", context.caller.principal_id.ToString()}}.dump());
                }})
          .ok());
  const HttpResponse response = router_.Dispatch(Request("GET", "/p", "sbt_principal"), kNow);
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(RouteOf(response), "11111111-1111-1111-1111-111111111111");
  EXPECT_EQ(authenticator_.last_now, kNow);
}

TEST_F(RouterTest, AStackKeyRouteRefusesAPrincipalTokenAndAcceptsAKey) {
  ASSERT_TRUE(router_.Add({"POST", "/s", Authentication::kStackKey, "s", Echo("s")}).ok());
  EXPECT_EQ(router_.Dispatch(Request("POST", "/s", "sbt_principal"), kNow).status, 401);
  EXPECT_EQ(router_.Dispatch(Request("POST", "/s", "sbk_stack"), kNow).status, 200);
}

TEST_F(RouterTest, APrincipalOrStackKeyRouteAcceptsEither) {
  ASSERT_TRUE(
      router_.Add({"PUT", "/m", Authentication::kPrincipalOrStackKey, "m", Echo("m")}).ok());
  EXPECT_EQ(router_.Dispatch(Request("PUT", "/m", "sbt_principal"), kNow).status, 200);
  EXPECT_EQ(router_.Dispatch(Request("PUT", "/m", "sbk_stack"), kNow).status, 200);
  EXPECT_EQ(router_.Dispatch(Request("PUT", "/m", "nope"), kNow).status, 401);
}

TEST_F(RouterTest, AHandlerErrorBecomesTheArmEnvelope) {
  ASSERT_TRUE(router_
                  .Add({"PUT", "/r", Authentication::kNone, "r",
                        [](const RequestContext&) -> absl::StatusOr<HttpResponse> {
                          return AlreadyExistsError("CloudAlreadyRegistered",
                                                    "Cloud identifier c1 is already registered");
                        }})
                  .ok());
  const HttpResponse response = router_.Dispatch(Request("PUT", "/r"), kNow);
  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(ArmCode(response), "CloudAlreadyRegistered");
  EXPECT_EQ(Header(response, "x-ms-request-id"), "rid-1");
}

TEST_F(RouterTest, AThrowingHandlerIs500WithoutItsMessage) {
  ASSERT_TRUE(router_
                  .Add({"GET", "/boom", Authentication::kNone, "boom",
                        [](const RequestContext&) -> absl::StatusOr<HttpResponse> {
                          throw std::runtime_error("secret internals");
                        }})
                  .ok());
  const HttpResponse response = router_.Dispatch(Request("GET", "/boom"), kNow);
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(ArmCode(response), "InternalServerError");
  EXPECT_EQ(response.body.find("secret internals"), std::string::npos);
  EXPECT_EQ(Header(response, "x-ms-request-id"), "rid-1");
}

}  // namespace
}  // namespace stackbill
