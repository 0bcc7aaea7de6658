// Handler tests for the /v1 management routes: a Router with a real
// StoreAuthenticator over an in-memory SQLite store, requests built directly
// and dispatched, responses checked for status, JSON shape and ARM code.

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "api/api.h"
#include "http/router.h"
#include "services/access_tokens.h"
#include "services/bootstrap.h"
#include "services/store_authenticator.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {
namespace {

constexpr std::string_view kBaseUrl = "https://billing.example.com";

class ManagementRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto boot = Bootstrap(*store_, BootstrapOptions{}, now_);
    ASSERT_TRUE(boot.ok()) << boot.status();
    admin_token_ = boot->token;
    admin_id_ = boot->admin.object_id.ToString();
    authenticator_ = std::make_unique<StoreAuthenticator>(*store_);
    router_ = std::make_unique<Router>(*authenticator_, std::string(kBaseUrl));
    ASSERT_TRUE(AddManagementRoutes(*router_, *store_, ApiOptions{.page_size = 3}).ok());
  }

  HttpResponse Call(std::string method, std::string path, const std::string& token,
                    std::string body = "",
                    std::vector<std::pair<std::string, std::string>> query = {}) {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.raw_target = request.path;
    request.query = std::move(query);
    if (!token.empty()) request.headers.emplace_back("authorization", "Bearer " + token);
    request.headers.emplace_back("content-type", "application/json");
    request.body = std::move(body);
    request.request_id = "req-1";
    return router_->Dispatch(request, now_);
  }

  static nlohmann::json Json(const HttpResponse& response) {
    return nlohmann::json::parse(response.body, nullptr, false);
  }
  static std::string ErrorCodeOf(const HttpResponse& response) {
    const nlohmann::json json = Json(response);
    return json.is_object() && json.contains("error") ? json["error"].value("code", "") : "";
  }

  // Creates partner prov (indirectProvider), its directory and a PartnerAdmin
  // principal over it; returns that principal's token.
  std::string MakePartnerAdmin(const std::string& partner, const std::string& domain) {
    EXPECT_EQ(Call("POST", "/v1/partners", admin_token_,
                   nlohmann::json{{"id", partner},
                                  {"name", partner},
                                  {"kind", "indirectProvider"},
                                  {"billingCurrency", "USD"}}
                       .dump())
                  .status,
              201);
    auto dir = Call(
        "POST", "/v1/directories", admin_token_,
        nlohmann::json{{"displayName", partner}, {"domains", {domain}}, {"ownerPartnerId", partner}}
            .dump());
    EXPECT_EQ(dir.status, 201) << dir.body;
    directories_[partner] = Json(dir)["id"];
    auto principal = Call(
        "POST", "/v1/principals", admin_token_,
        nlohmann::json{
            {"directoryId", directories_[partner]}, {"name", "admin@" + domain}, {"kind", "user"}}
            .dump());
    EXPECT_EQ(principal.status, 201) << principal.body;
    const std::string object_id = Json(principal)["objectId"];
    principals_[partner] = object_id;
    EXPECT_EQ(Call("PUT", "/v1/roleAssignments/pa-" + partner, admin_token_,
                   nlohmann::json{{"principalId", object_id},
                                  {"role", "PartnerAdmin"},
                                  {"scope", "/partners/" + partner}}
                       .dump())
                  .status,
              201);
    auto token = Call("POST", "/v1/principals/" + object_id + "/tokens", admin_token_,
                      R"({"expiresInHours": 1})");
    EXPECT_EQ(token.status, 201) << token.body;
    return Json(token)["token"];
  }

  const Timestamp now_ = *Timestamp::Parse("2026-11-29T12:00:00Z");
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreAuthenticator> authenticator_;
  std::unique_ptr<Router> router_;
  std::string admin_token_;
  std::string admin_id_;
  std::map<std::string, std::string> directories_;
  std::map<std::string, std::string> principals_;
};

TEST_F(ManagementRoutesTest, EveryRouteNeedsAPrincipalsToken) {
  for (const Route& route : router_->routes()) {
    EXPECT_EQ(route.authentication, Authentication::kPrincipal) << route.name;
  }
  auto response = Call("GET", "/v1/partners", "");
  EXPECT_EQ(response.status, 401);
  auto bad = Call("GET", "/v1/partners", "sbt_unknown");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(ErrorCodeOf(bad), "InvalidAuthenticationToken");
}

TEST_F(ManagementRoutesTest, CreatingADirectoryAnswers201WithLowerCaseGuids) {
  auto response = Call("POST", "/v1/directories", admin_token_,
                       R"({"id":"ABCDEF00-0000-0000-0000-000000000001","displayName":"Contoso",)"
                       R"("domains":["ContosoCSP.onmicrosoft.com"]})");
  ASSERT_EQ(response.status, 201) << response.body;
  const nlohmann::json json = Json(response);
  EXPECT_EQ(json["id"], "abcdef00-0000-0000-0000-000000000001");
  EXPECT_EQ(json["displayName"], "Contoso");
  EXPECT_EQ(json["domains"], nlohmann::json::array({"contosocsp.onmicrosoft.com"}));
  EXPECT_FALSE(json.contains("ownerPartnerId"));

  auto got = Call("GET", "/v1/directories/ABCDEF00000000000000000000000001", admin_token_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Json(got)["id"], "abcdef00-0000-0000-0000-000000000001");
  auto list = Call("GET", "/v1/directories", admin_token_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Json(list)["value"].size(), 2u);  // with the platform's own
}

TEST_F(ManagementRoutesTest, MalformedBodiesAnswer400WithPreciseCodes) {
  auto not_json = Call("POST", "/v1/directories", admin_token_, "{nope");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(ErrorCodeOf(not_json), "InvalidRequestContent");
  auto duplicate = Call("POST", "/v1/directories", admin_token_,
                        R"({"displayName":"a","displayName":"b","domains":[]})");
  EXPECT_EQ(duplicate.status, 400);
  EXPECT_EQ(ErrorCodeOf(duplicate), "InvalidRequestContent");
  auto missing = Call("POST", "/v1/directories", admin_token_, R"({"displayName":"a"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(ErrorCodeOf(missing), "MissingRequiredProperty");
  auto bad_guid = Call("POST", "/v1/principals", admin_token_,
                       R"({"directoryId":"not-a-guid","name":"x","kind":"user"})");
  EXPECT_EQ(bad_guid.status, 400);
  EXPECT_EQ(ErrorCodeOf(bad_guid), "InvalidGuid");
  auto bad_kind = Call("POST", "/v1/partners", admin_token_,
                       R"({"name":"x","kind":"wholesaler","billingCurrency":"USD"})");
  EXPECT_EQ(bad_kind.status, 400);
  EXPECT_EQ(ErrorCodeOf(bad_kind), "InvalidEnumValue");
  auto bad_currency = Call("POST", "/v1/partners", admin_token_,
                           R"({"name":"x","kind":"direct","billingCurrency":"ZZZ"})");
  EXPECT_EQ(bad_currency.status, 400);
  EXPECT_EQ(ErrorCodeOf(bad_currency), "UnsupportedCurrency");
  auto bad_path = Call("GET", "/v1/subscriptions/xyz", admin_token_);
  EXPECT_EQ(bad_path.status, 400);
  EXPECT_EQ(ErrorCodeOf(bad_path), "InvalidGuid");
}

TEST_F(ManagementRoutesTest, ATokenIsShownOnceAndWorksUntilRevoked) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  auto minted = Call("POST", "/v1/principals/" + principals_["prov"] + "/tokens", prov, "");
  ASSERT_EQ(minted.status, 201) << minted.body;
  const nlohmann::json json = Json(minted);
  const std::string token = json["token"];
  EXPECT_TRUE(token.starts_with("sbt_"));
  EXPECT_EQ(json["expiresAt"], "2026-12-29T12:00:00Z");  // 30 days by default
  ASSERT_TRUE(json["id"].is_string());

  EXPECT_EQ(Call("GET", "/v1/partners/prov", token).status, 200);
  auto revoked = Call("DELETE", "/v1/tokens/" + json["id"].get<std::string>(), token);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(Json(revoked)["revokedAt"], "2026-11-29T12:00:00Z");
  EXPECT_FALSE(Json(revoked).contains("token"));
  auto after = Call("GET", "/v1/partners/prov", token);
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(ErrorCodeOf(after), "InvalidAuthenticationToken");
}

TEST_F(ManagementRoutesTest, MintingATokenForSomeoneElseIs403) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  auto response = Call("POST", "/v1/principals/" + admin_id_ + "/tokens", prov, "{}");
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(ErrorCodeOf(response), "AuthorizationFailed");
}

TEST_F(ManagementRoutesTest, ATokenLifetimeMustBeAWholeNumberOfHoursInRange) {
  const std::string path = "/v1/principals/" + admin_id_ + "/tokens";
  auto fraction = Call("POST", path, admin_token_, R"({"expiresInHours":1.5})");
  EXPECT_EQ(fraction.status, 400);
  EXPECT_EQ(ErrorCodeOf(fraction), "InvalidRequestContent");
  auto huge = Call("POST", path, admin_token_, R"({"expiresInHours":18446744073709551615})");
  EXPECT_EQ(huge.status, 400);
  EXPECT_EQ(ErrorCodeOf(huge), "InvalidTokenLifetime");
}

TEST_F(ManagementRoutesTest, APartnerAdminGrantingPlatformAdminIs403) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  auto response =
      Call("PUT", "/v1/roleAssignments/escalate", prov,
           nlohmann::json{
               {"principalId", principals_["prov"]}, {"role", "PlatformAdmin"}, {"scope", "/"}}
               .dump());
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(ErrorCodeOf(response), "AuthorizationFailed");
}

TEST_F(ManagementRoutesTest, RoleAssignmentPutAnswers201ThenReplaces200) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  const std::string body = nlohmann::json{
      {"principalId", principals_["prov"]},
      {"role", "Reader"},
      {"scope",
       "/subscriptions/X"}}.dump();
  auto bad_scope = Call("PUT", "/v1/roleAssignments/r1", admin_token_, body);
  EXPECT_EQ(bad_scope.status, 400);
  EXPECT_EQ(ErrorCodeOf(bad_scope), "InvalidScope");

  auto sub = Call("POST", "/v1/subscriptions", prov,
                  nlohmann::json{{"offerType", "APSS"},
                                 {"directoryId", directories_["prov"]},
                                 {"partnerId", "prov"},
                                 {"displayName", "shared services"}}
                      .dump());
  ASSERT_EQ(sub.status, 201) << sub.body;
  const std::string sub_id = Json(sub)["subscriptionId"];
  EXPECT_EQ(Json(sub)["state"], "Active");

  nlohmann::json grant{{"principalId", principals_["prov"]},
                       {"role", "Reader"},
                       {"scope", "/subscriptions/" + sub_id}};
  auto created = Call("PUT", "/v1/roleAssignments/r1", prov, grant.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Json(created)["role"], "Reader");
  grant["role"] = "Owner";
  auto replaced = Call("PUT", "/v1/roleAssignments/r1", prov, grant.dump());
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(Json(replaced)["role"], "Owner");

  auto list = Call("GET", "/v1/roleAssignments", prov, "", {{"principalId", principals_["prov"]}});
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(Json(list)["value"].size(), 2u);
  EXPECT_EQ(Call("GET", "/v1/roleAssignments/r1", prov).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/roleAssignments/r1", prov).status, 200);
  auto gone = Call("GET", "/v1/roleAssignments/r1", prov);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(ErrorCodeOf(gone), "RoleAssignmentNotFound");
}

TEST_F(ManagementRoutesTest, AnotherPartnersResourcesAre404) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  const std::string other = MakePartnerAdmin("other", "other.onmicrosoft.com");
  auto sub = Call("POST", "/v1/subscriptions", other,
                  nlohmann::json{{"offerType", "CSP"},
                                 {"directoryId", directories_["other"]},
                                 {"partnerId", "other"},
                                 {"displayName", "customer"}}
                      .dump());
  ASSERT_EQ(sub.status, 201) << sub.body;
  const std::string sub_id = Json(sub)["subscriptionId"];

  const std::pair<std::string, std::string> cases[] = {
      {"/v1/partners/other", "PartnerNotFound"},
      {"/v1/subscriptions/" + sub_id, "SubscriptionNotFound"},
      {"/v1/directories/" + directories_["other"], "DirectoryNotFound"},
      {"/v1/principals/" + principals_["other"], "PrincipalNotFound"},
  };
  for (const auto& [path, code] : cases) {
    auto response = Call("GET", path, prov);
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_EQ(ErrorCodeOf(response), code) << path;
  }
  auto listed = Call("GET", "/v1/partners", prov);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(Json(listed)["value"].size(), 1u);
  EXPECT_EQ(Json(listed)["value"][0]["id"], "prov");
  auto subs = Call("GET", "/v1/subscriptions", prov);
  ASSERT_EQ(subs.status, 200);
  EXPECT_TRUE(Json(subs)["value"].empty());
}

TEST_F(ManagementRoutesTest, CreatingAPrincipalInAForeignDirectoryIs403) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  MakePartnerAdmin("other", "other.onmicrosoft.com");
  auto response = Call("POST", "/v1/principals", prov,
                       nlohmann::json{{"directoryId", directories_["other"]},
                                      {"name", "spy@other.onmicrosoft.com"},
                                      {"kind", "user"}}
                           .dump());
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(ErrorCodeOf(response), "AuthorizationFailed");
}

TEST_F(ManagementRoutesTest, PrincipalsAreFoundByDirectoryAndNameAndMayBringTheirObjectId) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  MakePartnerAdmin("other", "other.onmicrosoft.com");
  auto created = Call("POST", "/v1/principals", prov,
                      nlohmann::json{{"objectId", "0BJEC700-0000-0000-0000-000000000001"},
                                     {"directoryId", directories_["prov"]},
                                     {"name", "svc@prov.onmicrosoft.com"},
                                     {"kind", "servicePrincipal"}}
                          .dump());
  EXPECT_EQ(created.status, 400);  // 'J' is not a hex digit
  EXPECT_EQ(ErrorCodeOf(created), "InvalidGuid");
  created = Call("POST", "/v1/principals", prov,
                 nlohmann::json{{"objectId", "0BEC7000-0000-0000-0000-000000000001"},
                                {"directoryId", directories_["prov"]},
                                {"name", "svc@prov.onmicrosoft.com"},
                                {"kind", "servicePrincipal"}}
                     .dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Json(created)["objectId"], "0bec7000-0000-0000-0000-000000000001");
  EXPECT_EQ(Json(created)["kind"], "servicePrincipal");

  auto found = Call("GET", "/v1/principals", prov, "",
                    {{"directoryId", directories_["prov"]}, {"name", "SVC@prov.onmicrosoft.com"}});
  ASSERT_EQ(found.status, 200) << found.body;
  ASSERT_EQ(Json(found)["value"].size(), 1u);
  EXPECT_EQ(Json(found)["value"][0]["objectId"], "0bec7000-0000-0000-0000-000000000001");
  auto foreign = Call("GET", "/v1/principals", prov, "", {{"directoryId", directories_["other"]}});
  ASSERT_EQ(foreign.status, 200);
  EXPECT_TRUE(Json(foreign)["value"].empty());
  auto again = Call("POST", "/v1/principals", admin_token_,
                    nlohmann::json{{"objectId", "0bec7000-0000-0000-0000-000000000001"},
                                   {"directoryId", directories_["other"]},
                                   {"name", "x@other.onmicrosoft.com"},
                                   {"kind", "user"}}
                        .dump());
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(ErrorCodeOf(again), "PrincipalAlreadyExists");
}

TEST_F(ManagementRoutesTest, DuplicatesAnswer409) {
  MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  auto partner = Call("POST", "/v1/partners", admin_token_,
                      R"({"id":"prov","name":"again","kind":"direct","billingCurrency":"USD"})");
  EXPECT_EQ(partner.status, 409);
  EXPECT_EQ(ErrorCodeOf(partner), "PartnerAlreadyExists");
  auto domain = Call("POST", "/v1/directories", admin_token_,
                     R"({"displayName":"x","domains":["PROV.onmicrosoft.com"]})");
  EXPECT_EQ(domain.status, 409);
  EXPECT_EQ(ErrorCodeOf(domain), "DomainAlreadyExists");
}

TEST_F(ManagementRoutesTest, TheAuditLogIsPagedNewestFirstWithAnAbsoluteNextLink) {
  auto first = Call("GET", "/v1/audit", admin_token_);
  ASSERT_EQ(first.status, 200) << first.body;
  const nlohmann::json page = Json(first);
  ASSERT_EQ(page["value"].size(), 3u);  // ApiOptions.page_size
  EXPECT_EQ(page["value"][0]["action"], "meters.load");
  EXPECT_TRUE(page["value"][0]["after"].is_object());
  const std::string next = page["nextLink"];
  ASSERT_TRUE(next.starts_with("https://billing.example.com/v1/audit?$skiptoken=") ||
              next.starts_with("https://billing.example.com/v1/audit?%24skiptoken="))
      << next;
  const std::string token = next.substr(next.find('=') + 1);
  auto second = Call("GET", "/v1/audit", admin_token_, "", {{"$skiptoken", token}});
  ASSERT_EQ(second.status, 200) << second.body;
  const nlohmann::json page2 = Json(second);
  ASSERT_FALSE(page2["value"].empty());
  EXPECT_LT(std::stoll(page2["value"][0]["id"].get<std::string>()),
            std::stoll(page["value"][2]["id"].get<std::string>()));

  auto top = Call("GET", "/v1/audit", admin_token_, "", {{"$top", "0"}});
  EXPECT_EQ(top.status, 400);
  EXPECT_EQ(ErrorCodeOf(top), "InvalidPageSize");
}

TEST_F(ManagementRoutesTest, AuditEntriesNeverCarryAToken) {
  auto minted = Call("POST", "/v1/principals/" + admin_id_ + "/tokens", admin_token_, "{}");
  ASSERT_EQ(minted.status, 201);
  const std::string token = Json(minted)["token"];
  auto audit = Call("GET", "/v1/audit", admin_token_, "", {{"$top", "1000"}});
  ASSERT_EQ(audit.status, 200);
  EXPECT_EQ(audit.body.find(token), std::string::npos);
  EXPECT_EQ(audit.body.find(HashSecret(token)), std::string::npos);
  EXPECT_EQ(Json(audit)["value"][0]["action"], "token.create");
}

TEST_F(ManagementRoutesTest, APartnerAdminSeesOnlyItsOwnAuditEntriesAndOthers403) {
  const std::string prov = MakePartnerAdmin("prov", "prov.onmicrosoft.com");
  MakePartnerAdmin("other", "other.onmicrosoft.com");
  auto audit = Call("GET", "/v1/audit", prov, "", {{"$top", "1000"}});
  ASSERT_EQ(audit.status, 200) << audit.body;
  const nlohmann::json entries = Json(audit);  // kept alive for the loop
  for (const auto& entry : entries["value"]) EXPECT_EQ(entry["partnerId"], "prov");

  // A principal with no role at all.
  auto principal = Call("POST", "/v1/principals", admin_token_,
                        nlohmann::json{{"directoryId", directories_["prov"]},
                                       {"name", "plain@prov.onmicrosoft.com"},
                                       {"kind", "user"}}
                            .dump());
  ASSERT_EQ(principal.status, 201);
  auto token =
      Call("POST", "/v1/principals/" + Json(principal)["objectId"].get<std::string>() + "/tokens",
           admin_token_, "{}");
  ASSERT_EQ(token.status, 201);
  auto refused = Call("GET", "/v1/audit", Json(token)["token"]);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(ErrorCodeOf(refused), "AuthorizationFailed");
}

TEST_F(ManagementRoutesTest, TheLastPlatformAdminCannotBeDeleted) {
  auto response = Call("DELETE", "/v1/roleAssignments/bootstrap-" + admin_id_, admin_token_);
  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(ErrorCodeOf(response), "LastPlatformAdmin");
}

}  // namespace
}  // namespace stackbill
