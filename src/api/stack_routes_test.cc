#include <gtest/gtest.h>

#include <string>

#include "api/registration_test_world.h"
#include "services/store_authenticator.h"

namespace stackbill::testing_world {
namespace {

using StackRoutesTest = RegistrationWorld;

std::string StackPath(Guid cloud_id) { return "/v1/stacks/" + cloud_id.ToString(); }

TEST_F(StackRoutesTest, OperatorSeesItsStackWithItsRegistration) {
  ASSERT_EQ(Register().status, 201);
  Reply list = Send("GET", "/v1/stacks", "reader");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.body["value"].size(), 1u);
  Reply stack = Send("GET", StackPath(kCloud1), "contoso-admin");
  ASSERT_EQ(stack.status, 200) << stack.body;
  EXPECT_EQ(stack.body["cloudId"], kCloud1.ToString());
  EXPECT_EQ(stack.body["state"], "Registered");
  EXPECT_EQ(stack.body["billingModel"], "PayAsYouUse");
  EXPECT_EQ(stack.body["multiTenant"], true);
  EXPECT_EQ(stack.body["registration"]["id"], RegistrationPath());
  EXPECT_EQ(stack.body["quarantineCount"], 0);
}

TEST_F(StackRoutesTest, AnotherPartnersStackIsNotFound) {
  ASSERT_EQ(Register().status, 201);
  Reply stack = Send("GET", StackPath(kCloud1), "northwind");
  EXPECT_EQ(stack.status, 404);
  EXPECT_EQ(stack.code, "StackNotFound");
  Reply list = Send("GET", "/v1/stacks", "northwind");
  ASSERT_EQ(list.status, 200);
  EXPECT_TRUE(list.body["value"].empty());
}

TEST_F(StackRoutesTest, OnlyAPlatformAdminApprovesABillingModel) {
  const std::string body = R"({"billingModel":"Development"})";
  Reply refused = Send("PUT", StackPath(kCloud1) + "/approval", "owner", body);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.code, "AuthorizationFailed");
  Reply approved = Send("PUT", StackPath(kCloud1) + "/approval", "admin", body);
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(approved.body["billingModel"], "Development");
  Reply registered = Send("PUT", RegistrationPath() + "?api-version=2017-06-01", "owner",
                          RegistrationBody(Token(kCloud1, BillingModel::kDevelopment)));
  EXPECT_EQ(registered.status, 201) << registered.body;
}

TEST_F(StackRoutesTest, UnknownBillingModelIsRefused) {
  Reply reply =
      Send("PUT", StackPath(kCloud1) + "/approval", "admin", R"({"billingModel":"Free"})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidEnumValue");
}

TEST_F(StackRoutesTest, PlatformAdminReleasesAClaimAndItIsAudited) {
  ASSERT_EQ(Register().status, 201);
  Reply refused = Send("DELETE", StackPath(kCloud1) + "/claim", "contoso-admin");
  EXPECT_EQ(refused.status, 403);
  Reply released = Send("DELETE", StackPath(kCloud1) + "/claim", "admin", "", kT0.AddHours(1));
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_EQ(Register("owner", kCloud1, "reg2").status, 409);  // kT0: still claimed then
  Reply again = Send("PUT", RegistrationPath(kApss, "reg2") + "?api-version=2017-06-01", "owner",
                     RegistrationBody(Token(kCloud1)), kT0.AddHours(2));
  EXPECT_EQ(again.status, 201) << again.body;
  auto audit = store_->audit().ListAudit(AuditFilter{}, PageRequest{});
  ASSERT_TRUE(audit.ok());
  bool found = false;
  for (const AuditEntry& entry : audit->items) found = found || entry.action == "claim.release";
  EXPECT_TRUE(found);
  Reply nothing = Send("DELETE", StackPath(kCloud2) + "/claim", "admin", "", kT0.AddHours(3));
  EXPECT_EQ(nothing.status, 404);
  EXPECT_EQ(nothing.code, "CloudNotClaimed");
}

TEST_F(StackRoutesTest, StackKeyMapsSubscribersOfItsOwnCloudOnly) {
  ASSERT_EQ(Register().status, 201);
  const std::string local = "d0000000-0000-0000-0000-000000000001";
  const std::string body = nlohmann::json{{"tenantId", kFabrikamDir.ToString()}}.dump();
  Reply mapped = Send("PUT", StackPath(kCloud1) + "/subscribers/" + local, "stack1-key", body);
  ASSERT_EQ(mapped.status, 200) << mapped.body;
  EXPECT_EQ(mapped.body["tenantId"], kFabrikamDir.ToString());
  Reply other = Send("PUT", StackPath(kCloud1) + "/subscribers/" + local, "stack2-key", body);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.code, "AuthorizationFailed");
  Reply partner = Send("PUT", StackPath(kCloud1) + "/subscribers/" + local, "contoso-admin", body);
  EXPECT_EQ(partner.status, 200) << partner.body;
  Reply owner = Send("PUT", StackPath(kCloud1) + "/subscribers/" + local, "owner", body);
  EXPECT_EQ(owner.status, 403);
  Reply stranger = Send("PUT", StackPath(kCloud1) + "/subscribers/" + local, "northwind", body);
  EXPECT_EQ(stranger.status, 404);
}

TEST_F(StackRoutesTest, ActivationKeyWorksUntilTheDrainWindowAfterDelete) {
  ASSERT_EQ(Register().status, 201);
  Reply key =
      Send("POST", RegistrationPath() + "/getactivationkey?api-version=2017-06-01", "owner");
  ASSERT_EQ(key.status, 200);
  // The real authenticator over the store: the key is looked up by its hash.
  StoreAuthenticator store_auth(*store_);
  Router router(store_auth, std::string(kBaseUrl));
  ASSERT_TRUE(AddStackRoutes(router, *store_, options_).ok());
  const auto map = [&](Timestamp now) {
    HttpRequest request;
    request.method = "PUT";
    request.path = StackPath(kCloud1) + "/subscribers/d0000000-0000-0000-0000-000000000001";
    request.headers.emplace_back("authorization",
                                 "Bearer " + key.body["activationKey"].get<std::string>());
    request.body = nlohmann::json{{"tenantId", kFabrikamDir.ToString()}}.dump();
    return router.Dispatch(request, now).status;
  };
  EXPECT_EQ(map(kT0.AddHours(1)), 200);
  ASSERT_EQ(
      Send("DELETE", RegistrationPath() + "?api-version=2017-06-01", "owner", "", kT0.AddHours(2))
          .status,
      200);
  // Inside the drain window the key still authenticates, but the stack has
  // no registration in force any more.
  EXPECT_EQ(map(kT0.AddHours(2).AddSeconds(60)), 403);
  EXPECT_EQ(map(kT0.AddHours(3)), 401);
}

TEST_F(StackRoutesTest, MalformedCloudIdIs400) {
  Reply reply = Send("GET", "/v1/stacks/not-a-guid", "admin");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.code, "InvalidGuid");
}

}  // namespace
}  // namespace stackbill::testing_world
