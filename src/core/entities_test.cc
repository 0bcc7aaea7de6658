#include "core/entities.h"

#include <string>

#include "core/error.h"
#include "core/testing/history_builder.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

using testing::TestGuid;

template <typename Enum, typename Parse>
void ExpectRoundTrip(std::initializer_list<Enum> values, Parse parse) {
  for (Enum value : values) {
    absl::StatusOr<Enum> parsed = parse(ToString(value));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, value) << ToString(value);
  }
}

TEST(EntitiesTest, EveryEnumValueRoundTripsThroughItsWireName) {
  ExpectRoundTrip(
      {PartnerKind::kDirect, PartnerKind::kIndirectProvider, PartnerKind::kIndirectReseller},
      ParsePartnerKind);
  ExpectRoundTrip({OfferType::kCsp, OfferType::kApss, OfferType::kPayAsYouGo,
                   OfferType::kEnterpriseAgreement, OfferType::kDevTest},
                  ParseOfferType);
  ExpectRoundTrip(
      {SubscriptionState::kActive, SubscriptionState::kDisabled, SubscriptionState::kDeleted},
      ParseSubscriptionState);
  ExpectRoundTrip({BillingModel::kPayAsYouUse, BillingModel::kCapacity, BillingModel::kDevelopment,
                   BillingModel::kCustom, BillingModel::kRuggedized},
                  ParseBillingModel);
  ExpectRoundTrip({PrincipalKind::kUser, PrincipalKind::kServicePrincipal}, ParsePrincipalKind);
  ExpectRoundTrip({Role::kPlatformAdmin, Role::kPartnerAdmin, Role::kOwner, Role::kReader},
                  ParseRole);
  ExpectRoundTrip({RoutingReason::kRegisteredCustomer, RoutingReason::kDefaultUnregisteredTenant,
                   RoutingReason::kDefaultBeforeRegistration, RoutingReason::kDefaultNotMultiTenant,
                   RoutingReason::kZeroRatedBillingModel},
                  ParseRoutingReason);
}

TEST(EntitiesTest, WireNamesAreTheOnesSpecUses) {
  EXPECT_EQ(ToString(PartnerKind::kIndirectProvider), "indirectProvider");
  EXPECT_EQ(ToString(OfferType::kCsp), "CSP");
  EXPECT_EQ(ToString(OfferType::kApss), "APSS");
  EXPECT_EQ(ToString(OfferType::kEnterpriseAgreement), "EnterpriseAgreement");
  EXPECT_EQ(ToString(BillingModel::kPayAsYouUse), "PayAsYouUse");
  EXPECT_EQ(ToString(PrincipalKind::kServicePrincipal), "servicePrincipal");
  EXPECT_EQ(ToString(Role::kPartnerAdmin), "PartnerAdmin");
  EXPECT_EQ(ToString(SubscriptionState::kDeleted), "Deleted");
  EXPECT_EQ(ToString(RoutingReason::kDefaultBeforeRegistration), "DefaultBeforeRegistration");
}

TEST(EntitiesTest, ParsingIgnoresCase) {
  EXPECT_EQ(*ParseOfferType("csp"), OfferType::kCsp);
  EXPECT_EQ(*ParseOfferType("apss"), OfferType::kApss);
  EXPECT_EQ(*ParsePartnerKind("INDIRECTRESELLER"), PartnerKind::kIndirectReseller);
  EXPECT_EQ(*ParseBillingModel("payasyouuse"), BillingModel::kPayAsYouUse);
  EXPECT_EQ(*ParseRole("platformadmin"), Role::kPlatformAdmin);
}

TEST(EntitiesTest, UnknownValueIsInvalidEnumValueListingTheAcceptedOnes) {
  absl::StatusOr<BillingModel> parsed = ParseBillingModel("Hourly");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(parsed.status()), "InvalidEnumValue");
  EXPECT_NE(std::string(parsed.status().message()).find("Hourly"), std::string::npos);
  EXPECT_NE(std::string(parsed.status().message())
                .find("PayAsYouUse, Capacity, Development, Custom, Ruggedized"),
            std::string::npos)
      << parsed.status();
  EXPECT_EQ(ErrorCode(ParseOfferType("").status()), "InvalidEnumValue");
  EXPECT_EQ(ErrorCode(ParseRole("Owner ").status()), "InvalidEnumValue");
}

TEST(EntitiesTest, R8_PayAsYouGoEnterpriseAgreementAndDevTestAreDirectBilled) {
  EXPECT_TRUE(IsDirectBilled(OfferType::kPayAsYouGo));
  EXPECT_TRUE(IsDirectBilled(OfferType::kEnterpriseAgreement));
  EXPECT_TRUE(IsDirectBilled(OfferType::kDevTest));
  EXPECT_FALSE(IsDirectBilled(OfferType::kCsp));
  EXPECT_FALSE(IsDirectBilled(OfferType::kApss));
}

TEST(EntitiesTest, OfferListsMapToAzureOfferDurableIdsAndApssIsPricedFromTheCspList) {
  EXPECT_EQ(OfferDurableId(OfferType::kCsp), "MS-AZR-0145P");
  EXPECT_EQ(OfferDurableId(OfferType::kApss), "MS-AZR-0145P");
  EXPECT_EQ(OfferDurableId(OfferType::kPayAsYouGo), "MS-AZR-0003P");
  EXPECT_EQ(OfferDurableId(OfferType::kEnterpriseAgreement), "MS-AZR-0017P");
  EXPECT_EQ(OfferDurableId(OfferType::kDevTest), "MS-AZR-0023P");
  EXPECT_EQ(PricedAs(OfferType::kApss), OfferType::kCsp);
  for (OfferType offer : {OfferType::kCsp, OfferType::kPayAsYouGo, OfferType::kEnterpriseAgreement,
                          OfferType::kDevTest}) {
    absl::StatusOr<OfferType> parsed = ParseOfferDurableId(OfferDurableId(offer));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, offer);
  }
  EXPECT_EQ(*ParseOfferDurableId("ms-azr-0003p"), OfferType::kPayAsYouGo);
  EXPECT_EQ(ErrorCode(ParseOfferDurableId("MS-AZR-0044P").status()), "InvalidEnumValue");
}

TEST(EntitiesTest, RegistrationKeyIsLowerCaseSoArmNamesMatchWhateverTheirCase) {
  RegistrationName upper = testing::RegName(TestGuid(0xab, 1), "MyReg", "AzureStack-RG");
  RegistrationName lower = testing::RegName(TestGuid(0xab, 1), "myreg", "azurestack-rg");
  EXPECT_EQ(upper.Key(),
            "subscriptions/ab000000-0000-0000-0000-000000000001/resourcegroups/azurestack-rg/"
            "registrations/myreg");
  EXPECT_EQ(upper.Key(), lower.Key());
}

TEST(EntitiesTest, RegistrationResourceIdUsesTheProvidersCasingAndKeepsTheCallers) {
  RegistrationName name = testing::RegName(TestGuid(0xab, 1), "MyReg", "AzureStack-RG");
  EXPECT_EQ(name.ResourceId(),
            "/subscriptions/ab000000-0000-0000-0000-000000000001/resourceGroups/AzureStack-RG/"
            "providers/Microsoft.AzureStack/registrations/MyReg");
}

TEST(EntitiesTest, BillToNamesThePartnerOrTheSubscription) {
  BillTo partner;
  partner.kind = BillTo::Kind::kPartner;
  partner.partner_id = "contoso";
  EXPECT_EQ(partner.ToString(), "partner:contoso");
  BillTo subscription;
  subscription.kind = BillTo::Kind::kSubscription;
  subscription.subscription_id = TestGuid(0x50, 9);
  EXPECT_EQ(subscription.ToString(), "subscription:50000000-0000-0000-0000-000000000009");
}

TEST(EntitiesTest, ValidityIsHalfOpen) {
  Validity v;
  v.from = testing::Nov(2);
  v.to = testing::Nov(3);
  EXPECT_FALSE(v.Contains(testing::Nov(1, 23)));
  EXPECT_TRUE(v.Contains(testing::Nov(2)));
  EXPECT_TRUE(v.Contains(testing::Nov(2, 23)));
  EXPECT_FALSE(v.Contains(testing::Nov(3)));
  v.to.reset();
  EXPECT_TRUE(v.Contains(testing::Nov(30)));
}

}  // namespace
}  // namespace stackbill
