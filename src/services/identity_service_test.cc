#include "services/identity_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "services/access_tokens.h"
#include "services/bootstrap.h"
#include "services/store_authenticator.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {
namespace {

using ::testing::ElementsAre;

MATCHER_P2(IsError, code, product_code, "") {
  const absl::Status status = arg.status();
  *result_listener << "status: " << status;
  return status.code() == code && ErrorCode(status) == product_code;
}

// A world: the platform admin; an indirect provider "prov" with reseller
// "res" and a directory of its own; a direct partner "other" with its
// directory; one PartnerAdmin principal for each of prov and other.
class IdentityServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto boot = Bootstrap(*store_, BootstrapOptions{}, now_);
    ASSERT_TRUE(boot.ok()) << boot.status();
    boot_ = *std::move(boot);
    service_ = std::make_unique<IdentityService>(*store_);
    admin_ = Authenticate(boot_.token);

    ASSERT_TRUE(service_
                    ->CreatePartner(admin_, now_,
                                    {.id = "prov",
                                     .name = "Provider",
                                     .kind = PartnerKind::kIndirectProvider,
                                     .parent_partner_id = std::nullopt,
                                     .billing_currency = "USD"})
                    .ok());
    ASSERT_TRUE(service_
                    ->CreatePartner(admin_, now_,
                                    {.id = "res",
                                     .name = "Reseller",
                                     .kind = PartnerKind::kIndirectReseller,
                                     .parent_partner_id = "prov",
                                     .billing_currency = "USD"})
                    .ok());
    ASSERT_TRUE(service_
                    ->CreatePartner(admin_, now_,
                                    {.id = "other",
                                     .name = "Other",
                                     .kind = PartnerKind::kDirect,
                                     .parent_partner_id = std::nullopt,
                                     .billing_currency = "EUR"})
                    .ok());
    prov_dir_ = MakeDirectory("prov.onmicrosoft.com", "prov");
    other_dir_ = MakeDirectory("other.onmicrosoft.com", "other");
    prov_admin_ = MakePartnerAdmin(prov_dir_, "admin@prov.onmicrosoft.com", "prov");
    other_admin_ = MakePartnerAdmin(other_dir_, "admin@other.onmicrosoft.com", "other");
  }

  Caller Authenticate(const std::string& token) {
    auto caller = StoreAuthenticator(*store_).AuthenticatePrincipal(token, now_);
    EXPECT_TRUE(caller.ok()) << caller.status();
    return caller.ok() ? *caller : Caller{};
  }

  Guid MakeDirectory(const std::string& domain, const std::string& owner) {
    auto directory = service_->CreateDirectory(admin_, now_,
                                               {.id = std::nullopt,
                                                .display_name = domain,
                                                .domains = {domain},
                                                .owner_partner_id = owner});
    EXPECT_TRUE(directory.ok()) << directory.status();
    return directory.ok() ? directory->id : Guid();
  }

  // A principal holding PartnerAdmin on /partners/{partner}, authenticated
  // through its own token.
  Caller MakePartnerAdmin(Guid directory, const std::string& name, const std::string& partner) {
    auto principal = service_->CreatePrincipal(admin_, now_,
                                               {.object_id = std::nullopt,
                                                .directory_id = directory,
                                                .name = name,
                                                .kind = PrincipalKind::kUser});
    EXPECT_TRUE(principal.ok()) << principal.status();
    auto put = service_->PutRoleAssignment(admin_, now_,
                                           {.id = "pa-" + partner,
                                            .principal_id = principal->object_id,
                                            .role = Role::kPartnerAdmin,
                                            .scope = "/partners/" + partner});
    EXPECT_TRUE(put.ok()) << put.status();
    auto token = service_->MintToken(admin_, now_, principal->object_id, std::nullopt);
    EXPECT_TRUE(token.ok()) << token.status();
    return Authenticate(token->token);
  }

  absl::StatusOr<Subscription> MakeCspSubscription(const Caller& caller, Guid directory,
                                                   const std::string& partner) {
    return service_->CreateSubscription(caller, now_,
                                        {.id = std::nullopt,
                                         .offer_type = OfferType::kCsp,
                                         .directory_id = directory,
                                         .partner_id = partner,
                                         .billing_currency = std::nullopt,
                                         .display_name = "customer"});
  }

  const Timestamp now_ = *Timestamp::Parse("2026-11-29T12:00:00Z");
  std::unique_ptr<Store> store_;
  BootstrapResult boot_;
  std::unique_ptr<IdentityService> service_;
  Caller admin_;
  Guid prov_dir_;
  Guid other_dir_;
  Caller prov_admin_;
  Caller other_admin_;
};

// --- tokens -----------------------------------------------------------------

TEST_F(IdentityServiceTest, MintedTokensAreStoredOnlyAsTheirHashAndExpireAfterTheirLifetime) {
  auto token = service_->MintToken(prov_admin_, now_, prov_admin_.principal_id, 2);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_TRUE(token->token.starts_with("sbt_"));
  EXPECT_EQ(token->expires_at, now_.AddHours(2));
  auto stored = store_->identity().GetToken(token->id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->hash, HashSecret(token->token));
  EXPECT_NE(stored->hash, token->token);
}

TEST_F(IdentityServiceTest, TokensLastThirtyDaysUnlessAskedOtherwise) {
  auto token = service_->MintToken(prov_admin_, now_, prov_admin_.principal_id, std::nullopt);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->expires_at, now_.AddHours(24 * 30));
}

TEST_F(IdentityServiceTest, ATokenLifetimeOutsideOneHourToOneYearIsRefused) {
  for (std::int64_t hours : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{24 * 365 + 1}}) {
    EXPECT_THAT(service_->MintToken(prov_admin_, now_, prov_admin_.principal_id, hours),
                IsError(absl::StatusCode::kInvalidArgument, "InvalidTokenLifetime"));
  }
}

TEST_F(IdentityServiceTest, MintingAnotherPrincipalsTokenIsAuthorizationFailed) {
  EXPECT_THAT(service_->MintToken(prov_admin_, now_, other_admin_.principal_id, 1),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
  EXPECT_THAT(service_->MintToken(prov_admin_, now_, boot_.admin.object_id, 1),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
}

TEST_F(IdentityServiceTest, APlatformAdminMintsForAnyoneButAnUnknownPrincipalIsNotFound) {
  EXPECT_TRUE(service_->MintToken(admin_, now_, other_admin_.principal_id, 1).ok());
  EXPECT_THAT(
      service_->MintToken(admin_, now_, *Guid::Parse("00000000-0000-0000-0000-00000000abcd"), 1),
      IsError(absl::StatusCode::kNotFound, "PrincipalNotFound"));
}

TEST_F(IdentityServiceTest, ARevokedTokenNoLongerAuthenticates) {
  auto token = service_->MintToken(prov_admin_, now_, prov_admin_.principal_id, 1);
  ASSERT_TRUE(token.ok());
  StoreAuthenticator auth(*store_);
  ASSERT_TRUE(auth.AuthenticatePrincipal(token->token, now_).ok());
  auto revoked = service_->RevokeToken(prov_admin_, now_, token->id);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  EXPECT_EQ(revoked->revoked_at, now_);
  EXPECT_THAT(auth.AuthenticatePrincipal(token->token, now_),
              IsError(absl::StatusCode::kUnauthenticated, "InvalidAuthenticationToken"));
}

TEST_F(IdentityServiceTest, AnotherPartnersTokenCannotBeRevokedAndDoesNotExistForThem) {
  auto token = service_->MintToken(other_admin_, now_, other_admin_.principal_id, 1);
  ASSERT_TRUE(token.ok());
  EXPECT_THAT(service_->RevokeToken(prov_admin_, now_, token->id),
              IsError(absl::StatusCode::kNotFound, "TokenNotFound"));
  EXPECT_THAT(service_->RevokeToken(prov_admin_, now_, "no-such-token"),
              IsError(absl::StatusCode::kNotFound, "TokenNotFound"));
}

TEST_F(IdentityServiceTest, TheAuditLogNeverHoldsAPlaintextToken) {
  auto token = service_->MintToken(prov_admin_, now_, prov_admin_.principal_id, 1);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(service_->RevokeToken(prov_admin_, now_, token->id).ok());
  auto page = store_->audit().ListAudit({}, {.cursor = "", .limit = 1000});
  ASSERT_TRUE(page.ok());
  bool saw_create = false;
  for (const AuditEntry& e : page->items) {
    EXPECT_EQ(e.after_json.find(token->token), std::string::npos) << e.action;
    EXPECT_EQ(e.before_json.find(token->token), std::string::npos) << e.action;
    EXPECT_EQ(e.after_json.find(HashSecret(token->token)), std::string::npos) << e.action;
    if (e.action == "token.create" && e.resource == "/v1/tokens/" + token->id) saw_create = true;
  }
  EXPECT_TRUE(saw_create);
  EXPECT_EQ(page->items.front().action, "token.revoke");
  EXPECT_EQ(page->items.front().partner_id, "prov");
}

// --- principals and directories ---------------------------------------------

TEST_F(IdentityServiceTest, APartnerAdminCreatesPrincipalsInItsOwnDirectory) {
  auto principal = service_->CreatePrincipal(prov_admin_, now_,
                                             {.object_id = std::nullopt,
                                              .directory_id = prov_dir_,
                                              .name = "ops@prov.onmicrosoft.com",
                                              .kind = PrincipalKind::kUser});
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_TRUE(service_->GetPrincipal(prov_admin_, now_, principal->object_id).ok());
  EXPECT_THAT(service_->GetPrincipal(other_admin_, now_, principal->object_id),
              IsError(absl::StatusCode::kNotFound, "PrincipalNotFound"));
}

TEST_F(IdentityServiceTest, CreatingAPrincipalInAForeignDirectoryIsAuthorizationFailed) {
  EXPECT_THAT(service_->CreatePrincipal(prov_admin_, now_,
                                        {.object_id = std::nullopt,
                                         .directory_id = other_dir_,
                                         .name = "spy@other.onmicrosoft.com",
                                         .kind = PrincipalKind::kUser}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
  // An unknown directory answers the same, so existence does not leak.
  EXPECT_THAT(service_->CreatePrincipal(
                  prov_admin_, now_,
                  {.object_id = std::nullopt,
                   .directory_id = *Guid::Parse("00000000-0000-0000-0000-0000000000aa"),
                   .name = "x",
                   .kind = PrincipalKind::kUser}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
}

TEST_F(IdentityServiceTest, ADuplicatePrincipalNameIsAlreadyExists) {
  EXPECT_THAT(service_->CreatePrincipal(admin_, now_,
                                        {.object_id = std::nullopt,
                                         .directory_id = prov_dir_,
                                         .name = "ADMIN@prov.onmicrosoft.com",
                                         .kind = PrincipalKind::kUser}),
              IsError(absl::StatusCode::kAlreadyExists, "PrincipalAlreadyExists"));
}

TEST_F(IdentityServiceTest, DirectoriesOfAnotherPartnerAreNotFound) {
  EXPECT_TRUE(service_->GetDirectory(prov_admin_, now_, prov_dir_).ok());
  EXPECT_THAT(service_->GetDirectory(prov_admin_, now_, other_dir_),
              IsError(absl::StatusCode::kNotFound, "DirectoryNotFound"));
  auto listed = service_->ListDirectories(prov_admin_, now_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, prov_dir_);
  auto all = service_->ListDirectories(admin_, now_);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
}

TEST_F(IdentityServiceTest, APartnerAdminCreatesDirectoriesOnlyForPartnersItAdministers) {
  auto own = service_->CreateDirectory(prov_admin_, now_,
                                       {.id = std::nullopt,
                                        .display_name = "Customer A",
                                        .domains = {"CustomerA.onmicrosoft.com"},
                                        .owner_partner_id = "res"});
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_THAT(own->domains, ElementsAre("customera.onmicrosoft.com"));
  EXPECT_THAT(service_->CreateDirectory(prov_admin_, now_,
                                        {.id = std::nullopt,
                                         .display_name = "x",
                                         .domains = {"x.onmicrosoft.com"},
                                         .owner_partner_id = "other"}),
              IsError(absl::StatusCode::kNotFound, "PartnerNotFound"));
  EXPECT_THAT(service_->CreateDirectory(prov_admin_, now_,
                                        {.id = std::nullopt,
                                         .display_name = "x",
                                         .domains = {"y.onmicrosoft.com"},
                                         .owner_partner_id = std::nullopt}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
}

TEST_F(IdentityServiceTest, DirectoryDomainsMustBeDomainNamesAndUnique) {
  const auto create = [&](std::vector<std::string> domains) {
    return service_->CreateDirectory(admin_, now_,
                                     {.id = std::nullopt,
                                      .display_name = "d",
                                      .domains = std::move(domains),
                                      .owner_partner_id = std::nullopt});
  };
  EXPECT_THAT(create({"not a domain"}),
              IsError(absl::StatusCode::kInvalidArgument, "InvalidDomain"));
  EXPECT_THAT(create({"a.example.com", "A.example.com"}),
              IsError(absl::StatusCode::kInvalidArgument, "InvalidDomain"));
  EXPECT_THAT(create({"PROV.onmicrosoft.com"}),
              IsError(absl::StatusCode::kAlreadyExists, "DomainAlreadyExists"));
}

// --- partners ---------------------------------------------------------------

TEST_F(IdentityServiceTest, AResellersParentLinkIsEffectiveDatedFromItsCreation) {
  auto links = store_->parties().ListPartnerParentLinks("res");
  ASSERT_TRUE(links.ok());
  ASSERT_EQ(links->size(), 1u);
  EXPECT_EQ((*links)[0].parent_partner_id, "prov");
  EXPECT_EQ((*links)[0].valid.from, now_);
  auto res = service_->GetPartner(prov_admin_, now_, "res");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->parent_partner_id, "prov");
}

TEST_F(IdentityServiceTest, PartnerKindsAndParentsMustFit) {
  NewPartner orphan{.id = "r2",
                    .name = "R2",
                    .kind = PartnerKind::kIndirectReseller,
                    .parent_partner_id = std::nullopt,
                    .billing_currency = "USD"};
  EXPECT_THAT(service_->CreatePartner(admin_, now_, orphan),
              IsError(absl::StatusCode::kInvalidArgument, "MissingRequiredProperty"));
  NewPartner under_direct = orphan;
  under_direct.parent_partner_id = "other";
  EXPECT_THAT(service_->CreatePartner(admin_, now_, under_direct),
              IsError(absl::StatusCode::kInvalidArgument, "InvalidParentPartner"));
  NewPartner direct_with_parent{.id = "d2",
                                .name = "D2",
                                .kind = PartnerKind::kDirect,
                                .parent_partner_id = "prov",
                                .billing_currency = "USD"};
  EXPECT_THAT(service_->CreatePartner(admin_, now_, direct_with_parent),
              IsError(absl::StatusCode::kInvalidArgument, "InvalidParentPartner"));
  NewPartner bad_currency{.id = "d3",
                          .name = "D3",
                          .kind = PartnerKind::kDirect,
                          .parent_partner_id = std::nullopt,
                          .billing_currency = "XXQ"};
  EXPECT_THAT(service_->CreatePartner(admin_, now_, bad_currency),
              IsError(absl::StatusCode::kInvalidArgument, "UnsupportedCurrency"));
  NewPartner bad_id{.id = "a/b",
                    .name = "D4",
                    .kind = PartnerKind::kDirect,
                    .parent_partner_id = std::nullopt,
                    .billing_currency = "USD"};
  EXPECT_THAT(service_->CreatePartner(admin_, now_, bad_id),
              IsError(absl::StatusCode::kInvalidArgument, "InvalidPartnerId"));
  NewPartner taken{.id = "prov",
                   .name = "Again",
                   .kind = PartnerKind::kDirect,
                   .parent_partner_id = std::nullopt,
                   .billing_currency = "USD"};
  EXPECT_THAT(service_->CreatePartner(admin_, now_, taken),
              IsError(absl::StatusCode::kAlreadyExists, "PartnerAlreadyExists"));
}

TEST_F(IdentityServiceTest, APartnerAdminAddsResellersOnlyUnderItsOwnChain) {
  NewPartner reseller{.id = std::nullopt,
                      .name = "R3",
                      .kind = PartnerKind::kIndirectReseller,
                      .parent_partner_id = "prov",
                      .billing_currency = "USD"};
  auto created = service_->CreatePartner(prov_admin_, now_, reseller);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(Guid::IsCanonical(created->partner.id));
  EXPECT_THAT(service_->CreatePartner(other_admin_, now_, reseller),
              IsError(absl::StatusCode::kNotFound, "PartnerNotFound"));
  NewPartner top{.id = "top",
                 .name = "Top",
                 .kind = PartnerKind::kDirect,
                 .parent_partner_id = std::nullopt,
                 .billing_currency = "USD"};
  EXPECT_THAT(service_->CreatePartner(prov_admin_, now_, top),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
}

TEST_F(IdentityServiceTest, AnotherPartnerIsNotFoundAndNotListed) {
  EXPECT_THAT(service_->GetPartner(prov_admin_, now_, "other"),
              IsError(absl::StatusCode::kNotFound, "PartnerNotFound"));
  auto listed = service_->ListPartners(prov_admin_, now_);
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> ids;
  for (const auto& p : *listed) ids.push_back(p.partner.id);
  EXPECT_THAT(ids, ElementsAre("prov", "res"));
}

// --- subscriptions ----------------------------------------------------------

TEST_F(IdentityServiceTest, CspSubscriptionsNeedAPartnerAndDirectBilledOnesACurrency) {
  NewSubscription csp{.id = std::nullopt,
                      .offer_type = OfferType::kCsp,
                      .directory_id = prov_dir_,
                      .partner_id = std::nullopt,
                      .billing_currency = std::nullopt,
                      .display_name = "c"};
  EXPECT_THAT(service_->CreateSubscription(admin_, now_, csp),
              IsError(absl::StatusCode::kInvalidArgument, "MissingRequiredProperty"));
  NewSubscription payg{.id = std::nullopt,
                       .offer_type = OfferType::kPayAsYouGo,
                       .directory_id = prov_dir_,
                       .partner_id = std::nullopt,
                       .billing_currency = std::nullopt,
                       .display_name = "p"};
  EXPECT_THAT(service_->CreateSubscription(admin_, now_, payg),
              IsError(absl::StatusCode::kInvalidArgument, "MissingRequiredProperty"));
  payg.billing_currency = "usd";
  EXPECT_THAT(service_->CreateSubscription(admin_, now_, payg),
              IsError(absl::StatusCode::kInvalidArgument, "UnsupportedCurrency"));
  payg.billing_currency = "USD";
  auto created = service_->CreateSubscription(admin_, now_, payg);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->state, SubscriptionState::kActive);
  EXPECT_THAT(service_->CreateSubscription(prov_admin_, now_, payg),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
}

TEST_F(IdentityServiceTest, APartnerAdminSellsCspSubscriptionsOnlyForItsChain) {
  auto sub = MakeCspSubscription(prov_admin_, prov_dir_, "res");
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_THAT(MakeCspSubscription(prov_admin_, prov_dir_, "other"),
              IsError(absl::StatusCode::kNotFound, "PartnerNotFound"));
  EXPECT_THAT(MakeCspSubscription(prov_admin_, other_dir_, "prov"),
              IsError(absl::StatusCode::kNotFound, "DirectoryNotFound"));
  EXPECT_TRUE(service_->GetSubscription(prov_admin_, now_, sub->id).ok());
  EXPECT_THAT(service_->GetSubscription(other_admin_, now_, sub->id),
              IsError(absl::StatusCode::kNotFound, "SubscriptionNotFound"));
  auto listed = service_->ListSubscriptions(other_admin_, now_, std::nullopt);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(IdentityServiceTest, ATakenSubscriptionIdIsAlreadyExists) {
  NewSubscription csp{.id = *Guid::Parse("5E1C0000-0000-0000-0000-000000000001"),
                      .offer_type = OfferType::kApss,
                      .directory_id = prov_dir_,
                      .partner_id = "prov",
                      .billing_currency = std::nullopt,
                      .display_name = "shared"};
  ASSERT_TRUE(service_->CreateSubscription(admin_, now_, csp).ok());
  EXPECT_THAT(service_->CreateSubscription(admin_, now_, csp),
              IsError(absl::StatusCode::kAlreadyExists, "SubscriptionAlreadyExists"));
}

// --- role assignments -------------------------------------------------------

TEST_F(IdentityServiceTest, APartnerAdminCannotGrantPlatformAdminOrTheRootScope) {
  EXPECT_THAT(service_->PutRoleAssignment(prov_admin_, now_,
                                          {.id = "esc1",
                                           .principal_id = prov_admin_.principal_id,
                                           .role = Role::kPlatformAdmin,
                                           .scope = "/"}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
  // A role that does not fit "/" is refused for its shape first.
  EXPECT_THAT(service_->PutRoleAssignment(prov_admin_, now_,
                                          {.id = "esc2",
                                           .principal_id = prov_admin_.principal_id,
                                           .role = Role::kPartnerAdmin,
                                           .scope = "/"}),
              IsError(absl::StatusCode::kInvalidArgument, "InvalidRoleAssignment"));
}

TEST_F(IdentityServiceTest, APartnerAdminGrantsOnlyInsideItsOwnChain) {
  auto sub = MakeCspSubscription(admin_, prov_dir_, "res");
  ASSERT_TRUE(sub.ok());
  auto ok = service_->PutRoleAssignment(prov_admin_, now_,
                                        {.id = "owner1",
                                         .principal_id = prov_admin_.principal_id,
                                         .role = Role::kOwner,
                                         .scope = "/SUBSCRIPTIONS/" + sub->id.ToString()});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->created);
  EXPECT_EQ(ok->assignment.scope, "/subscriptions/" + sub->id.ToString());
  EXPECT_TRUE(service_
                  ->PutRoleAssignment(prov_admin_, now_,
                                      {.id = "pa-res",
                                       .principal_id = prov_admin_.principal_id,
                                       .role = Role::kPartnerAdmin,
                                       .scope = "/partners/res"})
                  .ok());
  EXPECT_THAT(service_->PutRoleAssignment(prov_admin_, now_,
                                          {.id = "esc3",
                                           .principal_id = prov_admin_.principal_id,
                                           .role = Role::kPartnerAdmin,
                                           .scope = "/partners/other"}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
  EXPECT_THAT(service_->PutRoleAssignment(other_admin_, now_,
                                          {.id = "esc4",
                                           .principal_id = other_admin_.principal_id,
                                           .role = Role::kReader,
                                           .scope = "/subscriptions/" + sub->id.ToString()}),
              IsError(absl::StatusCode::kNotFound, "SubscriptionNotFound"));
}

TEST_F(IdentityServiceTest, APutReplacesAnExistingAssignmentAndSaysSo) {
  RoleAssignment a{.id = "pa-res2",
                   .principal_id = other_admin_.principal_id,
                   .role = Role::kPartnerAdmin,
                   .scope = "/partners/res"};
  auto first = service_->PutRoleAssignment(admin_, now_, a);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  a.scope = "/partners/prov";
  auto second = service_->PutRoleAssignment(admin_, now_, a);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(store_->identity().GetRoleAssignment("pa-res2")->scope, "/partners/prov");
}

TEST_F(IdentityServiceTest, APartnerAdminCannotOverwriteAnAssignmentItCouldNotGrant) {
  EXPECT_THAT(service_->PutRoleAssignment(prov_admin_, now_,
                                          {.id = "pa-other",
                                           .principal_id = prov_admin_.principal_id,
                                           .role = Role::kPartnerAdmin,
                                           .scope = "/partners/prov"}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
  EXPECT_THAT(service_->DeleteRoleAssignment(prov_admin_, now_, "pa-other"),
              IsError(absl::StatusCode::kNotFound, "RoleAssignmentNotFound"));
}

TEST_F(IdentityServiceTest, TheLastPlatformAdminCannotBeRemoved) {
  const std::string id = "bootstrap-" + boot_.admin.object_id.ToString();
  EXPECT_THAT(service_->DeleteRoleAssignment(admin_, now_, id),
              IsError(absl::StatusCode::kFailedPrecondition, "LastPlatformAdmin"));
  ASSERT_TRUE(service_
                  ->PutRoleAssignment(admin_, now_,
                                      {.id = "second-admin",
                                       .principal_id = other_admin_.principal_id,
                                       .role = Role::kPlatformAdmin,
                                       .scope = "/"})
                  .ok());
  EXPECT_TRUE(service_->DeleteRoleAssignment(admin_, now_, id).ok());
}

TEST_F(IdentityServiceTest, GrantsToUnknownTargetsAreNotFound) {
  EXPECT_THAT(service_->PutRoleAssignment(
                  admin_, now_,
                  {.id = "x1",
                   .principal_id = *Guid::Parse("00000000-0000-0000-0000-00000000beef"),
                   .role = Role::kPartnerAdmin,
                   .scope = "/partners/prov"}),
              IsError(absl::StatusCode::kNotFound, "PrincipalNotFound"));
  EXPECT_THAT(service_->PutRoleAssignment(admin_, now_,
                                          {.id = "x2",
                                           .principal_id = prov_admin_.principal_id,
                                           .role = Role::kPartnerAdmin,
                                           .scope = "/partners/nobody"}),
              IsError(absl::StatusCode::kNotFound, "PartnerNotFound"));
  EXPECT_THAT(service_->PutRoleAssignment(admin_, now_,
                                          {.id = "bad id!",
                                           .principal_id = prov_admin_.principal_id,
                                           .role = Role::kPartnerAdmin,
                                           .scope = "/partners/prov"}),
              IsError(absl::StatusCode::kInvalidArgument, "InvalidRoleAssignmentId"));
}

TEST_F(IdentityServiceTest, RoleAssignmentsListedAreThoseTheCallerHoldsOrCouldGrant) {
  auto listed = service_->ListRoleAssignments(prov_admin_, now_, std::nullopt);
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> ids;
  for (const auto& a : *listed) ids.push_back(a.id);
  EXPECT_THAT(ids, ElementsAre("pa-prov"));
  auto all = service_->ListRoleAssignments(admin_, now_, std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
}

TEST_F(IdentityServiceTest, AnOwnerSeesItsSubscriptionAndItsDirectoryButNothingElse) {
  auto sub = MakeCspSubscription(admin_, prov_dir_, "res");
  ASSERT_TRUE(sub.ok());
  auto customer = service_->CreatePrincipal(admin_, now_,
                                            {.object_id = std::nullopt,
                                             .directory_id = other_dir_,
                                             .name = "owner@other.onmicrosoft.com",
                                             .kind = PrincipalKind::kUser});
  ASSERT_TRUE(customer.ok());
  ASSERT_TRUE(service_
                  ->PutRoleAssignment(admin_, now_,
                                      {.id = "owner",
                                       .principal_id = customer->object_id,
                                       .role = Role::kOwner,
                                       .scope = "/subscriptions/" + sub->id.ToString()})
                  .ok());
  auto token = service_->MintToken(admin_, now_, customer->object_id, 1);
  ASSERT_TRUE(token.ok());
  const Caller owner = Authenticate(token->token);
  EXPECT_TRUE(service_->GetSubscription(owner, now_, sub->id).ok());
  EXPECT_TRUE(service_->GetDirectory(owner, now_, prov_dir_).ok());
  auto subs = service_->ListSubscriptions(owner, now_, std::nullopt);
  ASSERT_TRUE(subs.ok());
  EXPECT_EQ(subs->size(), 1u);
  EXPECT_THAT(service_->GetPartner(owner, now_, "res"),
              IsError(absl::StatusCode::kNotFound, "PartnerNotFound"));
  EXPECT_THAT(service_->ListAudit(owner, now_, {.cursor = "", .limit = 10}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
  // An Owner grants Reader on its own subscription, never PartnerAdmin.
  EXPECT_TRUE(service_
                  ->PutRoleAssignment(owner, now_,
                                      {.id = "reader",
                                       .principal_id = customer->object_id,
                                       .role = Role::kReader,
                                       .scope = "/subscriptions/" + sub->id.ToString()})
                  .ok());
  EXPECT_THAT(service_->PutRoleAssignment(owner, now_,
                                          {.id = "esc",
                                           .principal_id = customer->object_id,
                                           .role = Role::kPartnerAdmin,
                                           .scope = "/partners/res"}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
}

TEST_F(IdentityServiceTest, APartnerAdminRevokesTokensOfPrincipalsInItsDirectories) {
  auto principal = service_->CreatePrincipal(prov_admin_, now_,
                                             {.object_id = std::nullopt,
                                              .directory_id = prov_dir_,
                                              .name = "leaver@prov.onmicrosoft.com",
                                              .kind = PrincipalKind::kUser});
  ASSERT_TRUE(principal.ok());
  auto token = service_->MintToken(admin_, now_, principal->object_id, 1);
  ASSERT_TRUE(token.ok());
  EXPECT_THAT(service_->RevokeToken(other_admin_, now_, token->id),
              IsError(absl::StatusCode::kNotFound, "TokenNotFound"));
  auto revoked = service_->RevokeToken(prov_admin_, now_, token->id);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  // Revoking again keeps the first time.
  auto again = service_->RevokeToken(prov_admin_, now_.AddHours(1), token->id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->revoked_at, now_);
}

// --- audit ------------------------------------------------------------------

TEST_F(IdentityServiceTest, APartnerAdminSeesOnlyAuditEntriesAboutItsOwnPartners) {
  auto page = service_->ListAudit(prov_admin_, now_, {.cursor = "", .limit = 1000});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_FALSE(page->items.empty());
  for (const AuditEntry& e : page->items) {
    ASSERT_TRUE(e.partner_id.has_value()) << e.action;
    EXPECT_TRUE(*e.partner_id == "prov" || *e.partner_id == "res") << *e.partner_id;
  }
  auto everything = service_->ListAudit(admin_, now_, {.cursor = "", .limit = 1000});
  ASSERT_TRUE(everything.ok());
  EXPECT_GT(everything->items.size(), page->items.size());
}

TEST_F(IdentityServiceTest, AuditIsPagedNewestFirst) {
  auto first = service_->ListAudit(admin_, now_, {.cursor = "", .limit = 2});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_GT(first->items[0].id, first->items[1].id);
  ASSERT_FALSE(first->next_cursor.empty());
  auto second = service_->ListAudit(admin_, now_, {.cursor = first->next_cursor, .limit = 2});
  ASSERT_TRUE(second.ok());
  EXPECT_LT(second->items[0].id, first->items[1].id);
}

TEST_F(IdentityServiceTest, APrincipalWithoutAPartnerOrPlatformRoleCannotReadTheAuditLog) {
  Caller nobody{.principal_id = *Guid::Parse("00000000-0000-0000-0000-000000000001"),
                .directory_id = prov_dir_,
                .roles = {},
                .stack_cloud_id = std::nullopt};
  EXPECT_THAT(service_->ListAudit(nobody, now_, {.cursor = "", .limit = 10}),
              IsError(absl::StatusCode::kPermissionDenied, "AuthorizationFailed"));
}

}  // namespace
}  // namespace stackbill
