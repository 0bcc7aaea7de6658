#include "core/access.h"

#include "core/error.h"
#include "core/testing/history_builder.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

using testing::CallerWithRole;
using testing::ExpectError;
using testing::HistoryBuilder;
using testing::Nov;
using testing::OwnerOf;
using testing::PartnerAdminOf;
using testing::PlatformAdmin;
using testing::ReaderOf;
using testing::RegName;
using testing::RegVersion;
using testing::StandardWorld;
using testing::TestGuid;
using namespace testing::world;

const Timestamp kNow = Nov(20);

RoleAssignment Grant(Role role, std::string scope) {
  RoleAssignment a;
  a.id = "ra-new";
  a.principal_id = TestGuid(0xa0, 9);
  a.role = role;
  a.scope = std::move(scope);
  return a;
}

class AccessTest : public ::testing::Test {
 protected:
  History history_ = StandardWorld().Build();
  HistoryView view_{history_};
  Caller provider_admin_ = PartnerAdminOf(kProvider, kProviderDir);
  Caller reseller_admin_ = PartnerAdminOf(kReseller, kResellerDir);
  Caller stranger_admin_ = PartnerAdminOf(kStranger, kStrangerDir);
};

TEST(ScopeTest, ParsesTheThreeScopeShapes) {
  absl::StatusOr<Scope> root = ParseScope("/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->kind, Scope::Kind::kRoot);
  absl::StatusOr<Scope> partner = ParseScope("/Partners/contoso/");
  ASSERT_TRUE(partner.ok()) << partner.status();
  EXPECT_EQ(partner->kind, Scope::Kind::kPartner);
  EXPECT_EQ(partner->partner_id, "contoso");
  EXPECT_EQ(partner->ToString(), "/partners/contoso");
  absl::StatusOr<Scope> sub = ParseScope("/subscriptions/50000000-0000-0000-0000-00000000000A");
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->subscription_id, kCspA);
  EXPECT_EQ(sub->ToString(), "/subscriptions/50000000-0000-0000-0000-00000000000a");
}

TEST(ScopeTest, MalformedScopesAreInvalidScope) {
  for (const char* text : {"", "partners/contoso", "/partners", "/partners/", "/partners/a/b",
                           "/subscriptions/not-a-guid", "/tenants/x", "//"}) {
    ExpectError(ParseScope(text).status(), absl::StatusCode::kInvalidArgument, "InvalidScope");
  }
}

TEST_F(AccessTest, PlatformAdminReachesEverything) {
  const Caller admin = PlatformAdmin();
  EXPECT_TRUE(IsPlatformAdmin(admin));
  for (Guid sub : {kProviderApss, kCspA, kCspS, kPayg}) {
    EXPECT_TRUE(CheckSubscriptionAccess(admin, view_, sub, AccessKind::kWrite, kNow).ok());
  }
  EXPECT_TRUE(CheckPartnerAccess(admin, view_, kStranger, kNow).ok());
  EXPECT_TRUE(CheckPlatformAdmin(admin).ok());
}

TEST_F(AccessTest, PlatformAdminRoleOnAnotherScopeIsNotPlatformAdmin) {
  const Caller odd = CallerWithRole(Role::kPlatformAdmin, "/partners/contoso", kProviderDir);
  EXPECT_FALSE(IsPlatformAdmin(odd));
  ExpectError(CheckPlatformAdmin(odd), absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
}

TEST_F(AccessTest, PartnerAdminReachesItsPartnerAndThePartnersBelowIt) {
  EXPECT_TRUE(IsPartnerAdminOverPartner(provider_admin_, view_, kProvider, kNow));
  EXPECT_TRUE(IsPartnerAdminOverPartner(provider_admin_, view_, kReseller, kNow));
  EXPECT_TRUE(IsPartnerAdminOverPartner(reseller_admin_, view_, kReseller, kNow));
  EXPECT_FALSE(IsPartnerAdminOverPartner(reseller_admin_, view_, kProvider, kNow));
  EXPECT_FALSE(IsPartnerAdminOverPartner(provider_admin_, view_, kStranger, kNow));
  EXPECT_TRUE(CheckPartnerAccess(provider_admin_, view_, kReseller, kNow).ok());
  ExpectError(CheckPartnerAccess(reseller_admin_, view_, kProvider, kNow),
              absl::StatusCode::kNotFound, "PartnerNotFound");
}

// SPEC §5 re-billing: a partner's customer prices and statements are its
// own; the provider above a reseller sees the reseller but not those.
TEST_F(AccessTest, RebillingIsThePartnersOwn) {
  EXPECT_TRUE(CheckRebillingAccess(reseller_admin_, view_, kReseller, kNow).ok());
  EXPECT_TRUE(CheckRebillingAccess(provider_admin_, view_, kProvider, kNow).ok());
  ExpectError(CheckRebillingAccess(provider_admin_, view_, kReseller, kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(CheckRebillingAccess(reseller_admin_, view_, kProvider, kNow),
              absl::StatusCode::kNotFound, "PartnerNotFound");
  ExpectError(CheckRebillingAccess(provider_admin_, view_, kStranger, kNow),
              absl::StatusCode::kNotFound, "PartnerNotFound");
}

TEST_F(AccessTest, PartnerAdminReachesItsResellersCustomersCspSubscriptions) {
  EXPECT_TRUE(IsPartnerAdminOverSubscription(provider_admin_, view_, kCspA, kNow));
  EXPECT_TRUE(IsPartnerAdminOverSubscription(reseller_admin_, view_, kCspA, kNow));
  EXPECT_TRUE(IsPartnerAdminOverSubscription(provider_admin_, view_, kProviderApss, kNow));
  EXPECT_FALSE(IsPartnerAdminOverSubscription(reseller_admin_, view_, kProviderApss, kNow));
  EXPECT_FALSE(IsPartnerAdminOverSubscription(provider_admin_, view_, kCspC, kNow));
  EXPECT_FALSE(IsPartnerAdminOverSubscription(provider_admin_, view_, kPayg, kNow));
  EXPECT_TRUE(
      CheckSubscriptionAccess(provider_admin_, view_, kCspA, AccessKind::kWrite, kNow).ok());
}

TEST_F(AccessTest, PartnerAdminScopeFollowsTheChainAsOfNow) {
  HistoryBuilder b = StandardWorld();
  b.history().partner_parents.clear();
  b.AddParentLink(kReseller, PartnerId(kProvider), Nov(1), Nov(15));
  History h = b.Build();
  HistoryView view(h);
  EXPECT_TRUE(IsPartnerAdminOverSubscription(provider_admin_, view, kCspA, Nov(14)));
  EXPECT_FALSE(IsPartnerAdminOverSubscription(provider_admin_, view, kCspA, Nov(15)));
}

TEST_F(AccessTest, AnotherPartnersSubscriptionIsNotFoundLikeOneThatDoesNotExist) {
  ExpectError(CheckSubscriptionAccess(stranger_admin_, view_, kCspA, AccessKind::kRead, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  ExpectError(CheckSubscriptionAccess(stranger_admin_, view_, TestGuid(0x50, 0x777),
                                      AccessKind::kRead, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  ExpectError(
      CheckSubscriptionAccess(OwnerOf(kCspB, kTenantB), view_, kCspA, AccessKind::kRead, kNow),
      absl::StatusCode::kNotFound, "SubscriptionNotFound");
}

TEST_F(AccessTest, OwnerWritesAndReaderOnlyReads) {
  const Caller owner = OwnerOf(kCspA, kTenantA);
  const Caller reader = ReaderOf(kCspA, kTenantA);
  EXPECT_TRUE(IsOwnerOf(owner, kCspA));
  EXPECT_TRUE(IsReaderOf(owner, kCspA));
  EXPECT_FALSE(IsOwnerOf(reader, kCspA));
  EXPECT_TRUE(CheckSubscriptionAccess(owner, view_, kCspA, AccessKind::kWrite, kNow).ok());
  EXPECT_TRUE(CheckSubscriptionAccess(reader, view_, kCspA, AccessKind::kRead, kNow).ok());
  ExpectError(CheckSubscriptionAccess(reader, view_, kCspA, AccessKind::kWrite, kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
}

TEST_F(AccessTest, OnlyAPlatformAdminGrantsPlatformAdminOrTheRootScope) {
  EXPECT_TRUE(CheckCanGrant(PlatformAdmin(), view_, Grant(Role::kPlatformAdmin, "/"), kNow).ok());
  ExpectError(CheckCanGrant(provider_admin_, view_, Grant(Role::kPlatformAdmin, "/"), kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(
      CheckCanGrant(OwnerOf(kCspA, kTenantA), view_, Grant(Role::kPlatformAdmin, "/"), kNow),
      absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
}

TEST_F(AccessTest, PartnerAdminGrantsOnlyInsideItsOwnChain) {
  EXPECT_TRUE(
      CheckCanGrant(provider_admin_, view_, Grant(Role::kPartnerAdmin, "/partners/fabrikam"), kNow)
          .ok());
  EXPECT_TRUE(CheckCanGrant(provider_admin_, view_,
                            Grant(Role::kOwner, "/subscriptions/" + kCspA.ToString()), kNow)
                  .ok());
  EXPECT_TRUE(CheckCanGrant(reseller_admin_, view_,
                            Grant(Role::kReader, "/subscriptions/" + kCspB.ToString()), kNow)
                  .ok());
  // Upwards, sideways and outside: refused; a subscription outside the
  // caller's chain is another partner's resource, so it is 404 (SPEC §6).
  ExpectError(
      CheckCanGrant(reseller_admin_, view_, Grant(Role::kPartnerAdmin, "/partners/contoso"), kNow),
      absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(CheckCanGrant(provider_admin_, view_,
                            Grant(Role::kOwner, "/subscriptions/" + kCspS.ToString()), kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  ExpectError(
      CheckCanGrant(reseller_admin_, view_,
                    Grant(Role::kOwner, "/subscriptions/" + kProviderApss.ToString()), kNow),
      absl::StatusCode::kNotFound, "SubscriptionNotFound");
}

TEST_F(AccessTest, OwnerGrantsOwnerOrReaderOnItsOwnSubscriptionOnly) {
  const Caller owner = OwnerOf(kPayg, kPaygDir);
  EXPECT_TRUE(
      CheckCanGrant(owner, view_, Grant(Role::kReader, "/subscriptions/" + kPayg.ToString()), kNow)
          .ok());
  ExpectError(
      CheckCanGrant(owner, view_, Grant(Role::kOwner, "/subscriptions/" + kCspA.ToString()), kNow),
      absl::StatusCode::kNotFound, "SubscriptionNotFound");
  // A Reader sees the subscription, so it is told it lacks the role.
  ExpectError(CheckCanGrant(ReaderOf(kPayg, kPaygDir), view_,
                            Grant(Role::kReader, "/subscriptions/" + kPayg.ToString()), kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
}

TEST_F(AccessTest, RoleMustFitItsScope) {
  ExpectError(CheckCanGrant(PlatformAdmin(), view_, Grant(Role::kOwner, "/partners/contoso"), kNow),
              absl::StatusCode::kInvalidArgument, "InvalidRoleAssignment");
  ExpectError(CheckCanGrant(PlatformAdmin(), view_, Grant(Role::kPartnerAdmin, "/"), kNow),
              absl::StatusCode::kInvalidArgument, "InvalidRoleAssignment");
  ExpectError(CheckCanGrant(PlatformAdmin(), view_, Grant(Role::kReader, "/nowhere/x"), kNow),
              absl::StatusCode::kInvalidArgument, "InvalidScope");
}

TEST_F(AccessTest, PartnerAdminCreatesPrincipalsOnlyInDirectoriesItsPartnersOwn) {
  Directory reseller_dir;
  reseller_dir.id = kResellerDir;
  reseller_dir.owner_partner_id = kReseller;
  Directory customer_dir;
  customer_dir.id = kTenantA;
  Directory stranger_dir;
  stranger_dir.id = kStrangerDir;
  stranger_dir.owner_partner_id = kStranger;
  EXPECT_TRUE(CheckCanCreatePrincipal(reseller_admin_, view_, reseller_dir, kNow).ok());
  EXPECT_TRUE(CheckCanCreatePrincipal(provider_admin_, view_, reseller_dir, kNow).ok());
  ExpectError(CheckCanCreatePrincipal(reseller_admin_, view_, customer_dir, kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(CheckCanCreatePrincipal(provider_admin_, view_, stranger_dir, kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  EXPECT_TRUE(CheckCanCreatePrincipal(PlatformAdmin(), view_, customer_dir, kNow).ok());
}

TEST_F(AccessTest, TokensAreMintedOnlyForOneselfUnlessByAPlatformAdmin) {
  EXPECT_TRUE(CheckCanMintToken(provider_admin_, provider_admin_.principal_id).ok());
  ExpectError(CheckCanMintToken(provider_admin_, TestGuid(0xa0, 9)),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  EXPECT_TRUE(CheckCanMintToken(PlatformAdmin(), TestGuid(0xa0, 9)).ok());
}

TEST_F(AccessTest, StackIdentityActsOnlyForItsOwnCloud) {
  Caller stack;
  stack.stack_cloud_id = kCloud1;
  EXPECT_TRUE(CheckStackIdentity(stack, kCloud1).ok());
  ExpectError(CheckStackIdentity(stack, kCloud2), absl::StatusCode::kPermissionDenied,
              "AuthorizationFailed");
  ExpectError(CheckStackIdentity(provider_admin_, kCloud1), absl::StatusCode::kPermissionDenied,
              "AuthorizationFailed");
  ExpectError(CheckCanMintToken(stack, stack.principal_id), absl::StatusCode::kPermissionDenied,
              "AuthorizationFailed");
}

TEST_F(AccessTest, SubscriberMappingByTheStackKeyOrAPartnerAdminOverTheStack) {
  const Registration reg = RegVersion(RegName(kProviderApss), kCloud1, Nov(2));
  Caller stack;
  stack.stack_cloud_id = kCloud1;
  Caller other_stack;
  other_stack.stack_cloud_id = kCloud2;
  EXPECT_TRUE(CheckSubscriberMappingAccess(stack, view_, reg, kNow).ok());
  EXPECT_TRUE(CheckSubscriberMappingAccess(provider_admin_, view_, reg, kNow).ok());
  EXPECT_TRUE(CheckSubscriberMappingAccess(PlatformAdmin(), view_, reg, kNow).ok());
  ExpectError(CheckSubscriberMappingAccess(other_stack, view_, reg, kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(CheckSubscriberMappingAccess(OwnerOf(kProviderApss, kProviderDir), view_, reg, kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(CheckSubscriberMappingAccess(stranger_admin_, view_, reg, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
}

TEST_F(AccessTest, QuarantineIsReadByTheStacksOperatorsAndThePartnersOverThem) {
  const Registration reg = RegVersion(RegName(kProviderApss), kCloud1, Nov(2));
  EXPECT_TRUE(CheckQuarantineAccess(OwnerOf(kProviderApss, kProviderDir), view_, reg, kNow).ok());
  EXPECT_TRUE(CheckQuarantineAccess(ReaderOf(kProviderApss, kProviderDir), view_, reg, kNow).ok());
  EXPECT_TRUE(CheckQuarantineAccess(provider_admin_, view_, reg, kNow).ok());
  ExpectError(CheckQuarantineAccess(reseller_admin_, view_, reg, kNow), absl::StatusCode::kNotFound,
              "SubscriptionNotFound");
}

TEST_F(AccessTest, R8_InvoicesAreReadByTheBillToPartnerNotByResellersOrCustomers) {
  BillTo provider;
  provider.kind = BillTo::Kind::kPartner;
  provider.partner_id = kProvider;
  EXPECT_TRUE(CheckInvoiceAccess(provider_admin_, view_, provider, kNow).ok());
  EXPECT_TRUE(CheckInvoiceAccess(PlatformAdmin(), view_, provider, kNow).ok());
  ExpectError(CheckInvoiceAccess(reseller_admin_, view_, provider, kNow),
              absl::StatusCode::kNotFound, "InvoiceNotFound");
  ExpectError(CheckInvoiceAccess(OwnerOf(kCspA, kTenantA), view_, provider, kNow),
              absl::StatusCode::kNotFound, "InvoiceNotFound");
  BillTo payg;
  payg.kind = BillTo::Kind::kSubscription;
  payg.subscription_id = kPayg;
  EXPECT_TRUE(CheckInvoiceAccess(ReaderOf(kPayg, kPaygDir), view_, payg, kNow).ok());
  ExpectError(CheckInvoiceAccess(provider_admin_, view_, payg, kNow), absl::StatusCode::kNotFound,
              "InvoiceNotFound");
}

TEST_F(AccessTest, R8_CommerceUsageOfACspSubscriptionIsNotVisibleToTheCustomerDirectory) {
  EXPECT_TRUE(CheckBillingDataAccess(PlatformAdmin(), view_, kCspA, kNow).ok());
  EXPECT_TRUE(CheckBillingDataAccess(provider_admin_, view_, kCspA, kNow).ok());
  EXPECT_TRUE(CheckBillingDataAccess(reseller_admin_, view_, kCspA, kNow).ok());
  // The customer, even as Owner, or anyone of its directory: 403.
  ExpectError(CheckBillingDataAccess(OwnerOf(kCspA, kTenantA), view_, kCspA, kNow),
              absl::StatusCode::kPermissionDenied, "BillingDataNotVisible");
  Caller customer_user;
  customer_user.directory_id = kTenantA;
  ExpectError(CheckBillingDataAccess(customer_user, view_, kCspA, kNow),
              absl::StatusCode::kPermissionDenied, "BillingDataNotVisible");
  // Another partner: 404, as for a subscription that does not exist.
  ExpectError(CheckBillingDataAccess(stranger_admin_, view_, kCspA, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  ExpectError(CheckBillingDataAccess(provider_admin_, view_, TestGuid(0x50, 99), kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  // A direct-billed subscription's usage is its own.
  EXPECT_TRUE(CheckBillingDataAccess(ReaderOf(kPayg, kPaygDir), view_, kPayg, kNow).ok());
  ExpectError(CheckBillingDataAccess(provider_admin_, view_, kPayg, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
}

}  // namespace
}  // namespace stackbill
