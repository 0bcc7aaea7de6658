// The hot functions of routing and billing at the benchmark's scale (issue 8,
// docs/PERFORMANCE.md): one stack registered for 5,000 customers, as
// bench/big_world.sh builds it.
//
//   BM_RouteLookup   Route() of a record (R7, R8) against that history: the
//                    registration in force, the tenant's customer
//                    subscription, the bill-to chain — for registered and
//                    unregistered tenants alike.
//   BM_RateUsage     one line's rating (SPEC §5): included quantity, then
//                    graduated tiers, exact (1 and 3 tiers).
//   BM_PriceBookFind the price in force for a (partner, meter): the
//                    partner's override first, then the offer's list.
//   BM_RollupUpdate  a store write of 1,000 new hourly records into an
//                    in-memory SQLite store: the records, their natural-key
//                    dedupe and the four rollups' UPSERTs (the store's share
//                    of ingest, without the disk).
//
// Each reports items per second of one core.

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/entities.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/routing.h"
#include "core/testing/history_builder.h"
#include "core/time.h"
#include "services/rating.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace stackbill {
namespace {

using testing::HistoryBuilder;
using testing::Nov;
using testing::RegName;
using testing::RegVersion;
using testing::TestGuid;

constexpr int kCustomers = 5000;
constexpr Guid kCloud = TestGuid(0xc1, 1);
constexpr Guid kDefaultApss = TestGuid(0x50, 1);
constexpr char kPartner[] = "bigcsp";
const Guid kVmMeter = *Guid::Parse("fab6eb84-500b-4a09-a8ca-7358f8bbaea5");

Guid Tenant(int n) { return TestGuid(0xd0, static_cast<std::uint16_t>(n)); }
Guid CspSubscription(int n) { return TestGuid(0x5c, static_cast<std::uint16_t>(n)); }

// One partner, its APSS default subscription, kCustomers CSP subscriptions
// registered on one multi-tenant stack from November 1st; every second
// tenant is routed to its customer subscription, the others to the default.
History BuildHistory() {
  const RegistrationName name = RegName(kDefaultApss);
  const Timestamp since = Nov(1);
  HistoryBuilder b;
  b.AddPartner(kPartner, PartnerKind::kDirect)
      .AddSubscription(kDefaultApss, OfferType::kApss, TestGuid(0xd0, 0xffff), kPartner)
      .AddRegistration(RegVersion(name, kCloud, since));
  for (int c = 0; c < kCustomers; ++c) {
    b.AddSubscription(CspSubscription(c), OfferType::kCsp, Tenant(c), kPartner);
    if (c % 2 == 0) b.AddCustomerSubscription(name, kCloud, CspSubscription(c), Tenant(c), since);
  }
  History history = b.Build();
  Stack stack;
  stack.cloud_id = kCloud;
  stack.deployment_directory_id = TestGuid(0xd0, 0xffff);
  stack.multi_tenant = true;
  history.stacks.push_back(stack);
  return history;
}

void BM_RouteLookup(benchmark::State& state) {
  const History history = BuildHistory();
  const HistoryView view(history);
  std::uint64_t n = 0;
  for (auto _ : state) {
    const int customer = static_cast<int>((n * 2654435761U) % kCustomers);
    const Timestamp at = Nov(1 + static_cast<int>(n % 29), static_cast<int>(n % 24));
    absl::StatusOr<Routing> routing = Route(view, kCloud, Tenant(customer), at);
    if (!routing.ok()) state.SkipWithError(routing.status().ToString().c_str());
    benchmark::DoNotOptimize(routing);
    ++n;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteLookup);

MeterPrice Price(int tiers) {
  MeterPrice price;
  price.meter_id = kVmMeter;
  price.included_quantity = *Quantity::Parse("10");
  const char* starts[] = {"0", "1000", "10000"};
  const char* unit_prices[] = {"0.0123456789", "0.01", "0.0085"};
  for (int t = 0; t < tiers; ++t) {
    price.tiers.push_back({*Quantity::Parse(starts[t]), *UnitPrice::Parse(unit_prices[t])});
  }
  return price;
}

void BM_RateUsage(benchmark::State& state) {
  const MeterPrice price = Price(static_cast<int>(state.range(0)));
  const Quantity total = *Quantity::Parse("23456.7890123456");
  for (auto _ : state) {
    absl::StatusOr<RatedUsage> rated = RateUsage(price, total);
    benchmark::DoNotOptimize(rated);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RateUsage)->Arg(1)->Arg(3);

void BM_PriceBookFind(benchmark::State& state) {
  // The CSP list for 85 meters, and a partner's override of one of them.
  std::vector<PriceSheet> sheets(2);
  sheets[0].key = {PriceSheetOwner::Offer(OfferType::kCsp), "USD", Nov(1).AddDays(-30)};
  for (int m = 0; m < 85; ++m) {
    MeterPrice price = Price(2);
    price.meter_id = TestGuid(0x3e, static_cast<std::uint16_t>(m));
    sheets[0].meters.push_back(price);
  }
  sheets[1].key = {PriceSheetOwner::Partner(kPartner), "USD", Nov(1).AddDays(-30)};
  sheets[1].meters.push_back(Price(1));
  sheets[1].meters[0].meter_id = TestGuid(0x3e, 7);
  const PriceBook book(sheets, YearMonth(2026, 11));
  std::uint64_t n = 0;
  for (auto _ : state) {
    auto price = book.Find(OfferType::kCsp, std::string(kPartner), "USD",
                           TestGuid(0x3e, static_cast<std::uint16_t>(n++ % 85)));
    benchmark::DoNotOptimize(price);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PriceBookFind);

constexpr int kBatch = 1000;

void BM_RollupUpdate(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  std::int64_t hour = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // One hour of 1,000 resources of 200 customers: new records each time.
    std::vector<UsageRecord> records(kBatch);
    const Timestamp start = Nov(1).AddHours(hour++);
    for (int i = 0; i < kBatch; ++i) {
      UsageRecord& r = records[static_cast<std::size_t>(i)];
      const int customer = i % 200;
      r.cloud_id = kCloud;
      r.identity = fmt::format("{}-{}", start.unix_seconds(), i);
      r.content_hash = "hash";
      r.tenant_id = Tenant(customer);
      r.local_subscription_id = Tenant(customer);
      r.meter_id = kVmMeter;
      r.quantity = *Quantity::Parse("1.5");
      r.usage_start = start;
      r.usage_end = start.AddHours(1);
      r.resource_uri = fmt::format("/subscriptions/{}/vm-{}", Tenant(customer).ToString(), i);
      r.instance_data = "{}";
      r.routing.billed_subscription_id = CspSubscription(customer);
      r.routing.bill_to = BillTo{BillTo::Kind::kPartner, kPartner, Guid()};
      r.routing.reason = RoutingReason::kRegisteredCustomer;
      r.reported_time = r.usage_end;
    }
    state.ResumeTiming();
    absl::Status written = (*store)->usage().WriteUsage(records).status();
    if (!written.ok()) {
      state.SkipWithError(written.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_RollupUpdate)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace stackbill
