#pragma once

// Test-only: the seed's cast (services/testing/seed_world.h) in an in-memory
// SQLite store, a fake Authenticator that maps bearer strings to callers, and
// a Router with the Microsoft.AzureStack and /v1 stack routes, for the handler
// tests. The registrant ("owner") lives in IURContosoCSP (R2).

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "api/api.h"
#include "core/error.h"
#include "http/router.h"
#include "services/authenticator.h"
#include "services/testing/seed_world.h"
#include "store/sqlite/sqlite_store.h"
#include "wire/registration_token.h"

namespace stackbill::testing_world {

using namespace seed_world;  // NOLINT(google-build-using-namespace): test-only constants
inline constexpr std::string_view kBaseUrl = "https://billing.example.com";

inline Caller MakeCaller(std::string_view principal, Guid directory, Role role, std::string scope) {
  Caller caller;
  caller.principal_id = G(principal);
  caller.directory_id = directory;
  caller.roles.push_back(RoleAssignment{.id = "ra-" + std::string(principal),
                                        .principal_id = caller.principal_id,
                                        .role = role,
                                        .scope = std::move(scope)});
  return caller;
}

// Bearer strings → callers; anything else is 401.
class FakeAuthenticator : public Authenticator {
 public:
  std::map<std::string, Caller, std::less<>> principals;
  std::map<std::string, Guid, std::less<>> stack_keys;

  absl::StatusOr<Caller> AuthenticatePrincipal(std::string_view bearer, Timestamp) override {
    if (auto it = principals.find(bearer); it != principals.end()) return it->second;
    return MakeError(absl::StatusCode::kUnauthenticated, "InvalidAuthenticationToken",
                     "unknown token");
  }
  absl::StatusOr<Caller> AuthenticateStack(std::string_view key, Timestamp) override {
    if (auto it = stack_keys.find(key); it != stack_keys.end()) {
      Caller caller;
      caller.stack_cloud_id = it->second;
      return caller;
    }
    return MakeError(absl::StatusCode::kUnauthenticated, "InvalidActivationKey", "unknown key");
  }
};

inline std::string Token(Guid cloud_id, BillingModel model = BillingModel::kPayAsYouUse) {
  RegistrationToken token;
  token.cloud_id = cloud_id;
  token.object_id = G("2dbdd5f4-daf3-442a-be35-b71c3debee5a");
  token.billing_model = model;
  token.usage_reporting_enabled = model != BillingModel::kCapacity;
  token.multi_tenant = true;
  token.deployment_directory_id = kContosoDir;
  if (model == BillingModel::kCapacity) token.agreement_number = "AG-1";
  return EncodeRegistrationToken(token);
}

inline std::string RegistrationPath(Guid subscription = kApss, std::string_view name = "reg1") {
  return "/subscriptions/" + subscription.ToString() +
         "/resourceGroups/azurestack/providers/Microsoft.AzureStack/registrations/" +
         std::string(name);
}

// Percent-decoding of a query component, as the server adapter does.
inline std::string PercentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

struct Reply {
  int status = 0;
  nlohmann::json body;
  std::string code;  // the ARM error code, when there is one
  std::string text;  // the body as sent
};

class RegistrationWorld : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    Seed(*store_);
    if (HasFatalFailure()) return;

    auth_.principals["owner"] = MakeCaller("e0000000-0000-0000-0000-000000000001", kIurDir,
                                           Role::kOwner, "/subscriptions/" + kApss.ToString());
    auth_.principals["payg-owner"] = MakeCaller("e0000000-0000-0000-0000-000000000001", kIurDir,
                                                Role::kOwner, "/subscriptions/" + kPayg.ToString());
    auth_.principals["reader"] = MakeCaller("e0000000-0000-0000-0000-000000000002", kContosoDir,
                                            Role::kReader, "/subscriptions/" + kApss.ToString());
    auth_.principals["admin"] =
        MakeCaller("e0000000-0000-0000-0000-000000000003", kContosoDir, Role::kPlatformAdmin, "/");
    auth_.principals["contoso-admin"] =
        MakeCaller("e0000000-0000-0000-0000-000000000005", kContosoDir, Role::kPartnerAdmin,
                   "/partners/contoso");
    auth_.principals["northwind"] =
        MakeCaller("e0000000-0000-0000-0000-000000000004", kNorthwindDir, Role::kPartnerAdmin,
                   "/partners/northwind");
    auth_.stack_keys["stack1-key"] = kCloud1;
    auth_.stack_keys["stack2-key"] = kCloud2;

    router_ = std::make_unique<Router>(auth_, std::string(kBaseUrl));
    ASSERT_TRUE(AddAzureStackRoutes(*router_, *store_, options_).ok());
    ASSERT_TRUE(AddStackRoutes(*router_, *store_, options_).ok());
  }

  // Sends one request; `target` may carry a query string ("…?api-version=…").
  Reply Send(std::string method, std::string_view target, std::string_view bearer,
             std::string body = "", Timestamp now = kT0) {
    HttpRequest request;
    request.method = std::move(method);
    request.raw_target = std::string(target);
    const std::size_t question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) {
      std::string_view query = target.substr(question + 1);
      while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const std::size_t eq = pair.find('=');
        request.query.emplace_back(
            PercentDecode(pair.substr(0, eq)),
            eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1)));
        query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
      }
    }
    if (!bearer.empty())
      request.headers.emplace_back("authorization", "Bearer " + std::string(bearer));
    request.body = std::move(body);
    request.request_id = "req-1";
    const HttpResponse response = router_->Dispatch(request, now);
    Reply reply;
    reply.status = response.status;
    reply.text = response.body;
    if (!response.body.empty()) {
      reply.body = nlohmann::json::parse(response.body, nullptr, false);
      if (reply.body.is_object() && reply.body.contains("error")) {
        reply.code = reply.body["error"].value("code", "");
      }
    }
    return reply;
  }

  // A registration PUT body with `token`.
  static std::string RegistrationBody(const std::string& token,
                                      std::string_view location = "global") {
    return nlohmann::json{{"location", location}, {"properties", {{"registrationToken", token}}}}
        .dump();
  }

  Reply Register(std::string_view bearer = "owner", Guid cloud = kCloud1,
                 std::string_view name = "reg1", Guid subscription = kApss) {
    return Send("PUT", RegistrationPath(subscription, name) + "?api-version=2017-06-01", bearer,
                RegistrationBody(Token(cloud)));
  }

  Reply PutCustomer(Guid customer, Guid tenant, std::string_view bearer = "owner",
                    Guid subscription = kApss, Timestamp now = kT0) {
    return Send("PUT",
                RegistrationPath(subscription) + "/customerSubscriptions/" + customer.ToString() +
                    "?api-version=2017-06-01",
                bearer, nlohmann::json{{"properties", {{"tenantId", tenant.ToString()}}}}.dump(),
                now);
  }

  ApiOptions options_;
  std::unique_ptr<Store> store_;
  FakeAuthenticator auth_;
  std::unique_ptr<Router> router_;
};

}  // namespace stackbill::testing_world
