#include <gtest/gtest.h>

#include <string>

#include "api/registration_test_world.h"
#include "services/access_tokens.h"

namespace stackbill::testing_world {
namespace {

using AzureStackRoutesTest = RegistrationWorld;

TEST_F(AzureStackRoutesTest, OwnerFromAnotherDirectoryRegistersWith201ThenUpdatesWith200) {
  Reply created = Register();
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.body["id"], RegistrationPath());
  EXPECT_EQ(created.body["name"], "reg1");
  EXPECT_EQ(created.body["type"], "Microsoft.AzureStack/registrations");
  EXPECT_EQ(created.body["location"], "global");
  EXPECT_TRUE(created.body["etag"].is_string());
  EXPECT_EQ(created.body["properties"]["cloudId"], kCloud1.ToString());
  EXPECT_EQ(created.body["properties"]["objectId"], "2dbdd5f4-daf3-442a-be35-b71c3debee5a");
  EXPECT_EQ(created.body["properties"]["billingModel"], "PayAsYouUse");

  Reply updated = Register();
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.body["properties"]["cloudId"], kCloud1.ToString());
}

TEST_F(AzureStackRoutesTest, PathSegmentsAndLocationAreCaseInsensitive) {
  const std::string path = "/SUBSCRIPTIONS/" + kApss.ToString() +
                           "/resourcegroups/azurestack/PROVIDERS/microsoft.azurestack/"
                           "Registrations/reg1?API-VERSION=2022-06-01";
  Reply reply = Send("PUT", path, "owner", RegistrationBody(Token(kCloud1), "Global"));
  EXPECT_EQ(reply.status, 201) << reply.body;
  EXPECT_EQ(reply.body["location"], "global");
}

TEST_F(AzureStackRoutesTest, MissingApiVersionIsMissingApiVersionParameter) {
  Reply reply = Send("GET", RegistrationPath(), "owner");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "MissingApiVersionParameter");
}

TEST_F(AzureStackRoutesTest, UnknownApiVersionIsInvalidApiVersionParameter) {
  Reply reply = Send("PUT", RegistrationPath() + "?api-version=2016-01-01", "owner",
                     RegistrationBody(Token(kCloud1)));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidApiVersionParameter");
}

TEST_F(AzureStackRoutesTest, MissingLocationIsRefused) {
  Reply reply =
      Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
           nlohmann::json{{"properties", {{"registrationToken", Token(kCloud1)}}}}.dump());
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "LocationRequired");
}

TEST_F(AzureStackRoutesTest, OtherLocationIsRefused) {
  Reply reply = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
                     RegistrationBody(Token(kCloud1), "westus"));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "LocationNotAvailableForResourceType");
}

TEST_F(AzureStackRoutesTest, MalformedTokenIsInvalidRegistrationToken) {
  Reply reply = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
                     RegistrationBody("%%% not a token"));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidRegistrationToken");
}

TEST_F(AzureStackRoutesTest, DuplicateKeyInBodyIsInvalidRequestContent) {
  Reply reply = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
                     R"({"location":"global","location":"global","properties":{}})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidRequestContent");
}

// A number beyond a double is refused by nlohmann with out_of_range, not
// parse_error: still a 400, never a 500.
TEST_F(AzureStackRoutesTest, ANumberBeyondADoubleIsInvalidRequestContent) {
  Reply reply = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
                     R"({"location":"global","properties":{"n":1e400}})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidRequestContent");
}

TEST_F(AzureStackRoutesTest, NoTokenIs401) {
  Reply reply = Send("GET", RegistrationPath() + "?api-version=2017-06-01", "");
  EXPECT_EQ(reply.status, 401);
}

// SPEC §3's order: request shape, api-version and token syntax (400) answer
// before authentication (401) and role (403).
TEST_F(AzureStackRoutesTest, ShapeErrorsAnswerBeforeAuthentication) {
  Reply no_version = Send("GET", RegistrationPath(), "");
  EXPECT_EQ(no_version.status, 400);
  EXPECT_EQ(no_version.code, "MissingApiVersionParameter");
  Reply bad_token = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "",
                         RegistrationBody("%%% not a token"));
  EXPECT_EQ(bad_token.status, 400);
  EXPECT_EQ(bad_token.code, "InvalidRegistrationToken");
  Reply bad_customer = Send("PUT",
                            RegistrationPath() + "/customerSubscriptions/" + std::string(36, 'x') +
                                "?api-version=2017-06-01",
                            "", R"({"properties":{"tenantId":"not-a-guid"}})");
  EXPECT_EQ(bad_customer.status, 400);
  EXPECT_EQ(bad_customer.code, "InvalidGuid");
}

TEST_F(AzureStackRoutesTest, ShapeErrorsAnswerBeforeTheRoleCheck) {
  Reply reply = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "reader",
                     RegistrationBody("%%% not a token"));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidRegistrationToken");
}

TEST_F(AzureStackRoutesTest, DevelopmentWithoutApprovalIsBillingModelNotApproved) {
  Reply reply = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
                     RegistrationBody(Token(kCloud1, BillingModel::kDevelopment)));
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.code, "BillingModelNotApproved");
}

TEST_F(AzureStackRoutesTest, CloudRegisteredTwiceIsCloudAlreadyRegistered) {
  ASSERT_EQ(Register().status, 201);
  Reply reply = Register("owner", kCloud1, "reg2");
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.code, "CloudAlreadyRegistered");
  EXPECT_NE(reply.body["error"]["message"].get<std::string>().find("is already registered"),
            std::string::npos);
}

TEST_F(AzureStackRoutesTest, AnotherPartnersRegistrationIsNotFound) {
  ASSERT_EQ(Register().status, 201);
  Reply reply = Send("GET", RegistrationPath() + "?api-version=2017-06-01", "northwind");
  EXPECT_EQ(reply.status, 404);
}

TEST_F(AzureStackRoutesTest, GetOfAMissingRegistrationIsResourceNotFound) {
  Reply reply = Send("GET", RegistrationPath() + "?api-version=2017-06-01", "owner");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.code, "ResourceNotFound");
}

TEST_F(AzureStackRoutesTest, PatchCarriesTagsAndKeepsThem) {
  ASSERT_EQ(Register().status, 201);
  nlohmann::json body = {{"location", "global"},
                         {"properties", {{"registrationToken", Token(kCloud1)}}},
                         {"tags", {{"key1", "value1"}}}};
  Reply patched =
      Send("PATCH", RegistrationPath() + "?api-version=2017-06-01", "owner", body.dump());
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.body["tags"]["key1"], "value1");
  body.erase("tags");
  Reply again = Send("PATCH", RegistrationPath() + "?api-version=2017-06-01", "owner", body.dump());
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["tags"]["key1"], "value1");
  Reply got = Send("GET", RegistrationPath() + "?api-version=2017-06-01", "reader");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["tags"]["key1"], "value1");
}

TEST_F(AzureStackRoutesTest, PatchOfAMissingRegistrationIsNotFound) {
  Reply reply = Send("PATCH", RegistrationPath() + "?api-version=2017-06-01", "owner",
                     RegistrationBody(Token(kCloud1)));
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.code, "ResourceNotFound");
}

TEST_F(AzureStackRoutesTest, DeleteAnswers200Then204) {
  ASSERT_EQ(Register().status, 201);
  EXPECT_EQ(Send("DELETE", RegistrationPath() + "?api-version=2017-06-01", "owner").status, 200);
  EXPECT_EQ(Send("DELETE", RegistrationPath() + "?api-version=2017-06-01", "owner").status, 204);
  EXPECT_EQ(Send("GET", RegistrationPath() + "?api-version=2017-06-01", "owner").status, 404);
}

TEST_F(AzureStackRoutesTest, ReaderCallingGetActivationKeyIs403) {
  ASSERT_EQ(Register().status, 201);
  Reply reply =
      Send("POST", RegistrationPath() + "/getactivationkey?api-version=2017-06-01", "reader");
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.code, "AuthorizationFailed");
}

TEST_F(AzureStackRoutesTest, OwnerGetsAnActivationKeyStoredOnlyAsAHash) {
  ASSERT_EQ(Register().status, 201);
  Reply reply =
      Send("POST", RegistrationPath() + "/getActivationKey?api-version=2017-06-01", "owner");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const std::string key = reply.body["activationKey"];
  EXPECT_EQ(key.rfind("sbk_", 0), 0u);
  auto found = store_->registrations().FindActivationKeyByHash(HashSecret(key), kT0);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->cloud_id, kCloud1);
}

TEST_F(AzureStackRoutesTest, ListsPageWithAnAbsoluteNextLink) {
  options_.page_size = 2;
  router_ = std::make_unique<Router>(auth_, std::string(kBaseUrl));
  ASSERT_TRUE(AddAzureStackRoutes(*router_, *store_, options_).ok());
  for (int i = 0; i < 3; ++i) {
    const Guid cloud = G("5bf881b2-6be7-42a1-9f47-d6fcb673770" + std::to_string(i));
    ASSERT_EQ(Register("owner", cloud, "reg" + std::to_string(i)).status, 201);
  }
  const std::string list = "/subscriptions/" + kApss.ToString() +
                           "/resourceGroups/azurestack/providers/Microsoft.AzureStack/"
                           "registrations";
  Reply first = Send("GET", list + "?api-version=2017-06-01", "reader");
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(first.body["value"].size(), 2u);
  const std::string next = first.body["nextLink"];
  ASSERT_EQ(next.rfind(std::string(kBaseUrl) + list + "?", 0), 0u) << next;
  Reply second = Send("GET", next.substr(kBaseUrl.size()), "reader");
  ASSERT_EQ(second.status, 200) << second.body;
  ASSERT_EQ(second.body["value"].size(), 1u);
  EXPECT_EQ(second.body["value"][0]["name"], "reg2");
  EXPECT_FALSE(second.body.contains("nextLink"));

  Reply by_subscription =
      Send("GET",
           "/subscriptions/" + kApss.ToString() +
               "/providers/Microsoft.AzureStack/registrations?api-version=2017-06-01",
           "owner");
  ASSERT_EQ(by_subscription.status, 200);
  EXPECT_EQ(by_subscription.body["value"].size(), 2u);
  EXPECT_TRUE(by_subscription.body.contains("nextLink"));
}

TEST_F(AzureStackRoutesTest, RegistersACustomerAndAnswers200WithTheFullResource) {
  ASSERT_EQ(Register().status, 201);
  Reply reply = PutCustomer(kFabrikamCsp, kFabrikamDir);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body["id"],
            RegistrationPath() + "/customerSubscriptions/" + kFabrikamCsp.ToString());
  EXPECT_EQ(reply.body["name"], "reg1/" + kFabrikamCsp.ToString());
  EXPECT_EQ(reply.body["type"], "Microsoft.AzureStack/registrations/customerSubscriptions");
  EXPECT_EQ(reply.body["properties"]["tenantId"], kFabrikamDir.ToString());

  Reply got = Send("GET",
                   RegistrationPath() + "/customerSubscriptions/" + kFabrikamCsp.ToString() +
                       "?api-version=2017-06-01",
                   "reader");
  EXPECT_EQ(got.status, 200);
  Reply list =
      Send("GET", RegistrationPath() + "/customerSubscriptions?api-version=2017-06-01", "reader");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["value"].size(), 1u);
}

TEST_F(AzureStackRoutesTest, SomeoneElsesCustomerIsBadCustomerSubscriptionId) {
  ASSERT_EQ(Register().status, 201);
  Reply reply = PutCustomer(kWingtipCsp, kWingtipDir);
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(reply.code, "BadCustomerSubscriptionId");
}

TEST_F(AzureStackRoutesTest, NonCspCustomerIsInvalidCspSubscription) {
  ASSERT_EQ(Register().status, 201);
  Reply reply = PutCustomer(kFabrikamPayg, kFabrikamDir);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidCSPSubscription");
}

TEST_F(AzureStackRoutesTest, UpperCaseCustomerIdIsInvalidCustomerSubscriptionId) {
  ASSERT_EQ(Register().status, 201);
  Reply reply =
      Send("PUT",
           RegistrationPath() +
               "/customerSubscriptions/A0000000-0000-0000-0000-000000000003"
               "?api-version=2017-06-01",
           "owner", nlohmann::json{{"properties", {{"tenantId", kFabrikamDir.ToString()}}}}.dump());
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidCustomerSubscriptionId");
}

TEST_F(AzureStackRoutesTest, WrongTenantIsTenantMismatch) {
  ASSERT_EQ(Register().status, 201);
  Reply reply = PutCustomer(kFabrikamCsp, kWingtipDir);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "TenantMismatch");
}

TEST_F(AzureStackRoutesTest, PayAsYouGoDefaultRefusesCustomersAsUnauthorizedCspRegistration) {
  ASSERT_EQ(Register("payg-owner", kCloud1, "reg1", kPayg).status, 201);
  Reply reply = PutCustomer(kFabrikamCsp, kFabrikamDir, "payg-owner", kPayg);
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.code, "UnauthorizedCspRegistration");
}

TEST_F(AzureStackRoutesTest, CapacityRefusesCustomersAsCustomerSubscriptionsNotAllowed) {
  Reply approved = Send("PUT", "/v1/stacks/" + kCloud1.ToString() + "/approval", "admin",
                        R"({"billingModel":"Capacity","agreementNumber":"AG-1"})");
  ASSERT_EQ(approved.status, 200) << approved.body;
  Reply registered = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
                          RegistrationBody(Token(kCloud1, BillingModel::kCapacity)));
  ASSERT_EQ(registered.status, 201) << registered.body;
  EXPECT_EQ(registered.body["properties"]["billingModel"], "Capacity");
  Reply reply = PutCustomer(kFabrikamCsp, kFabrikamDir);
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.code, "CustomerSubscriptionsNotAllowed");
}

TEST_F(AzureStackRoutesTest, SecondPutRemapsTheTenant) {
  ASSERT_EQ(Register().status, 201);
  ASSERT_EQ(PutCustomer(kFabrikamCsp, kFabrikamDir, "owner", kApss, kT0.AddHours(1)).status, 200);
  ASSERT_EQ(PutCustomer(kFabrikamCsp2, kFabrikamDir, "owner", kApss, kT0.AddHours(2)).status, 200);
  Reply list = Send("GET", RegistrationPath() + "/customerSubscriptions?api-version=2017-06-01",
                    "owner", "", kT0.AddHours(2));
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["value"].size(), 1u);
  EXPECT_EQ(list.body["value"][0]["name"], "reg1/" + kFabrikamCsp2.ToString());
  Reply old = Send("GET",
                   RegistrationPath() + "/customerSubscriptions/" + kFabrikamCsp.ToString() +
                       "?api-version=2017-06-01",
                   "owner", "", kT0.AddHours(2));
  EXPECT_EQ(old.status, 404);
}

TEST_F(AzureStackRoutesTest, CustomerDeleteAnswers200Then204) {
  ASSERT_EQ(Register().status, 201);
  ASSERT_EQ(PutCustomer(kFabrikamCsp, kFabrikamDir).status, 200);
  const std::string path = RegistrationPath() + "/customerSubscriptions/" +
                           kFabrikamCsp.ToString() + "?api-version=2017-06-01";
  EXPECT_EQ(Send("DELETE", path, "owner", "", kT0.AddHours(1)).status, 200);
  EXPECT_EQ(Send("DELETE", path, "owner", "", kT0.AddHours(2)).status, 204);
}

TEST_F(AzureStackRoutesTest, EffectiveToIsAPlatformAdminExtension) {
  ASSERT_EQ(Register().status, 201);
  ASSERT_EQ(PutCustomer(kFabrikamCsp, kFabrikamDir).status, 200);
  const std::string path = RegistrationPath() + "/customerSubscriptions/" +
                           kFabrikamCsp.ToString() + "?api-version=2017-06-01&effectiveTo=";
  Reply owner = Send("DELETE", path + kT0.AddHours(1).ToString(), "owner", "", kT0.AddHours(3));
  EXPECT_EQ(owner.status, 403);
  EXPECT_EQ(owner.code, "AuthorizationFailed");
  Reply garbage = Send("DELETE", path + "yesterday", "admin", "", kT0.AddHours(3));
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(garbage.code, "InvalidEffectiveTo");
  Reply future = Send("DELETE", path + kT0.AddHours(4).ToString(), "admin", "", kT0.AddHours(3));
  EXPECT_EQ(future.status, 400);
  EXPECT_EQ(future.code, "InvalidEffectiveTo");
  Reply admin = Send("DELETE", path + kT0.AddHours(1).ToString(), "admin", "", kT0.AddHours(3));
  EXPECT_EQ(admin.status, 200);
}

}  // namespace
}  // namespace stackbill::testing_world
