#include "cli/world_apply.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "core/error.h"
#include "wire/registration_token.h"

namespace stackbill {
namespace {

using Json = nlohmann::json;

// An in-memory stand-in for the API: objects by path, 404 for what is not
// there, every mutation logged with the token that made it.
class FakeApi : public WorldApi {
 public:
  struct Mutation {
    std::string method;
    std::string target;
    std::string token;
    Json body;
  };

  absl::StatusOr<Json> Call(std::string_view method, std::string_view target, const Json* body,
                            const std::string& token) override {
    // Like the server: no GET for one subscriber mapping; an identical PUT is a no-op.
    if (target.find("/subscribers/") != std::string_view::npos) {
      if (method == "GET") return MakeError(absl::StatusCode::kUnknown, "MethodNotAllowed", "405");
      if (objects_.contains(std::string(target)) && objects_[std::string(target)] == *body) {
        return *body;
      }
      objects_[std::string(target)] = *body;
    }
    std::string path(target.substr(0, target.find('?')));
    const std::string query = target.find('?') == std::string_view::npos
                                  ? ""
                                  : std::string(target.substr(target.find('?') + 1));
    if (method == "GET") {
      if (path == "/v1/principals") {
        Json page = {{"value", Json::array()}};
        for (const auto& [key, value] : objects_) {
          if (key.starts_with("/v1/principals/") &&
              query.find(value["directoryId"].get<std::string>()) != std::string::npos) {
            page["value"].push_back(value);
          }
        }
        return page;
      }
      auto it = objects_.find(path);
      if (it == objects_.end()) return NotFoundError("NotFound", path + " not found");
      return it->second;
    }
    mutations.push_back({std::string(method), std::string(target), token, body ? *body : Json()});
    if (method == "DELETE") {
      objects_.erase(path);
      return Json();
    }
    if (path.ends_with("/tokens")) {
      ++tokens_;
      return Json{{"id", "tok" + std::to_string(tokens_)},
                  {"token", "sbt_" + std::to_string(tokens_)},
                  {"expiresAt", "2027-01-01T00:00:00Z"}};
    }
    if (path.ends_with("/getactivationkey")) return Json{{"activationKey", "sbk_key"}};
    if (method == "PUT") {
      Json stored = *body;
      if (path.find("/registrations/") != std::string::npos &&
          path.find("/customerSubscriptions/") == std::string::npos) {
        auto token_text = (*body)["properties"]["registrationToken"].get<std::string>();
        auto decoded = DecodeRegistrationToken(token_text);
        if (!decoded.ok()) return decoded.status();
        stored["properties"]["cloudId"] = decoded->cloud_id.ToString();
      }
      objects_[path] = stored;
      return stored;
    }
    // POST creates.
    static const std::map<std::string, std::string> kIdKey = {
        {"/v1/partners", "id"}, {"/v1/directories", "id"}, {"/v1/subscriptions", "subscriptionId"}};
    Json stored = *body;
    if (path == "/v1/principals") {
      stored["objectId"] = fmt_object_id(++principals_);
      objects_["/v1/principals/" + stored["objectId"].get<std::string>()] = stored;
      return stored;
    }
    const std::string key = path + "/" + (*body)[kIdKey.at(path)].get<std::string>();
    if (objects_.contains(key)) return AlreadyExistsError("Conflict", key + " exists");
    objects_[key] = stored;
    return stored;
  }

  // Mutations other than the idempotent subscriber PUTs.
  std::size_t Changes() const {
    std::size_t n = 0;
    // Subscriber and price sheet PUTs are idempotent writes, sent every time.
    for (const auto& m : mutations) {
      n += m.target.find("/subscribers/") == std::string::npos &&
           m.target.find("/v1/priceSheets/") == std::string::npos;
    }
    return n;
  }

  std::vector<Mutation> mutations;

 private:
  static std::string fmt_object_id(int n) {
    std::string digits = std::to_string(n);
    return "00000000-0000-4000-8000-" + std::string(12 - digits.size(), '0') + digits;
  }

  std::map<std::string, Json> objects_;
  int tokens_ = 0;
  int principals_ = 0;
};

World Demo() {
  const char* source = std::getenv("STACKBILL_SOURCE_DIR");
  auto world = LoadWorld(std::string(source != nullptr ? source : ".") + "/data/worlds/demo.json");
  EXPECT_TRUE(world.ok()) << world.status();
  return world.ok() ? *std::move(world) : World();
}

TEST(WorldApplyTest, ApplyingTwiceChangesNothingTheSecondTime) {
  const World world = Demo();
  FakeApi api;
  WorldApplyReport first;
  ASSERT_TRUE(ApplyWorld(world, api, first).ok());
  EXPECT_GT(first.created, 30);
  EXPECT_EQ(first.unchanged, 0);
  const std::size_t mutations = api.mutations.size();

  WorldApplyReport second;
  ASSERT_TRUE(ApplyWorld(world, api, second).ok());
  EXPECT_EQ(second.created, 0);
  EXPECT_EQ(second.unchanged, first.created);
  EXPECT_TRUE(second.secrets.empty());
  // Subscriber and price sheet PUTs, which the server keeps as they are.
  EXPECT_EQ(second.ensured, 7 + 3);
  EXPECT_EQ(api.Changes(), mutations - 7 - 3);
}

TEST(WorldApplyTest, IssuesTokensAndActivationKeysOnlyForWhatItCreates) {
  const World world = Demo();
  FakeApi api;
  WorldApplyReport report;
  ASSERT_TRUE(ApplyWorld(world, api, report).ok());
  int tokens = 0;
  int keys = 0;
  for (const auto& secret : report.secrets) {
    if (secret.starts_with("token for ")) ++tokens;
    if (secret.starts_with("activation key for ")) ++keys;
  }
  EXPECT_EQ(tokens, 7);
  EXPECT_EQ(keys, 3);
  EXPECT_TRUE(report.notes.empty());
}

TEST(WorldApplyTest, RegistersAsTheRegisteringPrincipalNotTheAdmin) {
  const World world = Demo();
  FakeApi api;
  WorldApplyReport report;
  ASSERT_TRUE(ApplyWorld(world, api, report).ok());
  int registrations = 0;
  int customers = 0;
  for (const auto& mutation : api.mutations) {
    if (mutation.method == "PUT" &&
        mutation.target.find("/providers/Microsoft.AzureStack/registrations/") !=
            std::string::npos) {
      EXPECT_NE(mutation.target.find("api-version=2017-06-01"), std::string::npos);
      const bool customer = mutation.target.find("/customerSubscriptions/") != std::string::npos;
      if (customer) {
        // The demo's customer subscriptions carry effectiveFrom, the
        // PlatformAdmin's correction (SPEC §3): sent as the admin.
        EXPECT_TRUE(mutation.token.empty()) << mutation.target;
        EXPECT_TRUE(mutation.body["properties"].contains("effectiveFrom")) << mutation.target;
        ++customers;
      } else {
        EXPECT_FALSE(mutation.token.empty()) << mutation.target;  // R2: not the admin's
        ++registrations;
      }
    }
  }
  EXPECT_EQ(registrations, 3);
  EXPECT_EQ(customers, 4);
}

TEST(WorldApplyTest, ACustomerSubscriptionAddedLaterIsTheOnlyChange) {
  World world = Demo();
  FakeApi api;
  WorldApplyReport first;
  ASSERT_TRUE(ApplyWorld(world, api, first).ok());
  // The unregistered Adventure Works gets registered on stack 1.
  const WorldSubscription* adventure = nullptr;
  for (const auto& subscription : world.subscriptions) {
    if (subscription.display_name == "Adventure Works on Contoso") adventure = &subscription;
  }
  ASSERT_NE(adventure, nullptr);
  world.registrations[0].customer_subscriptions.push_back(
      {adventure->id, adventure->directory_id, adventure->display_name, std::nullopt});
  const std::size_t before = api.mutations.size();
  WorldApplyReport second;
  ASSERT_TRUE(ApplyWorld(world, api, second).ok());
  EXPECT_EQ(second.created, 1);
  // A temporary token for the registrar, the PUT, and the token's revocation.
  std::vector<FakeApi::Mutation> changes;
  for (std::size_t i = before; i < api.mutations.size(); ++i) {
    // Subscribers and price sheets are PUT on every apply (idempotently).
    if (api.mutations[i].target.find("/subscribers/") == std::string::npos &&
        api.mutations[i].target.find("/v1/priceSheets/") == std::string::npos) {
      changes.push_back(api.mutations[i]);
    }
  }
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_TRUE(changes[0].target.ends_with("/tokens"));
  EXPECT_EQ(changes[1].method, "PUT");
  EXPECT_EQ(changes[1].token, "sbt_8");
  EXPECT_EQ(changes[2].method, "DELETE");
  EXPECT_EQ(changes[2].target, "/v1/tokens/tok8");
}

TEST(WorldApplyTest, AnErrorNamesTheObjectItStoppedAt) {
  class Refusing : public FakeApi {
   public:
    absl::StatusOr<Json> Call(std::string_view method, std::string_view target, const Json* body,
                              const std::string& token) override {
      if (method == "PUT" && target.find("customerSubscriptions") != std::string_view::npos) {
        return PermissionDeniedError("BadCustomerSubscriptionId",
                                     "you cannot register someone else's customers");
      }
      return FakeApi::Call(method, target, body, token);
    }
  };
  Refusing api;
  WorldApplyReport report;
  const absl::Status status = ApplyWorld(Demo(), api, report);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(ErrorCode(status), "BadCustomerSubscriptionId");
  EXPECT_NE(Message(status).find("registration contoso-stack1"), std::string::npos)
      << Message(status);
}

}  // namespace
}  // namespace stackbill
