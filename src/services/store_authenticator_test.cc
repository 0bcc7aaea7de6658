#include "services/store_authenticator.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "services/access_tokens.h"
#include "services/bootstrap.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {
namespace {

class StoreAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto boot = Bootstrap(*store_, BootstrapOptions{.token_hours = 24}, now_);
    ASSERT_TRUE(boot.ok()) << boot.status();
    boot_ = *std::move(boot);
  }

  void ExpectInvalidToken(const absl::StatusOr<Caller>& caller) {
    ASSERT_FALSE(caller.ok());
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(ErrorCode(caller.status()), "InvalidAuthenticationToken");
  }

  const Timestamp now_ = *Timestamp::Parse("2026-11-29T12:00:00Z");
  std::unique_ptr<Store> store_;
  BootstrapResult boot_;
};

TEST_F(StoreAuthenticatorTest, AValidTokenYieldsThePrincipalWithItsRoles) {
  StoreAuthenticator auth(*store_);
  auto caller = auth.AuthenticatePrincipal(boot_.token, now_);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->principal_id, boot_.admin.object_id);
  EXPECT_EQ(caller->directory_id, boot_.directory.id);
  EXPECT_FALSE(caller->stack_cloud_id.has_value());
  EXPECT_TRUE(IsPlatformAdmin(*caller));
}

TEST_F(StoreAuthenticatorTest, AnUnknownTokenIsRefusedAsInvalidAuthenticationToken) {
  StoreAuthenticator auth(*store_);
  ExpectInvalidToken(auth.AuthenticatePrincipal("sbt_not-a-real-token", now_));
  ExpectInvalidToken(auth.AuthenticatePrincipal("", now_));
}

TEST_F(StoreAuthenticatorTest, AnExpiredTokenIsRefusedAsInvalidAuthenticationToken) {
  StoreAuthenticator auth(*store_);
  ExpectInvalidToken(auth.AuthenticatePrincipal(boot_.token, now_.AddHours(24)));
  EXPECT_TRUE(auth.AuthenticatePrincipal(boot_.token, now_.AddHours(23)).ok());
}

TEST_F(StoreAuthenticatorTest, ARevokedTokenIsRefusedAtOnce) {
  StoreAuthenticator auth(*store_);
  ASSERT_TRUE(store_->identity().RevokeToken(boot_.token_id, now_.AddSeconds(10)).ok());
  ExpectInvalidToken(auth.AuthenticatePrincipal(boot_.token, now_.AddSeconds(10)));
}

TEST_F(StoreAuthenticatorTest, RoleChangesHoldOnTheNextRequest) {
  StoreAuthenticator auth(*store_);
  const RoleAssignment reader{.id = "extra",
                              .principal_id = boot_.admin.object_id,
                              .role = Role::kPartnerAdmin,
                              .scope = "/partners/p1"};
  ASSERT_TRUE(store_->identity().PutRoleAssignment(reader).ok());
  auto caller = auth.AuthenticatePrincipal(boot_.token, now_);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->roles.size(), 2u);
}

TEST_F(StoreAuthenticatorTest, AnActivationKeyYieldsTheStackIdentity) {
  const Guid cloud = *Guid::Parse("11111111-2222-3333-4444-555555555555");
  const Guid sub = *Guid::Parse("aaaaaaaa-2222-3333-4444-555555555555");
  ASSERT_TRUE(store_->parties()
                  .CreateSubscription(Subscription{.id = sub,
                                                   .offer_type = OfferType::kPayAsYouGo,
                                                   .directory_id = boot_.directory.id,
                                                   .partner_id = std::nullopt,
                                                   .billing_currency = "USD",
                                                   .display_name = "s",
                                                   .state = SubscriptionState::kActive},
                                      now_)
                  .ok());
  Registration registration;
  registration.name = {.subscription_id = sub, .resource_group = "rg", .name = "reg"};
  registration.cloud_id = cloud;
  registration.valid.from = now_;
  const Stack stack{.cloud_id = cloud,
                    .deployment_directory_id = boot_.directory.id,
                    .billing_model = BillingModel::kPayAsYouUse,
                    .usage_reporting_enabled = true,
                    .multi_tenant = false};
  ASSERT_TRUE(store_->registrations().PutRegistration(registration, stack).ok());
  auto key = MintSecret("sbk_");
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(store_->registrations()
                  .RotateActivationKey(ActivationKeyRecord{.hash = key->hash,
                                                           .cloud_id = cloud,
                                                           .created_at = now_,
                                                           .expires_at = std::nullopt},
                                       now_)
                  .ok());

  StoreAuthenticator auth(*store_);
  auto caller = auth.AuthenticateStack(key->plaintext, now_);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->stack_cloud_id, cloud);
  EXPECT_TRUE(caller->roles.empty());

  auto wrong = auth.AuthenticateStack("sbk_wrong", now_);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ErrorCode(wrong.status()), "InvalidActivationKey");

  // A bearer token is not an activation key, nor the other way round.
  EXPECT_EQ(ErrorCode(auth.AuthenticateStack(boot_.token, now_).status()), "InvalidActivationKey");
  ExpectInvalidToken(auth.AuthenticatePrincipal(key->plaintext, now_));

  ASSERT_TRUE(store_->registrations().ExpireActivationKeys(cloud, now_.AddHours(1)).ok());
  EXPECT_EQ(ErrorCode(auth.AuthenticateStack(key->plaintext, now_.AddHours(1)).status()),
            "InvalidActivationKey");
}

}  // namespace
}  // namespace stackbill
