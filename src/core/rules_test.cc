#include "core/rules.h"

#include <cctype>
#include <string>

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

bool MessageContains(const absl::Status& status, std::string_view text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

RegistrationTerms Terms(Guid cloud_id, BillingModel model = BillingModel::kPayAsYouUse) {
  RegistrationTerms t;
  t.cloud_id = cloud_id;
  t.object_id = TestGuid(0x0b, 1);
  t.billing_model = model;
  t.multi_tenant = true;
  return t;
}

// The provider's stack: registration "reg1" under contoso's APSS subscription,
// multi-tenant, PayAsYouUse, since November 2.
HistoryBuilder ProviderStack() {
  return StandardWorld().AddRegistration(RegVersion(RegName(kProviderApss), kCloud1, Nov(2)));
}

CustomerSubscriptionPut PutRequest(Guid default_subscription, std::string customer_id,
                                   Guid tenant) {
  CustomerSubscriptionPut put;
  put.registration = RegName(default_subscription);
  put.customer_subscription_id = std::move(customer_id);
  put.tenant_id = tenant;
  put.open_periods_start = Nov(1);
  return put;
}

const Caller kProviderAdmin = PartnerAdminOf(kProvider, kProviderDir);

// R1

TEST(RulesTest, R1_OnlyCspAndApssSubscriptionsCanRegisterAMultiTenantStack) {
  EXPECT_TRUE(CanRegisterMultiTenant(OfferType::kCsp));
  EXPECT_TRUE(CanRegisterMultiTenant(OfferType::kApss));
  EXPECT_FALSE(CanRegisterMultiTenant(OfferType::kPayAsYouGo));
  EXPECT_FALSE(CanRegisterMultiTenant(OfferType::kEnterpriseAgreement));
  EXPECT_FALSE(CanRegisterMultiTenant(OfferType::kDevTest));
}

TEST(RulesTest, R1_PayAsYouGoDefaultSubscriptionRefusesCustomerSubscriptions) {
  History h = StandardWorld().AddRegistration(RegVersion(RegName(kPayg), kCloud1, Nov(2))).Build();
  HistoryView view(h);
  absl::StatusOr<CustomerSubscription> put = CheckCustomerSubscriptionPut(
      OwnerOf(kPayg, kPaygDir), view, PutRequest(kPayg, kCspA.ToString(), kTenantA), kNow);
  ExpectError(put.status(), absl::StatusCode::kFailedPrecondition, "UnauthorizedCspRegistration");
}

TEST(RulesTest, R1_ResellersCspSubscriptionCanRunAMultiTenantStack) {
  History h =
      StandardWorld().AddRegistration(RegVersion(RegName(kResellerCsp), kCloud1, Nov(2))).Build();
  HistoryView view(h);
  absl::StatusOr<CustomerSubscription> put =
      CheckCustomerSubscriptionPut(PartnerAdminOf(kReseller, kResellerDir), view,
                                   PutRequest(kResellerCsp, kCspB.ToString(), kTenantB), kNow);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->customer_subscription_id, kCspB);
}

// R2

TEST(RulesTest, R2_OwnerOfTheSubscriptionMayRegisterFromAnotherDirectory) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  // The registrant's directory is neither the subscription's nor the stack's
  // deployment directory; nothing compares them.
  const Guid registrant_dir = TestGuid(0xd0, 0x77);
  RegistrationTerms terms = Terms(kCloud1);
  absl::StatusOr<RegistrationPutKind> put = CheckRegistrationPut(
      OwnerOf(kProviderApss, registrant_dir), view, RegName(kProviderApss), terms, kNow);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, RegistrationPutKind::kCreate);
}

TEST(RulesTest, R2_PartnerAdminOverTheSubscriptionAndPlatformAdminMayRegister) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  EXPECT_TRUE(CheckRegistrant(kProviderAdmin, view, kProviderApss, kNow).ok());
  EXPECT_TRUE(CheckRegistrant(kProviderAdmin, view, kResellerCsp, kNow).ok());
  EXPECT_TRUE(CheckRegistrant(PlatformAdmin(), view, kPayg, kNow).ok());
}

TEST(RulesTest, R2_ReaderOfTheSubscriptionIsRefusedAuthorizationFailed) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  ExpectError(CheckRegistrant(ReaderOf(kProviderApss, kProviderDir), view, kProviderApss, kNow),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
}

TEST(RulesTest, R2_AnotherPartnersSubscriptionIsNotFound) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  ExpectError(CheckRegistrant(PartnerAdminOf(kStranger, kStrangerDir), view, kProviderApss, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  ExpectError(CheckRegistrant(PartnerAdminOf(kReseller, kResellerDir), view, kProviderApss, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
}

// R3

TEST(RulesTest, R3_RegisteringACloudThatAnotherRegistrationHoldsIsCloudAlreadyRegistered) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  absl::StatusOr<RegistrationPutKind> put = CheckRegistrationPut(
      PartnerAdminOf(kDirect, kDirectDir), view, RegName(kDirectApss), Terms(kCloud1), kNow);
  ExpectError(put.status(), absl::StatusCode::kAlreadyExists, "CloudAlreadyRegistered");
  EXPECT_EQ(put.status().message(),
            "Cloud identifier c1000000-0000-0000-0000-000000000001 is already registered");
}

TEST(RulesTest, R3_RePutOfTheSameRegistrationForTheSameCloudIsAnUpdate) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  absl::StatusOr<RegistrationPutKind> put = CheckRegistrationPut(
      kProviderAdmin, view, RegName(kProviderApss, "REG1"), Terms(kCloud1), kNow);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, RegistrationPutKind::kUpdate);
}

TEST(RulesTest, R3_RePutOfTheSameRegistrationForAnotherCloudIsAConflict) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  absl::StatusOr<RegistrationPutKind> put =
      CheckRegistrationPut(kProviderAdmin, view, RegName(kProviderApss), Terms(kCloud2), kNow);
  ExpectError(put.status(), absl::StatusCode::kAlreadyExists, "RegistrationCloudMismatch");
}

TEST(RulesTest, R3_ADeletedRegistrationNoLongerHoldsItsCloud) {
  History h = StandardWorld()
                  .AddRegistration(RegVersion(RegName(kProviderApss), kCloud1, Nov(2), Nov(10)))
                  .Build();
  HistoryView view(h);
  absl::StatusOr<RegistrationPutKind> put = CheckRegistrationPut(
      PartnerAdminOf(kDirect, kDirectDir), view, RegName(kDirectApss), Terms(kCloud1), kNow);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(*put, RegistrationPutKind::kCreate);
  EXPECT_EQ(*CheckCloudClaim(view, RegName(kProviderApss), kCloud1, kNow),
            RegistrationPutKind::kCreate);
}

// R4

TEST(RulesTest, R4_CustomerSubscriptionsNeedAnExistingRegistration) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  absl::StatusOr<CustomerSubscription> put = CheckCustomerSubscriptionPut(
      kProviderAdmin, view, PutRequest(kProviderApss, kCspA.ToString(), kTenantA), kNow);
  ExpectError(put.status(), absl::StatusCode::kNotFound, "ResourceNotFound");
}

TEST(RulesTest, R4_TheDefaultSubscriptionIsTheOneTheRegistrationIsCreatedUnder) {
  Registration r = RegVersion(RegName(kProviderApss), kCloud1, Nov(2));
  EXPECT_EQ(DefaultSubscriptionOf(r), kProviderApss);
  absl::StatusOr<CustomerSubscription> put;
  History h = ProviderStack().Build();
  HistoryView view(h);
  put = CheckCustomerSubscriptionPut(kProviderAdmin, view,
                                     PutRequest(kProviderApss, kCspA.ToString(), kTenantA), kNow);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->registration.subscription_id, kProviderApss);
  EXPECT_EQ(put->cloud_id, kCloud1);
  EXPECT_EQ(put->valid.from, kNow);
  EXPECT_FALSE(put->valid.to.has_value());
}

// R5

TEST(RulesTest, R5_SingleTenantStackRefusesCustomerSubscriptions) {
  Registration r = RegVersion(RegName(kProviderApss), kCloud1, Nov(2));
  r.multi_tenant = false;
  History h = StandardWorld().AddRegistration(r).Build();
  HistoryView view(h);
  absl::StatusOr<CustomerSubscription> put = CheckCustomerSubscriptionPut(
      kProviderAdmin, view, PutRequest(kProviderApss, kCspA.ToString(), kTenantA), kNow);
  ExpectError(put.status(), absl::StatusCode::kFailedPrecondition, "UnauthorizedCspRegistration");
  EXPECT_TRUE(MessageContains(put.status(), "registration is not approved to use multi-tenancy"));
}

TEST(RulesTest, R5_CapacityRegistrationRefusesCustomerSubscriptions) {
  Registration r = RegVersion(RegName(kProviderApss), kCloud1, Nov(2));
  r.billing_model = BillingModel::kCapacity;
  r.agreement_number = "EA-1";
  History h = StandardWorld().AddRegistration(r).Build();
  HistoryView view(h);
  absl::StatusOr<CustomerSubscription> put = CheckCustomerSubscriptionPut(
      kProviderAdmin, view, PutRequest(kProviderApss, kCspA.ToString(), kTenantA), kNow);
  ExpectError(put.status(), absl::StatusCode::kFailedPrecondition,
              "CustomerSubscriptionsNotAllowed");
}

TEST(RulesTest, R5_ASingleTenantRegistrationItselfIsAllowed) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  RegistrationTerms terms = Terms(kCloud1);
  terms.multi_tenant = false;
  EXPECT_TRUE(
      CheckRegistrationPut(OwnerOf(kPayg, kPaygDir), view, RegName(kPayg), terms, kNow).ok());
}

// R6

class R6Test : public ::testing::Test {
 protected:
  absl::StatusOr<CustomerSubscription> Put(std::string customer_id, Guid tenant) {
    return CheckCustomerSubscriptionPut(
        kProviderAdmin, view_, PutRequest(kProviderApss, std::move(customer_id), tenant), kNow);
  }

  History history_ = ProviderStack().Build();
  HistoryView view_{history_};
};

TEST_F(R6Test, R6_AcceptsAResellersCustomerUnderTheProvidersDefaultSubscription) {
  absl::StatusOr<CustomerSubscription> put = Put(kCspA.ToString(), kTenantA);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->customer_subscription_id, kCspA);
  EXPECT_EQ(put->tenant_id, kTenantA);
}

TEST_F(R6Test, R6_RefusesAnUpperCaseGuid) {
  std::string upper = kCspA.ToString();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ExpectError(Put(upper, kTenantA).status(), absl::StatusCode::kInvalidArgument,
              "InvalidCustomerSubscriptionId");
}

TEST_F(R6Test, R6_RefusesAGuidWithoutHyphensOrThatIsNoGuid) {
  std::string bare = kCspA.ToString();
  std::erase(bare, '-');
  ExpectError(Put(bare, kTenantA).status(), absl::StatusCode::kInvalidArgument,
              "InvalidCustomerSubscriptionId");
  ExpectError(Put("not-a-guid", kTenantA).status(), absl::StatusCode::kInvalidArgument,
              "InvalidCustomerSubscriptionId");
}

TEST_F(R6Test, R6_RefusesASubscriptionThatDoesNotExist) {
  ExpectError(Put(TestGuid(0x50, 0x777).ToString(), kTenantA).status(),
              absl::StatusCode::kInvalidArgument, "InvalidCustomerSubscriptionId");
}

TEST_F(R6Test, R6_RefusesASubscriptionThatIsNotCsp) {
  ExpectError(Put(kPayg.ToString(), kPaygDir).status(), absl::StatusCode::kInvalidArgument,
              "InvalidCSPSubscription");
  ExpectError(Put(kDirectApss.ToString(), kDirectDir).status(), absl::StatusCode::kInvalidArgument,
              "InvalidCSPSubscription");
}

TEST_F(R6Test, R6_RefusesSomeoneElsesCustomer) {
  absl::StatusOr<CustomerSubscription> put = Put(kCspS.ToString(), kTenantS);
  ExpectError(put.status(), absl::StatusCode::kPermissionDenied, "BadCustomerSubscriptionId");
  EXPECT_TRUE(MessageContains(put.status(), "you cannot register someone else's customers"));
  ExpectError(Put(kCspC.ToString(), kTenantC).status(), absl::StatusCode::kPermissionDenied,
              "BadCustomerSubscriptionId");
}

TEST_F(R6Test, R6_ResellerCannotRegisterAnotherPartnersCustomer) {
  // The reseller's stack: its CSP subscription's owner partner is fabrikam, so
  // adatum's customer does not roll up to it.
  History h =
      StandardWorld().AddRegistration(RegVersion(RegName(kResellerCsp), kCloud2, Nov(2))).Build();
  HistoryView view(h);
  absl::StatusOr<CustomerSubscription> put = CheckCustomerSubscriptionPut(
      PlatformAdmin(), view, PutRequest(kResellerCsp, kCspC.ToString(), kTenantC), kNow);
  ExpectError(put.status(), absl::StatusCode::kPermissionDenied, "BadCustomerSubscriptionId");
}

TEST_F(R6Test, R6_RefusesATenantOtherThanTheSubscriptionsDirectory) {
  ExpectError(Put(kCspA.ToString(), kTenantB).status(), absl::StatusCode::kInvalidArgument,
              "TenantMismatch");
}

TEST_F(R6Test, R6_ChecksRunInTheOrderWritten) {
  // Non-CSP and wrong tenant: the type answers first.
  ExpectError(Put(kPayg.ToString(), kTenantA).status(), absl::StatusCode::kInvalidArgument,
              "InvalidCSPSubscription");
  // Someone else's customer and wrong tenant: the roll-up answers first.
  ExpectError(Put(kCspS.ToString(), kTenantA).status(), absl::StatusCode::kPermissionDenied,
              "BadCustomerSubscriptionId");
}

TEST(RulesTest, R6_ASecondPutForTheSameTenantEndsTheEarlierMappingAtThatMoment) {
  const RegistrationName name = RegName(kProviderApss);
  History h =
      ProviderStack().AddCustomerSubscription(name, kCloud1, kCspA, kTenantA, Nov(3)).Build();
  HistoryView view(h);
  CustomerSubscription requested = h.customer_subscriptions[0];
  requested.customer_subscription_id = kCspA2;
  requested.valid.from = Nov(12);
  CustomerSubscriptionChange change = PlanCustomerSubscriptionPut(view, requested);
  ASSERT_EQ(change.ended.size(), 1u);
  EXPECT_EQ(change.ended[0].customer_subscription_id, kCspA);
  EXPECT_EQ(change.ended[0].valid.from, Nov(3));
  EXPECT_EQ(change.ended[0].valid.to, Nov(12));
  ASSERT_TRUE(change.started.has_value());
  EXPECT_EQ(change.started->customer_subscription_id, kCspA2);
  EXPECT_EQ(change.started->valid.from, Nov(12));
  EXPECT_TRUE(change.started->valid.IsOpen());
}

TEST(RulesTest, R6_RePutOfAMappingAlreadyInForceChangesNothing) {
  const RegistrationName name = RegName(kProviderApss);
  History h =
      ProviderStack().AddCustomerSubscription(name, kCloud1, kCspA, kTenantA, Nov(3)).Build();
  HistoryView view(h);
  CustomerSubscription requested = h.customer_subscriptions[0];
  requested.valid.from = Nov(12);
  EXPECT_TRUE(PlanCustomerSubscriptionPut(view, requested).IsNoop());
}

TEST(RulesTest, R6_EffectiveFromBeforeLaterVersionsCutsThemToNothing) {
  const RegistrationName name = RegName(kProviderApss);
  History h = ProviderStack()
                  .AddCustomerSubscription(name, kCloud1, kCspA, kTenantA, Nov(3), Nov(10))
                  .AddCustomerSubscription(name, kCloud1, kCspA2, kTenantA, Nov(10))
                  .Build();
  HistoryView view(h);
  CustomerSubscription requested = h.customer_subscriptions[0];
  requested.customer_subscription_id = kCspA2;
  requested.valid.from = Nov(5);
  requested.valid.to.reset();
  CustomerSubscriptionChange change = PlanCustomerSubscriptionPut(view, requested);
  ASSERT_EQ(change.ended.size(), 2u);
  EXPECT_EQ(change.ended[0].customer_subscription_id, kCspA);
  EXPECT_EQ(change.ended[0].valid.to, Nov(5));
  EXPECT_EQ(change.ended[1].customer_subscription_id, kCspA2);
  EXPECT_EQ(change.ended[1].valid.from, Nov(10));
  EXPECT_EQ(change.ended[1].valid.to, Nov(10));  // empty: covers nothing, kept
  EXPECT_EQ(change.started->valid.from, Nov(5));
}

TEST(RulesTest, R6_DeleteEndsTheMappingAndADeleteOfNothingIsANoop) {
  const RegistrationName name = RegName(kProviderApss);
  History h =
      ProviderStack().AddCustomerSubscription(name, kCloud1, kCspA, kTenantA, Nov(3)).Build();
  HistoryView view(h);
  CustomerSubscriptionChange change = PlanCustomerSubscriptionDelete(view, name, kCspA, Nov(15));
  ASSERT_EQ(change.ended.size(), 1u);
  EXPECT_EQ(change.ended[0].valid.to, Nov(15));
  EXPECT_FALSE(change.started.has_value());
  EXPECT_TRUE(PlanCustomerSubscriptionDelete(view, name, kCspB, Nov(15)).IsNoop());
}

TEST(RulesTest, R6_OnlyAPlatformAdminMaySetEffectiveFrom) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  CustomerSubscriptionPut put = PutRequest(kProviderApss, kCspA.ToString(), kTenantA);
  put.effective_from = Nov(4);
  ExpectError(CheckCustomerSubscriptionPut(kProviderAdmin, view, put, kNow).status(),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  absl::StatusOr<CustomerSubscription> ok =
      CheckCustomerSubscriptionPut(PlatformAdmin(), view, put, kNow);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->valid.from, Nov(4));
}

TEST(RulesTest, R6_EffectiveFromMustBeInAnOpenPeriodAndNotInTheFuture) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  CustomerSubscriptionPut put = PutRequest(kProviderApss, kCspA.ToString(), kTenantA);
  put.effective_from = Nov(21);
  ExpectError(CheckCustomerSubscriptionPut(PlatformAdmin(), view, put, kNow).status(),
              absl::StatusCode::kInvalidArgument, "InvalidEffectiveFrom");
  put.effective_from = Nov(1).AddHours(-1);
  ExpectError(CheckCustomerSubscriptionPut(PlatformAdmin(), view, put, kNow).status(),
              absl::StatusCode::kInvalidArgument, "InvalidEffectiveFrom");
}

TEST(RulesTest, R6_DeleteWithEffectiveToNeedsAPlatformAdminAndAnOpenPeriod) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  const RegistrationName name = RegName(kProviderApss);
  EXPECT_EQ(
      *CheckCustomerSubscriptionDelete(kProviderAdmin, view, name, std::nullopt, Nov(1), kNow),
      kNow);
  ExpectError(
      CheckCustomerSubscriptionDelete(kProviderAdmin, view, name, Nov(5), Nov(1), kNow).status(),
      absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(
      CheckCustomerSubscriptionDelete(PlatformAdmin(), view, name, Nov(21), Nov(1), kNow).status(),
      absl::StatusCode::kInvalidArgument, "InvalidEffectiveTo");
  EXPECT_EQ(*CheckCustomerSubscriptionDelete(PlatformAdmin(), view, name, Nov(5), Nov(1), kNow),
            Nov(5));
  ExpectError(CheckCustomerSubscriptionDelete(kProviderAdmin, view, RegName(kProviderApss, "nope"),
                                              std::nullopt, Nov(1), kNow)
                  .status(),
              absl::StatusCode::kNotFound, "ResourceNotFound");
}

// R8

TEST(RulesTest, R8_CspChargesAreBilledToTheTopOfTheRollUpChain) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  absl::StatusOr<BillTo> bill_to = BillToAt(view, kCspA, kNow);
  ASSERT_TRUE(bill_to.ok()) << bill_to.status();
  EXPECT_EQ(bill_to->kind, BillTo::Kind::kPartner);
  EXPECT_EQ(bill_to->partner_id, kProvider);
  EXPECT_EQ(BillToAt(view, kCspC, kNow)->partner_id, kDirect);
  EXPECT_EQ(BillToAt(view, kProviderApss, kNow)->partner_id, kProvider);
}

TEST(RulesTest, R8_DirectBilledSubscriptionBillsItself) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  absl::StatusOr<BillTo> bill_to = BillToAt(view, kPayg, kNow);
  ASSERT_TRUE(bill_to.ok()) << bill_to.status();
  EXPECT_EQ(bill_to->kind, BillTo::Kind::kSubscription);
  EXPECT_EQ(bill_to->subscription_id, kPayg);
  ExpectError(BillToAt(view, TestGuid(0x50, 0x777), kNow).status(), absl::StatusCode::kNotFound,
              "SubscriptionNotFound");
}

TEST(RulesTest, R8_CustomerDirectoryNeverSeesCspBillingDataEvenAsOwner) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  ExpectError(CheckBillingDataVisible(OwnerOf(kCspA, kTenantA), view, kCspA, kNow),
              absl::StatusCode::kPermissionDenied, "BillingDataNotVisible");
  ExpectError(CheckBillingDataVisible(ReaderOf(kCspA, kTenantA), view, kCspA, kNow),
              absl::StatusCode::kPermissionDenied, "BillingDataNotVisible");
  // A principal of the customer's directory holding a partner role is still
  // a principal of the customer's directory.
  ExpectError(CheckBillingDataVisible(PartnerAdminOf(kReseller, kTenantA), view, kCspA, kNow),
              absl::StatusCode::kPermissionDenied, "BillingDataNotVisible");
}

TEST(RulesTest, R8_PartnersOverTheSubscriptionAndPlatformAdminsSeeBillingData) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  EXPECT_TRUE(CheckBillingDataVisible(kProviderAdmin, view, kCspA, kNow).ok());
  EXPECT_TRUE(
      CheckBillingDataVisible(PartnerAdminOf(kReseller, kResellerDir), view, kCspA, kNow).ok());
  EXPECT_TRUE(CheckBillingDataVisible(PlatformAdmin(), view, kCspA, kNow).ok());
  ExpectError(CheckBillingDataVisible(PartnerAdminOf(kStranger, kStrangerDir), view, kCspA, kNow),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
}

TEST(RulesTest, R8_DirectBilledOwnerSeesItsOwnBillingData) {
  History h = StandardWorld().Build();
  HistoryView view(h);
  EXPECT_TRUE(CheckBillingDataVisible(OwnerOf(kPayg, kPaygDir), view, kPayg, kNow).ok());
  EXPECT_TRUE(CheckBillingDataVisible(ReaderOf(kPayg, kPaygDir), view, kPayg, kNow).ok());
}

// R9

TEST(RulesTest, R9_UsageReportingDefaultsFollowAzureStack) {
  EXPECT_TRUE(DefaultUsageReportingEnabled(BillingModel::kPayAsYouUse));
  EXPECT_TRUE(DefaultUsageReportingEnabled(BillingModel::kDevelopment));
  EXPECT_TRUE(DefaultUsageReportingEnabled(BillingModel::kRuggedized));
  EXPECT_FALSE(DefaultUsageReportingEnabled(BillingModel::kCapacity));
  EXPECT_FALSE(DefaultUsageReportingEnabled(BillingModel::kCustom));
  RegistrationTerms terms = Terms(kCloud1, BillingModel::kCapacity);
  EXPECT_FALSE(
      MakeRegistrationVersion(RegName(kProviderApss), terms, kNow).usage_reporting_enabled);
  terms.usage_reporting_enabled = true;
  EXPECT_TRUE(MakeRegistrationVersion(RegName(kProviderApss), terms, kNow).usage_reporting_enabled);
}

TEST(RulesTest, R9_DevelopmentAndRuggedizedAreZeroRated) {
  EXPECT_TRUE(IsZeroRated(BillingModel::kDevelopment));
  EXPECT_TRUE(IsZeroRated(BillingModel::kRuggedized));
  EXPECT_FALSE(IsZeroRated(BillingModel::kPayAsYouUse));
  EXPECT_FALSE(IsZeroRated(BillingModel::kCapacity));
  EXPECT_FALSE(IsZeroRated(BillingModel::kCustom));
}

TEST(RulesTest, R9_CapacityNeedsAnAgreementNumberAndCustomAnAssetTag) {
  absl::Status capacity =
      CheckBillingModelTerms(BillingModel::kCapacity, std::nullopt, std::nullopt);
  ExpectError(capacity, absl::StatusCode::kInvalidArgument, "InvalidRegistrationToken");
  EXPECT_TRUE(MessageContains(capacity, "agreementNumber"));
  absl::Status custom = CheckBillingModelTerms(BillingModel::kCustom, std::nullopt, "");
  ExpectError(custom, absl::StatusCode::kInvalidArgument, "InvalidRegistrationToken");
  EXPECT_TRUE(MessageContains(custom, "msAssetTag"));
  EXPECT_TRUE(CheckBillingModelTerms(BillingModel::kCapacity, "EA-1", std::nullopt).ok());
  EXPECT_TRUE(CheckBillingModelTerms(BillingModel::kPayAsYouUse, std::nullopt, std::nullopt).ok());
}

TEST(RulesTest, R9_ModelsOtherThanPayAsYouUseNeedThePlatformsApproval) {
  History h = StandardWorld().AddApproval(kCloud2, BillingModel::kDevelopment).Build();
  HistoryView view(h);
  RegistrationTerms terms = Terms(kCloud1, BillingModel::kDevelopment);
  ExpectError(
      CheckRegistrationPut(kProviderAdmin, view, RegName(kProviderApss), terms, kNow).status(),
      absl::StatusCode::kPermissionDenied, "BillingModelNotApproved");
  terms.cloud_id = kCloud2;
  EXPECT_TRUE(CheckRegistrationPut(kProviderAdmin, view, RegName(kProviderApss), terms, kNow).ok());
}

TEST(RulesTest, R9_AnApprovalCoversOnlyItsModelAndItsTerms) {
  History h = StandardWorld().AddApproval(kCloud1, BillingModel::kCapacity, "EA-1").Build();
  HistoryView view(h);
  ExpectError(CheckBillingModelApproved(view, kCloud1, BillingModel::kCustom, std::nullopt, "TAG"),
              absl::StatusCode::kPermissionDenied, "BillingModelNotApproved");
  ExpectError(
      CheckBillingModelApproved(view, kCloud1, BillingModel::kCapacity, "EA-2", std::nullopt),
      absl::StatusCode::kPermissionDenied, "BillingModelNotApproved");
  EXPECT_TRUE(
      CheckBillingModelApproved(view, kCloud1, BillingModel::kCapacity, "EA-1", std::nullopt).ok());
  EXPECT_TRUE(CheckBillingModelApproved(view, kCloud2, BillingModel::kPayAsYouUse, std::nullopt,
                                        std::nullopt)
                  .ok());
}

TEST(RulesTest, R9_AStackWithUsageReportingOffMayNotForwardUsage) {
  Registration r = RegVersion(RegName(kProviderApss), kCloud1, Nov(2));
  EXPECT_TRUE(CheckUsageReportingEnabled(r).ok());
  r.billing_model = BillingModel::kCapacity;
  r.usage_reporting_enabled = false;
  ExpectError(CheckUsageReportingEnabled(r), absl::StatusCode::kPermissionDenied,
              "UsageReportingDisabled");
}

// SPEC §3: the fixed order of checks.

TEST(RulesTest, RegistrationPutChecksTokenThenRoleThenApprovalThenClaim) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  const Caller stranger = PartnerAdminOf(kStranger, kStrangerDir);
  // Cloud 1 is claimed, Capacity is not approved, the caller has no role, and
  // the agreement number is missing: the token answers first.
  RegistrationTerms terms = Terms(kCloud1, BillingModel::kCapacity);
  ExpectError(CheckRegistrationPut(stranger, view, RegName(kDirectApss), terms, kNow).status(),
              absl::StatusCode::kInvalidArgument, "InvalidRegistrationToken");
  terms.agreement_number = "EA-1";
  ExpectError(CheckRegistrationPut(stranger, view, RegName(kDirectApss), terms, kNow).status(),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  ExpectError(CheckRegistrationPut(ReaderOf(kDirectApss, kDirectDir), view, RegName(kDirectApss),
                                   terms, kNow)
                  .status(),
              absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  const Caller adatum = PartnerAdminOf(kDirect, kDirectDir);
  ExpectError(CheckRegistrationPut(adatum, view, RegName(kDirectApss), terms, kNow).status(),
              absl::StatusCode::kPermissionDenied, "BillingModelNotApproved");
  h.approvals.push_back(
      BillingModelApproval{kCloud1, BillingModel::kCapacity, "EA-1", std::nullopt});
  HistoryView approved(h);
  ExpectError(CheckRegistrationPut(adatum, approved, RegName(kDirectApss), terms, kNow).status(),
              absl::StatusCode::kAlreadyExists, "CloudAlreadyRegistered");
}

TEST(RulesTest, CustomerSubscriptionPutChecksRoleThenRegistrationThenR5ThenR6) {
  Registration single = RegVersion(RegName(kProviderApss), kCloud1, Nov(2));
  single.multi_tenant = false;
  History h = StandardWorld().AddRegistration(single).Build();
  HistoryView view(h);
  // Someone else's customer on a single-tenant registration, asked by a
  // stranger: the role answers first, then R5, then R6.
  CustomerSubscriptionPut put = PutRequest(kProviderApss, kCspS.ToString(), kTenantS);
  ExpectError(CheckCustomerSubscriptionPut(PartnerAdminOf(kStranger, kStrangerDir), view, put, kNow)
                  .status(),
              absl::StatusCode::kNotFound, "SubscriptionNotFound");
  ExpectError(CheckCustomerSubscriptionPut(kProviderAdmin, view, put, kNow).status(),
              absl::StatusCode::kFailedPrecondition, "UnauthorizedCspRegistration");
  h.registrations[0].multi_tenant = true;
  HistoryView multi(h);
  ExpectError(CheckCustomerSubscriptionPut(kProviderAdmin, multi, put, kNow).status(),
              absl::StatusCode::kPermissionDenied, "BadCustomerSubscriptionId");
}

}  // namespace
}  // namespace stackbill
