#include "core/history.h"

#include <string>
#include <vector>

#include "core/error.h"
#include "core/testing/history_builder.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

using testing::HistoryBuilder;
using testing::Nov;
using testing::RegName;
using testing::RegVersion;
using testing::StandardWorld;
using testing::TestGuid;
using namespace testing::world;

using Chain = std::vector<PartnerId>;

TEST(HistoryTest, FindsEntitiesByKeyAndNothingForUnknownKeys) {
  History h = StandardWorld().AddApproval(kCloud1, BillingModel::kCapacity, "A-1").Build();
  HistoryView view(h);
  ASSERT_NE(view.FindPartner(kReseller), nullptr);
  EXPECT_EQ(view.FindPartner(kReseller)->kind, PartnerKind::kIndirectReseller);
  EXPECT_EQ(view.FindPartner("nobody"), nullptr);
  ASSERT_NE(view.FindSubscription(kCspA), nullptr);
  EXPECT_EQ(view.FindSubscription(kCspA)->directory_id, kTenantA);
  EXPECT_EQ(view.FindSubscription(TestGuid(0x50, 0x777)), nullptr);
  ASSERT_NE(view.FindApproval(kCloud1), nullptr);
  EXPECT_EQ(view.FindApproval(kCloud1)->agreement_number, "A-1");
  EXPECT_EQ(view.FindApproval(kCloud2), nullptr);
}

TEST(HistoryTest, ALaterApprovalForTheSameCloudReplacesTheEarlierOne) {
  History h = StandardWorld()
                  .AddApproval(kCloud1, BillingModel::kCapacity, "A-1")
                  .AddApproval(kCloud1, BillingModel::kCustom, std::nullopt, "TAG")
                  .Build();
  HistoryView view(h);
  EXPECT_EQ(view.FindApproval(kCloud1)->billing_model, BillingModel::kCustom);
}

TEST(HistoryTest, RollUpChainIsTheOwnerPartnerThenItsParents) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  EXPECT_EQ(*view.RollUpChain(kCspA, Nov(5)), (Chain{kReseller, kProvider}));
  EXPECT_EQ(*view.RollUpChain(kProviderApss, Nov(5)), (Chain{kProvider}));
  EXPECT_EQ(*view.TopOfChain(kCspA, Nov(5)), kProvider);
  EXPECT_EQ(*view.TopOfChain(kCspC, Nov(5)), kDirect);
}

TEST(HistoryTest, DirectBilledSubscriptionHasAnEmptyChainAndNoTop) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  EXPECT_TRUE(view.RollUpChain(kPayg, Nov(5))->empty());
  absl::StatusOr<PartnerId> top = view.TopOfChain(kPayg, Nov(5));
  EXPECT_EQ(top.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(top.status()), "NoOwnerPartner");
}

TEST(HistoryTest, RollUpChainOfAnUnknownSubscriptionIsNotFound) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  absl::StatusOr<Chain> chain = view.RollUpChain(TestGuid(0x50, 0x777), Nov(5));
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorCode(chain.status()), "SubscriptionNotFound");
}

TEST(HistoryTest, RollUpChainThatLoopsIsAFailedPrecondition) {
  History h = StandardWorld()
                  .AddParentLink(kProvider, std::nullopt, Timestamp(), Nov(10))
                  .AddParentLink(kProvider, PartnerId(kReseller), Nov(10))
                  .Build();
  HistoryView view(h);
  EXPECT_EQ(*view.RollUpChain(kCspA, Nov(9)), (Chain{kReseller, kProvider}));
  absl::StatusOr<Chain> chain = view.RollUpChain(kCspA, Nov(10));
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(chain.status()), "PartnerCycle");
}

TEST(HistoryTest, ParentLinksAreEffectiveDated) {
  HistoryBuilder b = StandardWorld();
  b.history().partner_parents.clear();
  b.AddPartner("litware", PartnerKind::kIndirectProvider)
      .AddParentLink(kReseller, PartnerId(kProvider), Nov(1), Nov(15))
      .AddParentLink(kReseller, PartnerId("litware"), Nov(15));
  History h = b.Build();
  HistoryView view(h);
  EXPECT_EQ(view.ParentAt(kReseller, Nov(14, 23)), kProvider);
  EXPECT_EQ(view.ParentAt(kReseller, Nov(15)), "litware");
  // Before the first version, the first one answers.
  EXPECT_EQ(view.ParentAt(kReseller, Nov(1).AddDays(-10)), kProvider);
  EXPECT_EQ(view.ParentAt(kProvider, Nov(5)), std::nullopt);
}

TEST(HistoryTest, AnEndedParentLinkLeavesThePartnerAtTheTop) {
  HistoryBuilder b = StandardWorld();
  b.history().partner_parents.clear();
  b.AddParentLink(kReseller, PartnerId(kProvider), Nov(1), Nov(15));
  History h = b.Build();
  HistoryView view(h);
  EXPECT_EQ(*view.TopOfChain(kCspA, Nov(14)), kProvider);
  EXPECT_EQ(*view.TopOfChain(kCspA, Nov(15)), kReseller);
}

TEST(HistoryTest, OwnerPartnerFollowsOwnershipVersionsAndFallsBackToTheSubscription) {
  History h = StandardWorld()
                  .AddOwnership(kCspC, PartnerId(kDirect), Nov(1), Nov(20))
                  .AddOwnership(kCspC, PartnerId(kStranger), Nov(20))
                  .Build();
  HistoryView view(h);
  EXPECT_EQ(view.OwnerPartnerAt(kCspC, Nov(19)), kDirect);
  EXPECT_EQ(view.OwnerPartnerAt(kCspC, Nov(20)), kStranger);
  EXPECT_EQ(view.OwnerPartnerAt(kCspC, Nov(1).AddDays(-3)), kDirect);
  // No versions recorded: the subscription's own partner.
  EXPECT_EQ(view.OwnerPartnerAt(kCspA, Nov(5)), kReseller);
  EXPECT_EQ(view.OwnerPartnerAt(kPayg, Nov(5)), std::nullopt);
  EXPECT_EQ(view.OwnerPartnerAt(TestGuid(0x50, 0x777), Nov(5)), std::nullopt);
}

TEST(HistoryTest, RegistrationAtPicksTheVersionInForce) {
  const RegistrationName name = RegName(kProviderApss);
  Registration v1 = RegVersion(name, kCloud1, Nov(2), Nov(10));
  Registration v2 = RegVersion(name, kCloud1, Nov(10));
  v2.multi_tenant = false;
  History h = StandardWorld().AddRegistration(v2).AddRegistration(v1).Build();
  HistoryView view(h);
  EXPECT_EQ(view.RegistrationAt(kCloud1, Nov(1)), nullptr);
  EXPECT_EQ(*view.RegistrationAt(kCloud1, Nov(9, 23)), v1);
  EXPECT_EQ(*view.RegistrationAt(kCloud1, Nov(10)), v2);
  EXPECT_EQ(*view.FirstRegistration(kCloud1), v1);
  ASSERT_EQ(view.RegistrationVersions(kCloud1).size(), 2u);
  EXPECT_EQ(*view.RegistrationVersions(kCloud1)[0], v1);
  EXPECT_EQ(view.FirstRegistration(kCloud2), nullptr);
}

TEST(HistoryTest, RegistrationByNameMatchesResourceGroupAndNameWhateverTheirCase) {
  Registration r = RegVersion(RegName(kProviderApss, "Reg1", "RG1"), kCloud1, Nov(2));
  History h = StandardWorld().AddRegistration(r).Build();
  HistoryView view(h);
  EXPECT_EQ(view.RegistrationAt(RegName(kProviderApss, "reg1", "rg1"), Nov(3)),
            &h.registrations[0]);
  EXPECT_EQ(view.RegistrationAt(RegName(kProviderApss, "reg2", "rg1"), Nov(3)), nullptr);
  EXPECT_EQ(view.RegistrationAt(RegName(kDirectApss, "reg1", "rg1"), Nov(3)), nullptr);
}

TEST(HistoryTest, CustomerSubscriptionCoversOnlyItsHalfOpenValidity) {
  const RegistrationName name = RegName(kProviderApss);
  History h = StandardWorld()
                  .AddRegistration(RegVersion(name, kCloud1, Nov(2)))
                  .AddCustomerSubscription(name, kCloud1, kCspA, kTenantA, Nov(5), Nov(10))
                  .Build();
  HistoryView view(h);
  EXPECT_EQ(view.CustomerSubscriptionAt(kCloud1, kTenantA, Nov(4, 23)), nullptr);
  ASSERT_NE(view.CustomerSubscriptionAt(kCloud1, kTenantA, Nov(5)), nullptr);
  EXPECT_EQ(view.CustomerSubscriptionAt(kCloud1, kTenantA, Nov(9, 23))->customer_subscription_id,
            kCspA);
  EXPECT_EQ(view.CustomerSubscriptionAt(kCloud1, kTenantA, Nov(10)), nullptr);
  EXPECT_EQ(view.CustomerSubscriptionAt(kCloud1, kTenantB, Nov(6)), nullptr);
  EXPECT_EQ(view.CustomerSubscriptionAt(kCloud2, kTenantA, Nov(6)), nullptr);
}

TEST(HistoryTest, CustomerSubscriptionOfARegistrationIgnoresThoseOfAnotherRegistration) {
  const RegistrationName old_name = RegName(kProviderApss, "old");
  const RegistrationName new_name = RegName(kProviderApss, "new");
  Registration old_reg = RegVersion(old_name, kCloud1, Nov(2), Nov(10));
  Registration new_reg = RegVersion(new_name, kCloud1, Nov(12));
  History h = StandardWorld()
                  .AddRegistration(old_reg)
                  .AddRegistration(new_reg)
                  .AddCustomerSubscription(old_name, kCloud1, kCspA, kTenantA, Nov(3))
                  .Build();
  HistoryView view(h);
  EXPECT_NE(view.CustomerSubscriptionAt(old_reg, kTenantA, Nov(13)), nullptr);
  EXPECT_EQ(view.CustomerSubscriptionAt(new_reg, kTenantA, Nov(13)), nullptr);
  EXPECT_EQ(view.CustomerSubscriptionVersions(old_name).size(), 1u);
  EXPECT_TRUE(view.CustomerSubscriptionVersions(new_name).empty());
}

TEST(HistoryTest, OverlappingVersionsResolveToTheOneThatStartedLast) {
  const RegistrationName name = RegName(kProviderApss);
  History h = StandardWorld()
                  .AddCustomerSubscription(name, kCloud1, kCspA2, kTenantA, Nov(8))
                  .AddCustomerSubscription(name, kCloud1, kCspA, kTenantA, Nov(5))
                  .Build();
  HistoryView view(h);
  EXPECT_EQ(view.CustomerSubscriptionAt(kCloud1, kTenantA, Nov(6))->customer_subscription_id,
            kCspA);
  EXPECT_EQ(view.CustomerSubscriptionAt(kCloud1, kTenantA, Nov(9))->customer_subscription_id,
            kCspA2);
}

TEST(HistoryTest, StackSubscriberCoversEarlierUsageButNotUsageAfterItEnded) {
  const Guid local = TestGuid(0x10, 1);
  History h = StandardWorld()
                  .AddSubscriber(kCloud1, local, kTenantA, Nov(5), Nov(10))
                  .AddSubscriber(kCloud1, TestGuid(0x10, 2), kTenantB, Nov(5))
                  .Build();
  HistoryView view(h);
  EXPECT_EQ(view.SubscriberTenantAt(kCloud1, local, Nov(1)), kTenantA);
  EXPECT_EQ(view.SubscriberTenantAt(kCloud1, local, Nov(7)), kTenantA);
  EXPECT_EQ(view.SubscriberTenantAt(kCloud1, local, Nov(10)), std::nullopt);
  EXPECT_EQ(view.SubscriberTenantAt(kCloud2, local, Nov(7)), std::nullopt);
  EXPECT_EQ(view.SubscriberTenantAt(kCloud1, TestGuid(0x10, 2), Nov(28)), kTenantB);
}

}  // namespace
}  // namespace stackbill
