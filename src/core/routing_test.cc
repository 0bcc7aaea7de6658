#include "core/routing.h"

#include <algorithm>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/rules.h"
#include "core/testing/history_builder.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

using testing::ExpectError;
using testing::HistoryBuilder;
using testing::Nov;
using testing::PlatformAdmin;
using testing::RegName;
using testing::RegVersion;
using testing::StandardWorld;
using testing::TestGuid;
using namespace testing::world;

const RegistrationName kReg = RegName(kProviderApss);

// The provider's multi-tenant stack, registered on November 2.
HistoryBuilder ProviderStack() {
  return StandardWorld().AddRegistration(RegVersion(kReg, kCloud1, Nov(2)));
}

Routing RouteOk(const HistoryView& view, Guid tenant, Timestamp usage_start, Guid cloud = kCloud1) {
  absl::StatusOr<Routing> routing = Route(view, cloud, tenant, usage_start);
  EXPECT_TRUE(routing.ok()) << routing.status();
  return routing.value_or(Routing());
}

// Writes a planned change into `history` the way the store would: ended
// versions replace the stored row with the same (registration, tenant,
// customer subscription, valid.from); the started one is appended.
void Apply(History& history, const CustomerSubscriptionChange& change) {
  for (const CustomerSubscription& ended : change.ended) {
    for (CustomerSubscription& stored : history.customer_subscriptions) {
      if (stored.registration.Key() == ended.registration.Key() &&
          stored.tenant_id == ended.tenant_id &&
          stored.customer_subscription_id == ended.customer_subscription_id &&
          stored.valid.from == ended.valid.from) {
        stored.valid = ended.valid;
      }
    }
  }
  if (change.started) history.customer_subscriptions.push_back(*change.started);
}

void PutCustomer(History& history, Guid customer, Guid tenant, Timestamp from) {
  CustomerSubscription requested;
  requested.registration = kReg;
  requested.cloud_id = kCloud1;
  requested.customer_subscription_id = customer;
  requested.tenant_id = tenant;
  requested.valid.from = from;
  HistoryView view(history);
  Apply(history, PlanCustomerSubscriptionPut(view, requested));
}

TEST(RoutingTest, R7_RegisteredTenantGoesToItsCustomerSubscription) {
  History h =
      ProviderStack().AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3)).Build();
  HistoryView view(h);
  Routing r = RouteOk(view, kTenantA, Nov(4, 7));
  EXPECT_EQ(r.billed_subscription_id, kCspA);
  EXPECT_EQ(r.reason, RoutingReason::kRegisteredCustomer);
}

TEST(RoutingTest, R7_UnregisteredTenantGoesToDefaultSubscription) {
  History h =
      ProviderStack().AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3)).Build();
  HistoryView view(h);
  Routing r = RouteOk(view, kTenantB, Nov(4, 7));
  EXPECT_EQ(r.billed_subscription_id, kProviderApss);
  EXPECT_EQ(r.reason, RoutingReason::kDefaultUnregisteredTenant);
  // Usage of a registered tenant dated before its customer subscription took
  // effect also goes to the default subscription.
  Routing early = RouteOk(view, kTenantA, Nov(2, 5));
  EXPECT_EQ(early.billed_subscription_id, kProviderApss);
  EXPECT_EQ(early.reason, RoutingReason::kDefaultUnregisteredTenant);
}

TEST(RoutingTest, R6_R7_SecondPutForTheSameTenantReRoutesFromThatMomentOn) {
  History h = ProviderStack().Build();
  PutCustomer(h, kCspA, kTenantA, Nov(3));
  PutCustomer(h, kCspA2, kTenantA, Nov(12, 6));
  HistoryView view(h);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(12, 5)).billed_subscription_id, kCspA);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(12, 6)).billed_subscription_id, kCspA2);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(25)).billed_subscription_id, kCspA2);
  // The history keeps the earlier mapping, ended.
  ASSERT_EQ(h.customer_subscriptions.size(), 2u);
  EXPECT_EQ(h.customer_subscriptions[0].valid.to, Nov(12, 6));
}

TEST(RoutingTest, R7_DeletedCustomerSubscriptionSendsLaterUsageToTheDefault) {
  History h = ProviderStack().Build();
  PutCustomer(h, kCspA, kTenantA, Nov(3));
  {
    HistoryView view(h);
    Apply(h, PlanCustomerSubscriptionDelete(view, kReg, kCspA, Nov(15)));
  }
  HistoryView view(h);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(14, 23)).billed_subscription_id, kCspA);
  Routing after = RouteOk(view, kTenantA, Nov(15));
  EXPECT_EQ(after.billed_subscription_id, kProviderApss);
  EXPECT_EQ(after.reason, RoutingReason::kDefaultUnregisteredTenant);
}

TEST(RoutingTest, R7_UsageBeforeTheFirstRegistrationIsCoveredByIt) {
  Registration first = RegVersion(kReg, kCloud1, Nov(2), Nov(10));
  Registration second = RegVersion(kReg, kCloud1, Nov(10));
  History h = StandardWorld().AddRegistration(second).AddRegistration(first).Build();
  HistoryView view(h);
  Routing r = RouteOk(view, kTenantA, Nov(1, 3));
  EXPECT_EQ(r.billed_subscription_id, kProviderApss);
  EXPECT_EQ(r.reason, RoutingReason::kDefaultBeforeRegistration);
  EXPECT_EQ(r.bill_to.partner_id, kProvider);
}

TEST(RoutingTest, R7_UsageAfterTheRegistrationsDeleteIsStackNotRegistered) {
  History h = StandardWorld().AddRegistration(RegVersion(kReg, kCloud1, Nov(2), Nov(10))).Build();
  HistoryView view(h);
  EXPECT_TRUE(Route(view, kCloud1, kTenantA, Nov(9, 23)).ok());
  ExpectError(Route(view, kCloud1, kTenantA, Nov(10)).status(),
              absl::StatusCode::kFailedPrecondition, "StackNotRegistered");
  ExpectError(RegistrationForUsage(view, kCloud1, Nov(11)).status(),
              absl::StatusCode::kFailedPrecondition, "StackNotRegistered");
}

TEST(RoutingTest, R7_UsageOfANeverRegisteredCloudIsStackNotRegistered) {
  History h = ProviderStack().Build();
  HistoryView view(h);
  ExpectError(Route(view, kCloud2, kTenantA, Nov(5)).status(),
              absl::StatusCode::kFailedPrecondition, "StackNotRegistered");
}

TEST(RoutingTest, R7_UsageBetweenADeleteAndALaterRegistrationIsStackNotRegistered) {
  const RegistrationName later = RegName(kDirectApss, "again");
  History h = StandardWorld()
                  .AddRegistration(RegVersion(kReg, kCloud1, Nov(2), Nov(10)))
                  .AddRegistration(RegVersion(later, kCloud1, Nov(15)))
                  .Build();
  HistoryView view(h);
  ExpectError(Route(view, kCloud1, kTenantA, Nov(12)).status(),
              absl::StatusCode::kFailedPrecondition, "StackNotRegistered");
  Routing r = RouteOk(view, kTenantA, Nov(16));
  EXPECT_EQ(r.billed_subscription_id, kDirectApss);
  EXPECT_EQ(r.bill_to.partner_id, kDirect);
}

TEST(RoutingTest, R7_PlatformAdminEffectiveFromReRoutesEarlierUsage) {
  History h = ProviderStack().Build();
  HistoryView before_correction(h);
  EXPECT_EQ(RouteOk(before_correction, kTenantA, Nov(5)).billed_subscription_id, kProviderApss);

  // Registered on the 20th, effective from the 4th: the PlatformAdmin fixes a
  // late registration.
  CustomerSubscriptionPut put;
  put.registration = kReg;
  put.customer_subscription_id = kCspA.ToString();
  put.tenant_id = kTenantA;
  put.effective_from = Nov(4);
  put.open_periods_start = Nov(1);
  absl::StatusOr<CustomerSubscription> version =
      CheckCustomerSubscriptionPut(PlatformAdmin(), before_correction, put, Nov(20));
  ASSERT_TRUE(version.ok()) << version.status();
  Apply(h, PlanCustomerSubscriptionPut(before_correction, *version));

  HistoryView view(h);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(3, 23)).billed_subscription_id, kProviderApss);
  Routing corrected = RouteOk(view, kTenantA, Nov(5));
  EXPECT_EQ(corrected.billed_subscription_id, kCspA);
  EXPECT_EQ(corrected.reason, RoutingReason::kRegisteredCustomer);
}

TEST(RoutingTest, R7_EffectiveFromBeforeTheRegistrationCoversEarlierUsageToo) {
  History h =
      ProviderStack().AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(1)).Build();
  HistoryView view(h);
  Routing r = RouteOk(view, kTenantA, Nov(1, 5));
  EXPECT_EQ(r.billed_subscription_id, kCspA);
  EXPECT_EQ(r.reason, RoutingReason::kRegisteredCustomer);
  EXPECT_EQ(RouteOk(view, kTenantB, Nov(1, 5)).reason, RoutingReason::kDefaultBeforeRegistration);
}

TEST(RoutingTest, R7_RegistrationUpdateKeepsItsCustomerSubscriptions) {
  History h =
      StandardWorld()
          .AddRegistration(RegVersion(kReg, kCloud1, Nov(2), Nov(10)))
          .AddRegistration(RegVersion(RegName(kProviderApss, "REG1", "RG1"), kCloud1, Nov(10)))
          .AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3))
          .Build();
  HistoryView view(h);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(11)).billed_subscription_id, kCspA);
}

TEST(RoutingTest, R5_NotMultiTenantRegistrationRoutesEveryTenantToTheDefault) {
  Registration later = RegVersion(kReg, kCloud1, Nov(10));
  later.multi_tenant = false;
  History h = StandardWorld()
                  .AddRegistration(RegVersion(kReg, kCloud1, Nov(2), Nov(10)))
                  .AddRegistration(later)
                  .AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3))
                  .Build();
  HistoryView view(h);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(9)).billed_subscription_id, kCspA);
  Routing r = RouteOk(view, kTenantA, Nov(10));
  EXPECT_EQ(r.billed_subscription_id, kProviderApss);
  EXPECT_EQ(r.reason, RoutingReason::kDefaultNotMultiTenant);
}

TEST(RoutingTest, R8_ResellersCustomerIsBilledToTheIndirectProvider) {
  History h =
      ProviderStack().AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3)).Build();
  HistoryView view(h);
  Routing r = RouteOk(view, kTenantA, Nov(5));
  EXPECT_EQ(r.billed_subscription_id, kCspA);
  EXPECT_EQ(r.bill_to.kind, BillTo::Kind::kPartner);
  EXPECT_EQ(r.bill_to.partner_id, kProvider);
}

TEST(RoutingTest, R8_DirectBilledDefaultSubscriptionBillsItself) {
  History h = StandardWorld().AddRegistration(RegVersion(RegName(kPayg), kCloud2, Nov(2))).Build();
  HistoryView view(h);
  Routing r = RouteOk(view, kPaygDir, Nov(5), kCloud2);
  EXPECT_EQ(r.billed_subscription_id, kPayg);
  EXPECT_EQ(r.reason, RoutingReason::kDefaultNotMultiTenant);
  EXPECT_EQ(r.bill_to.kind, BillTo::Kind::kSubscription);
  EXPECT_EQ(r.bill_to.subscription_id, kPayg);
}

TEST(RoutingTest, R8_BillToFollowsTheRollUpChainAsOfTheUsageTime) {
  HistoryBuilder b =
      ProviderStack().AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3));
  b.history().partner_parents.clear();
  b.AddPartner("litware", PartnerKind::kIndirectProvider)
      .AddParentLink(kReseller, PartnerId(kProvider), Nov(1), Nov(15))
      .AddParentLink(kReseller, PartnerId("litware"), Nov(15));
  History h = b.Build();
  HistoryView view(h);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(14, 23)).bill_to.partner_id, kProvider);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(15)).bill_to.partner_id, "litware");
}

TEST(RoutingTest, R9_DevelopmentUsageIsZeroRatedButStillRouted) {
  Registration dev = RegVersion(kReg, kCloud1, Nov(2));
  dev.billing_model = BillingModel::kDevelopment;
  History h = StandardWorld()
                  .AddRegistration(dev)
                  .AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3))
                  .Build();
  HistoryView view(h);
  Routing customer = RouteOk(view, kTenantA, Nov(5));
  EXPECT_EQ(customer.billed_subscription_id, kCspA);
  EXPECT_EQ(customer.reason, RoutingReason::kZeroRatedBillingModel);
  EXPECT_EQ(customer.bill_to.partner_id, kProvider);
  Routing other = RouteOk(view, kTenantB, Nov(5));
  EXPECT_EQ(other.billed_subscription_id, kProviderApss);
  EXPECT_EQ(other.reason, RoutingReason::kZeroRatedBillingModel);
}

struct Record {
  Guid tenant;
  Timestamp usage_start;
};

// A history with every kind of change: a re-mapping, a deletion, a
// single-tenant update and a partner move.
History BusyHistory() {
  Registration single = RegVersion(kReg, kCloud1, Nov(20));
  single.multi_tenant = false;
  HistoryBuilder b = StandardWorld()
                         .AddRegistration(RegVersion(kReg, kCloud1, Nov(2), Nov(20)))
                         .AddRegistration(single)
                         .AddCustomerSubscription(kReg, kCloud1, kCspA, kTenantA, Nov(3), Nov(9))
                         .AddCustomerSubscription(kReg, kCloud1, kCspA2, kTenantA, Nov(9))
                         .AddCustomerSubscription(kReg, kCloud1, kCspB, kTenantB, Nov(4), Nov(12));
  b.history().partner_parents.clear();
  b.AddPartner("litware", PartnerKind::kIndirectProvider)
      .AddParentLink(kReseller, PartnerId(kProvider), Nov(1), Nov(15))
      .AddParentLink(kReseller, PartnerId("litware"), Nov(15));
  return b.Build();
}

std::vector<Record> HourlyRecords() {
  std::vector<Record> records;
  for (Guid tenant : {kTenantA, kTenantB, kTenantC}) {
    for (int hour = 0; hour < 30 * 24; hour += 5)
      records.push_back({tenant, Nov(1).AddHours(hour)});
  }
  return records;
}

std::vector<Routing> RouteAll(const HistoryView& view, const std::vector<Record>& records) {
  std::vector<Routing> out;
  for (const Record& r : records) {
    absl::StatusOr<Routing> routing = Route(view, kCloud1, r.tenant, r.usage_start);
    EXPECT_TRUE(routing.ok()) << routing.status();
    out.push_back(routing.value_or(Routing()));
  }
  return out;
}

TEST(RoutingTest, R13_RoutingDoesNotDependOnTheOrderRecordsArrive) {
  History h = BusyHistory();
  HistoryView view(h);
  const std::vector<Record> records = HourlyRecords();
  const std::vector<Routing> in_order = RouteAll(view, records);

  std::vector<std::size_t> order(records.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937 rng(20261101);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<Record> shuffled;
    for (std::size_t i : order) shuffled.push_back(records[i]);
    const std::vector<Routing> routed = RouteAll(view, shuffled);
    for (std::size_t k = 0; k < order.size(); ++k) {
      ASSERT_EQ(routed[k], in_order[order[k]]) << "record " << order[k] << " in round " << round;
    }
  }
}

TEST(RoutingTest, R13_RefusalsAreTheSameWhateverTheOrder) {
  // Registered from the 2nd to the 10th, deleted, registered again on the 15th.
  History h = StandardWorld()
                  .AddRegistration(RegVersion(kReg, kCloud1, Nov(2), Nov(10)))
                  .AddRegistration(RegVersion(RegName(kProviderApss, "again"), kCloud1, Nov(15)))
                  .Build();
  HistoryView view(h);
  std::vector<Record> records = HourlyRecords();
  std::vector<absl::Status> in_order;
  for (const Record& r : records)
    in_order.push_back(Route(view, kCloud1, r.tenant, r.usage_start).status());

  std::vector<std::size_t> order(records.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  int refused = 0;
  for (std::size_t i : order) {
    const Record& r = records[i];
    absl::Status status = Route(view, kCloud1, r.tenant, r.usage_start).status();
    EXPECT_EQ(status, in_order[i]);
    const bool in_gap = Nov(10) <= r.usage_start && r.usage_start < Nov(15);
    if (in_gap) {
      ++refused;
      EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(ErrorCode(status), "StackNotRegistered");
    } else {
      EXPECT_TRUE(status.ok()) << status;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(RoutingTest, R13_RoutingDependsOnlyOnTheHistoryNotOnTheOrderItWasLoaded) {
  History h = BusyHistory();
  History reversed = h;
  std::reverse(reversed.registrations.begin(), reversed.registrations.end());
  std::reverse(reversed.customer_subscriptions.begin(), reversed.customer_subscriptions.end());
  std::reverse(reversed.partner_parents.begin(), reversed.partner_parents.end());
  std::reverse(reversed.subscriptions.begin(), reversed.subscriptions.end());
  const std::vector<Record> records = HourlyRecords();
  EXPECT_EQ(RouteAll(HistoryView(h), records), RouteAll(HistoryView(reversed), records));
}

TEST(RoutingTest, R13_BusyHistoryRoutesAsItsChangesSay) {
  History h = BusyHistory();
  HistoryView view(h);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(8)).billed_subscription_id, kCspA);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(9)).billed_subscription_id, kCspA2);
  EXPECT_EQ(RouteOk(view, kTenantB, Nov(11)).billed_subscription_id, kCspB);
  EXPECT_EQ(RouteOk(view, kTenantB, Nov(12)).billed_subscription_id, kProviderApss);
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(16)).bill_to.partner_id, "litware");
  EXPECT_EQ(RouteOk(view, kTenantA, Nov(20)).reason, RoutingReason::kDefaultNotMultiTenant);
}

TEST(RoutingTest, TenantComesFromTheRecordOrTheStackSubscriberMapping) {
  const Guid local = TestGuid(0x10, 1);
  History h = ProviderStack().AddSubscriber(kCloud1, local, kTenantA, Nov(3)).Build();
  HistoryView view(h);
  EXPECT_EQ(*ResolveTenant(view, kCloud1, local, std::nullopt, Nov(5)), kTenantA);
  EXPECT_EQ(*ResolveTenant(view, kCloud1, local, kTenantA, Nov(5)), kTenantA);
  EXPECT_EQ(*ResolveTenant(view, kCloud1, TestGuid(0x10, 2), kTenantB, Nov(5)), kTenantB);
  ExpectError(ResolveTenant(view, kCloud1, TestGuid(0x10, 2), std::nullopt, Nov(5)).status(),
              absl::StatusCode::kFailedPrecondition, "UnknownTenant");
  ExpectError(ResolveTenant(view, kCloud1, local, kTenantB, Nov(5)).status(),
              absl::StatusCode::kInvalidArgument, "SubscriberTenantMismatch");
}

}  // namespace
}  // namespace stackbill
