// BillingService over a real SQLite store with usage ingested by
// IngestService: a simulated month closed and compared, line by line and to
// the cent, with invoices computed inside this test by a straightforward
// exact model (its own integers and routing rules, not the production code
// path) — SPEC §5, R8, R9, R12, R14 — then late usage, a supersede and an
// adjustment billed on the next close, and the close's refusals.

#include "services/billing_service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/testing/status_matchers.h"
#include "services/ingest_service.h"
#include "services/registration_service.h"
#include "services/testing/seed_world.h"
#include "store/sqlite/sqlite_store.h"
#include "wire/registration_token.h"

// Test requests are written with designated initializers naming only what
// matters; GCC 12 warns about each omitted member, which is the point here.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace stackbill {
namespace {

using namespace seed_world;  // NOLINT(google-build-using-namespace): test-only constants
using ::stackbill::testing::ExpectError;

// --- the model's own exact decimals: integers at scale 10^-10 (quantities,
// prices) and 10^-20 (amounts) ----------------------------------------------
__extension__ typedef __int128 Int;  // the model's own wide integers
constexpr Int kScale10 = 10'000'000'000;

Int ParseScaled(const std::string& text) {
  Int whole = 0, frac = 0;
  int digits = 0;
  bool negative = false, point = false;
  for (char c : text) {
    if (c == '-') {
      negative = true;
    } else if (c == '.') {
      point = true;
    } else if (!point) {
      whole = whole * 10 + (c - '0');
    } else {
      frac = frac * 10 + (c - '0');
      ++digits;
    }
  }
  for (; digits < 10; ++digits) frac *= 10;
  const Int value = whole * kScale10 + frac;
  return negative ? -value : value;
}

// An amount at scale 10^-20 rounded half-even to cents, as text.
std::string Cents(Int amount) {
  const Int unit = kScale10 * kScale10 / 100;
  Int q = amount / unit, r = amount % unit;
  if (r < 0) {
    r += unit;
    q -= 1;
  }
  if (2 * r > unit || (2 * r == unit && q % 2 != 0)) ++q;
  const bool negative = q < 0;
  const Int a = negative ? -q : q;
  return fmt::format("{}{}.{:02}", negative ? "-" : "", static_cast<long long>(a / 100),
                     static_cast<int>(a % 100));
}

struct ModelPrice {
  std::vector<std::pair<Int, Int>> tiers;  // (start, unit price), scale 10
  Int included = 0;
};

// rate(total): max(0, total − included) over the graduated tiers.
Int Rate(const ModelPrice& price, Int total) {
  Int billable = total - price.included;
  if (billable < 0) billable = 0;
  Int amount = 0;
  for (std::size_t i = 0; i < price.tiers.size(); ++i) {
    const Int from = price.tiers[i].first;
    const Int to = i + 1 < price.tiers.size() ? price.tiers[i + 1].first : billable;
    const Int hi = billable < to ? billable : to;
    if (hi > from) amount += (hi - from) * price.tiers[i].second;
  }
  return amount;
}

// --- the world ---------------------------------------------------------------
const Guid kVmMeter = G("fab6eb84-500b-4a09-a8ca-7358f8bbaea5");    // Base VM Size Hours
const Guid kDiskMeter = G("b5c15376-6c94-4fdd-b655-1a69d138aca3");  // PageBlobCapacity
const Guid kCloud3 = G("5bf881b2-6be7-42a1-9f47-d6fcb6737749");     // Development lab
const Guid kCloud4 = G("5bf881b2-6be7-42a1-9f47-d6fcb673774a");     // Fabrikam's own, PAYG
const Guid kNorthwindApss = G("a0000000-0000-0000-0000-000000000007");
const Guid kLitwareCust = G("a0000000-0000-0000-0000-000000000008");
const Guid kTreyDir = G("f0000000-0000-0000-0000-000000000003");  // Litware's customer
const Guid kUnregisteredDir = G("f0000000-0000-0000-0000-00000000000f");
const Guid kLocal = G("9a000000-0000-0000-0000-000000000001");

const YearMonth kNov(2026, 11), kDec(2026, 12);
const Timestamp kSetup = kNov.Start().AddDays(-10);
const Timestamp kFabrikamMoves = kNov.Start().AddDays(14);  // Nov 15: Fabrikam → its 2nd sub
const Timestamp kWingtipJoins = kNov.Start().AddDays(9);    // Nov 10: Wingtip registered
const Timestamp kNovCloseAt = kDec.Start().AddDays(3);      // Dec 4
const Timestamp kDecCloseAt = kDec.End().AddDays(3);        // Jan 4

Caller Admin() {
  Caller caller;
  caller.principal_id = G("e0000000-0000-0000-0000-000000000003");
  caller.directory_id = kContosoDir;
  caller.roles.push_back({.id = "ra-admin",
                          .principal_id = caller.principal_id,
                          .role = Role::kPlatformAdmin,
                          .scope = "/"});
  return caller;
}

Caller PartnerAdmin(const std::string& partner, Guid directory) {
  Caller caller;
  caller.principal_id = G("e0000000-0000-0000-0000-0000000000a1");
  caller.directory_id = directory;
  caller.roles.push_back({.id = "ra-" + partner,
                          .principal_id = caller.principal_id,
                          .role = Role::kPartnerAdmin,
                          .scope = "/partners/" + partner});
  return caller;
}

Caller OwnerOf(Guid subscription, Guid directory) {
  Caller caller;
  caller.principal_id = G("e0000000-0000-0000-0000-0000000000b1");
  caller.directory_id = directory;
  caller.roles.push_back({.id = "ra-owner",
                          .principal_id = caller.principal_id,
                          .role = Role::kOwner,
                          .scope = "/subscriptions/" + subscription.ToString()});
  return caller;
}

Caller StackCaller(Guid cloud_id) {
  Caller caller;
  caller.principal_id = cloud_id;
  caller.stack_cloud_id = cloud_id;
  return caller;
}

std::string Token(Guid cloud_id, BillingModel model, bool multi_tenant) {
  RegistrationToken token;
  token.cloud_id = cloud_id;
  token.object_id = G("2dbdd5f4-daf3-442a-be35-b71c3debee5a");
  token.billing_model = model;
  token.usage_reporting_enabled = true;
  token.multi_tenant = multi_tenant;
  token.deployment_directory_id = kContosoDir;
  return EncodeRegistrationToken(token);
}

// One simulated record, as the model sees it.
struct Sent {
  Guid cloud;
  Guid tenant;
  Guid meter;
  std::string quantity;
  Timestamp start;
  std::string resource;

  std::string Text() const {
    return fmt::format(
        R"({{"tenantId":"{}","subscriptionId":"{}","meterId":"{}","quantity":{},)"
        R"("usageStartTime":"{}","usageEndTime":"{}","instanceData":{{"Microsoft.Resources":)"
        R"({{"resourceUri":"/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Compute/)"
        R"(virtualMachines/{}","location":"local"}}}}}})",
        tenant.ToString(), kLocal.ToString(), meter.ToString(), quantity, start.ToString(),
        start.AddHours(1).ToString(), kLocal.ToString(), resource);
  }
};

// The model's routing (R7, R9): which subscription pays, who is billed, and
// whether it is rated at zero — written from the world above, not from the
// store's history.
struct ModelRoute {
  Guid subscription;
  std::string bill_to;
  bool zero = false;
};

ModelRoute Route(const Sent& r) {
  if (r.cloud == kCloud1) {
    if (r.tenant == kFabrikamDir) {
      return {r.start < kFabrikamMoves ? kFabrikamCsp : kFabrikamCsp2, "partner:contoso"};
    }
    return {kApss, "partner:contoso"};
  }
  if (r.cloud == kCloud2) {
    if (r.tenant == kWingtipDir && r.start >= kWingtipJoins) {
      return {kWingtipCsp, "partner:northwind"};
    }
    if (r.tenant == kTreyDir) return {kLitwareCust, "partner:northwind"};
    return {kNorthwindApss, "partner:northwind"};
  }
  if (r.cloud == kCloud3) return {kApss, "partner:contoso", true};
  return {kFabrikamPayg, "subscription:" + kFabrikamPayg.ToString()};
}

class BillingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    Seed(*store_);
    if (HasFatalFailure()) return;
    for (const Meter& m :
         {Meter{kVmMeter, "Base VM Size Hours", "Virtual Machines", "Hours", std::nullopt, false},
          Meter{kDiskMeter, "PageBlobCapacity", "Storage", "GB*hours", std::nullopt, false}}) {
      ASSERT_OK(store_->meters().CreateMeter(m));
    }
    // Northwind becomes an indirect provider with a reseller, Litware, whose
    // customer Trey runs on Northwind's stack.
    ASSERT_OK(store_->parties().CreatePartner({.id = "litware",
                                               .name = "Litware",
                                               .kind = PartnerKind::kIndirectReseller,
                                               .billing_currency = "USD"},
                                              PartnerId("northwind"), kSetup));
    ASSERT_OK(store_->identity().CreateDirectory({.id = kTreyDir,
                                                  .display_name = "Trey Research",
                                                  .domains = {"trey.onmicrosoft.com"},
                                                  .owner_partner_id = std::nullopt}));
    for (auto [id, offer, dir, partner] :
         {std::tuple{kNorthwindApss, OfferType::kApss, kNorthwindDir, PartnerId("northwind")},
          std::tuple{kLitwareCust, OfferType::kCsp, kTreyDir, PartnerId("litware")}}) {
      Subscription s{.id = id,
                     .offer_type = offer,
                     .directory_id = dir,
                     .partner_id = partner,
                     .billing_currency = std::nullopt,
                     .display_name = "sub " + id.ToString().substr(30)};
      ASSERT_OK(store_->parties().CreateSubscription(s, kSetup));
    }
    registrations_ = std::make_unique<RegistrationService>(*store_, RegistrationServiceOptions{});
    ASSERT_OK(registrations_->PutApproval(
        Admin(), {.cloud_id = kCloud3, .billing_model = BillingModel::kDevelopment}, kSetup));
    Register(kCloud1, kApss, "stack1", BillingModel::kPayAsYouUse, true);
    Register(kCloud2, kNorthwindApss, "stack2", BillingModel::kPayAsYouUse, true);
    Register(kCloud3, kApss, "lab", BillingModel::kDevelopment, false);
    Register(kCloud4, kFabrikamPayg, "own", BillingModel::kPayAsYouUse, false);
    AddCustomer(kApss, "stack1", kFabrikamCsp, kFabrikamDir, kSetup);
    // Mid-month: Fabrikam's tenant is mapped to its second subscription
    // (R6 replaces the mapping from that moment), Wingtip is registered.
    AddCustomer(kApss, "stack1", kFabrikamCsp2, kFabrikamDir, kFabrikamMoves);
    AddCustomer(kNorthwindApss, "stack2", kLitwareCust, kTreyDir, kSetup);
    AddCustomer(kNorthwindApss, "stack2", kWingtipCsp, kWingtipDir, kWingtipJoins);
    if (HasFatalFailure()) return;
    ingest_ = std::make_unique<IngestService>(*store_, IngestOptions{});
    billing_ = std::make_unique<BillingService>(*store_, BillingOptions{});

    // Prices (SPEC §5): the CSP list (APSS uses it) with two tiers and an
    // included quantity, Northwind's override of the VM meter, and the
    // pay-as-you-go list; a later CSP version takes effect only in December.
    Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "2026-01-01",
          {{kVmMeter, {{"0", "0.0125"}, {"500", "0.0101"}, {"1500", "0.0077"}}, "24"},
           {kDiskMeter, {{"0", "0.00012345"}}, "0"}});
    Sheet(PriceSheetOwner::Offer(OfferType::kCsp), "2026-11-02",
          {{kVmMeter, {{"0", "1"}}, "0"}, {kDiskMeter, {{"0", "1"}}, "0"}});
    Sheet(PriceSheetOwner::Partner("northwind"), "2026-06-01",
          {{kVmMeter, {{"0", "0.0093"}, {"1000", "0.0071"}}, "10"}});
  }

  struct SheetMeter {
    Guid meter;
    std::vector<std::pair<std::string, std::string>> tiers;
    std::string included;
  };
  void Sheet(PriceSheetOwner owner, const std::string& date,
             const std::vector<SheetMeter>& meters) {
    PriceSheet sheet;
    sheet.key = {owner, "USD", *Timestamp::Parse(date + "T00:00:00Z")};
    for (const SheetMeter& m : meters) {
      MeterPrice price{.meter_id = m.meter, .tiers = {}, .included_quantity = Q(m.included)};
      ModelPrice model{.tiers = {}, .included = ParseScaled(m.included)};
      for (const auto& [start, unit] : m.tiers) {
        price.tiers.push_back({Q(start), *UnitPrice::Parse(unit)});
        model.tiers.emplace_back(ParseScaled(start), ParseScaled(unit));
      }
      sheet.meters.push_back(std::move(price));
      model_prices_[{owner.ToString(), date, m.meter}] = model;
    }
    ASSERT_OK(billing_->PutPriceSheet(Admin(), kSetup, sheet));
  }

  static Quantity Q(const std::string& text) { return *Quantity::Parse(text); }

  void Register(Guid cloud, Guid subscription, const std::string& name, BillingModel model,
                bool multi_tenant) {
    auto put =
        registrations_->PutRegistration(Admin(),
                                        {.name = {subscription, "azurestack", name},
                                         .registration_token = Token(cloud, model, multi_tenant),
                                         .tags = {}},
                                        kSetup);
    ASSERT_TRUE(put.ok()) << put.status();
  }

  void AddCustomer(Guid default_sub, const std::string& name, Guid customer, Guid tenant,
                   Timestamp at) {
    auto put =
        registrations_->PutCustomerSubscription(Admin(),
                                                {.registration = {default_sub, "azurestack", name},
                                                 .customer_subscription_id = customer.ToString(),
                                                 .tenant_id = tenant,
                                                 .effective_from = std::nullopt},
                                                at);
    ASSERT_TRUE(put.ok()) << put.status();
  }

  // The model's price of a meter for a line (SPEC §5): the bill-to
  // partner's override in force for the month, else the offer's list.
  ModelPrice PriceFor(const ModelRoute& route, Guid meter, YearMonth month) const {
    auto in_force = [&](const std::string& owner) -> std::optional<ModelPrice> {
      std::optional<ModelPrice> found;
      std::string best;
      for (const auto& [key, price] : model_prices_) {
        const auto& [o, date, m] = key;
        if (o == owner && m == meter && *Timestamp::Parse(date + "T00:00:00Z") <= month.Start() &&
            date >= best) {
          best = date;
          found = price;
        }
      }
      return found;
    };
    if (route.bill_to.starts_with("partner:")) {
      if (auto p = in_force(route.bill_to)) return *p;
    }
    const bool payg = route.subscription == kFabrikamPayg || route.subscription == kPayg;
    return *in_force(payg ? "offer:PayAsYouGo" : "offer:CSP");
  }

  // A month of usage: VMs and disks of every tenant on every stack, with a
  // daily pattern, in batches.
  std::vector<Sent> Simulate(YearMonth month, int hours_step) {
    std::vector<Sent> sent;
    const std::vector<std::pair<Guid, Guid>> tenants = {
        {kCloud1, kFabrikamDir}, {kCloud1, kUnregisteredDir}, {kCloud2, kWingtipDir},
        {kCloud2, kTreyDir},     {kCloud3, kContosoDir},      {kCloud4, kFabrikamDir}};
    int n = 0;
    for (Timestamp t = month.Start(); t < month.End(); t = t.AddHours(hours_step)) {
      int which = 0;
      for (const auto& [cloud, tenant] : tenants) {
        ++n;
        const std::string suffix = std::to_string(which++);
        const int hour = static_cast<int>((t.unix_seconds() / 3600) % 24);
        const int vms = 1 + (hour >= 8 && hour < 18 ? 2 : 0) + n % 2;
        sent.push_back({cloud, tenant, kVmMeter, std::to_string(vms), t, "vm" + suffix});
        sent.push_back({cloud, tenant, kDiskMeter, fmt::format("{}.0{}375", 12 + n % 7, n % 10), t,
                        "disk" + suffix});
      }
    }
    return sent;
  }

  void Send(const std::vector<Sent>& records, Timestamp now) {
    std::map<Guid, std::string> bodies;
    for (const Sent& r : records) bodies[r.cloud] += r.Text() + "\n";
    for (const auto& [cloud, body] : bodies) {
      auto summary = ingest_->Ingest(StackCaller(cloud), cloud, "application/x-ndjson", body, now);
      ASSERT_TRUE(summary.ok()) << summary.status();
      ASSERT_EQ(summary->quarantined, 0) << summary->errors[0].message;
    }
  }

  // The model's totals per (bill-to, subscription, meter, zero-rated).
  using ModelKey = std::tuple<std::string, Guid, Guid, bool>;
  static std::map<ModelKey, Int> Totals(const std::vector<Sent>& records) {
    std::map<ModelKey, Int> totals;
    for (const Sent& r : records) {
      const ModelRoute route = Route(r);
      totals[{route.bill_to, route.subscription, r.meter, route.zero}] += ParseScaled(r.quantity);
    }
    return totals;
  }

  // Expected lines of one month's invoices: "billTo|sub|meter|flags" → amount.
  struct Expected {
    std::map<std::string, std::string> lines;  // key → cents
    std::map<std::string, Int> totals;         // bill-to → Σ rounded lines (cents as Int)
  };

  static std::string LineKey(const std::string& bill_to, Guid sub, std::optional<Guid> meter,
                             const std::string& flags) {
    return fmt::format("{}|{}|{}|{}", bill_to, sub.ToString(), meter ? meter->ToString() : "-",
                       flags);
  }

  static std::string Flags(const InvoiceLine& line) {
    std::string flags;
    if (line.zero_rated) flags += "zero,";
    if (line.late_usage_month) flags += "late:" + line.late_usage_month->ToString() + ",";
    if (line.adjustment) flags += "adjustment,";
    return flags;
  }

  static std::map<std::string, std::string> Actual(const std::vector<Invoice>& invoices) {
    std::map<std::string, std::string> lines;
    for (const Invoice& invoice : invoices) {
      for (const InvoiceLine& line : invoice.lines) {
        const std::string key =
            LineKey(invoice.bill_to.ToString(), line.subscription_id, line.meter_id, Flags(line));
        EXPECT_FALSE(lines.contains(key)) << "line twice: " << key;
        lines[key] = line.amount.ToString(2);
      }
    }
    return lines;
  }

  static void ExpectTotals(const std::vector<Invoice>& invoices) {
    for (const Invoice& invoice : invoices) {
      Amount sum;
      for (const InvoiceLine& line : invoice.lines) sum = *sum.Add(line.amount);
      EXPECT_EQ(invoice.total, sum) << invoice.bill_to.ToString();  // R14: Σ rounded lines
    }
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<RegistrationService> registrations_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<BillingService> billing_;
  // (owner, effective date, meter) → price.
  std::map<std::tuple<std::string, std::string, Guid>, ModelPrice> model_prices_;
};

// SPEC §5 reconciliation, a property of every invoice: each line's rows sum
// exactly to its amount and quantity, so all rows sum to the invoice total;
// returns how many rows are detailed (not a line's summary).
std::size_t ExpectReconciles(BillingService& billing, const Caller& admin, Timestamp now,
                             const Invoice& invoice) {
  absl::StatusOr<Reconciliation> r = billing.Reconcile(admin, now, invoice.number);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return 0;
  EXPECT_EQ(r->invoice, invoice);
  std::vector<Amount> amounts(invoice.lines.size());
  std::vector<Quantity> quantities(invoice.lines.size());
  Amount all;
  std::size_t detailed = 0;
  for (const ReconciliationRow& row : r->rows) {
    EXPECT_LT(row.line_index, invoice.lines.size());
    if (row.line_index >= invoice.lines.size()) return 0;
    amounts[row.line_index] = *amounts[row.line_index].Add(row.amount);
    quantities[row.line_index] = *quantities[row.line_index].Add(row.quantity);
    all = *all.Add(row.amount);
    if (!row.summary) {
      ++detailed;
      EXPECT_TRUE(row.day && row.cloud_id) << invoice.number;
    }
  }
  for (std::size_t i = 0; i < invoice.lines.size(); ++i) {
    EXPECT_EQ(amounts[i], invoice.lines[i].amount) << invoice.number << " line " << i + 1;
    EXPECT_EQ(quantities[i], invoice.lines[i].quantity) << invoice.number << " line " << i + 1;
  }
  EXPECT_EQ(all, invoice.total) << invoice.number;
  return detailed;
}

TEST_F(BillingServiceTest, AMonthClosesToTheCentOfAnIndependentModelAndLateUsageFollows) {
  // November, every 2 hours, sent on Dec 1.
  const std::vector<Sent> november = Simulate(kNov, 2);
  Send(november, kDec.Start().AddHours(1));
  if (HasFatalFailure()) return;

  // No pay-as-you-go list yet: the close names the meters it lacks.
  const absl::Status missing =
      billing_->ClosePeriod(Admin(), kNovCloseAt, kNov, CloseOptions{}).status();
  ExpectError(missing, absl::StatusCode::kFailedPrecondition, "MissingPrice");
  EXPECT_NE(missing.message().find(kVmMeter.ToString()), std::string::npos) << missing;
  EXPECT_NE(missing.message().find(kDiskMeter.ToString()), std::string::npos) << missing;
  EXPECT_NE(missing.message().find("PayAsYouGo"), std::string::npos) << missing;
  ASSERT_OK_AND_ASSIGN(BillingPeriodRecord still_open, store_->billing().GetBillingPeriod(kNov));
  EXPECT_FALSE(still_open.closed());
  Sheet(PriceSheetOwner::Offer(OfferType::kPayAsYouGo), "2026-01-01",
        {{kVmMeter, {{"0", "0.017"}}, "0"}, {kDiskMeter, {{"0", "0.0002"}}, "100"}});

  // The model's November.
  Expected expected;
  for (const auto& [key, total] : Totals(november)) {
    const auto& [bill_to, sub, meter, zero] = key;
    const ModelRoute route{sub, bill_to, zero};
    const std::string cents = zero ? "0.00" : Cents(Rate(PriceFor(route, meter, kNov), total));
    expected.lines[LineKey(bill_to, sub, meter, zero ? "zero," : "")] = cents;
    expected.totals[bill_to] += ParseScaled(cents) / 100'000'000;
  }

  // 2 meters × (Fabrikam's two subscriptions, Contoso's and Northwind's
  // default subscriptions, Wingtip, Trey, the lab, Fabrikam's own).
  EXPECT_EQ(expected.lines.size(), 16u);
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult closed,
                       billing_->ClosePeriod(Admin(), kNovCloseAt, kNov, CloseOptions{}));
  EXPECT_TRUE(closed.newly_closed);
  EXPECT_EQ(Actual(closed.invoices), expected.lines);
  ExpectTotals(closed.invoices);
  ASSERT_EQ(closed.invoices.size(), 3u);  // contoso, northwind, Fabrikam's PAYG
  for (const Invoice& invoice : closed.invoices) {
    EXPECT_EQ(Cents(ParseScaled(invoice.total.ToString()) * kScale10),
              Cents(expected.totals[invoice.bill_to.ToString()] * kScale10 * kScale10 / 100))
        << invoice.bill_to.ToString();
    EXPECT_EQ(invoice.number.substr(0, 8), "SB-2026-");
    for (const InvoiceLine& line : invoice.lines) {
      // R8: the reseller is named on its customer's lines; the default
      // subscription's lines carry no tenant.
      if (line.subscription_id == kLitwareCust) {
        EXPECT_EQ(line.reseller_name, "Litware");
      }
      if (line.subscription_id == kApss || line.subscription_id == kNorthwindApss) {
        EXPECT_FALSE(line.tenant_id.has_value());
      }
      if (line.subscription_id == kFabrikamCsp) {
        EXPECT_EQ(line.tenant_id, kFabrikamDir);
        EXPECT_EQ(line.customer_name, "fabrikam.onmicrosoft.com");
      }
    }
  }
  // Every November line is told apart per day, stack and resource, and its
  // rows sum to it.
  for (const Invoice& invoice : closed.invoices) {
    EXPECT_GT(ExpectReconciles(*billing_, Admin(), kNovCloseAt, invoice), invoice.lines.size());
  }
  // Closing twice changes nothing.
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult again,
                       billing_->ClosePeriod(Admin(), kNovCloseAt.AddHours(5), kNov, {}));
  EXPECT_FALSE(again.newly_closed);
  EXPECT_EQ(again.invoices, closed.invoices);

  // After the close: late November usage (the odd hours, sent Dec 5), a
  // November record superseded, a credit, and December's usage.
  std::vector<Sent> late;
  for (Sent r : Simulate(kNov, 2)) {
    r.start = r.start.AddHours(1);
    late.push_back(r);
  }
  late.resize(late.size() / 3);  // the first ten days
  Send(late, kDec.Start().AddDays(4));
  const std::vector<Sent> december = Simulate(kDec, 3);
  Send(december, kDec.End().AddHours(1));
  if (HasFatalFailure()) return;
  // Fabrikam's first VM record of November (subscription 1) was 2, is 0.5.
  Sent superseded = november[0];
  ASSERT_EQ(Route(superseded).subscription, kFabrikamCsp);
  const std::string old_quantity = superseded.quantity;
  superseded.quantity = "0.5";
  ASSERT_OK(ingest_->Supersede(
      Admin(), {.cloud_id = kCloud1, .record_text = superseded.Text(), .reason = "meter bug"},
      kDec.Start().AddDays(6)));
  const std::optional<Guid> no_meter;
  ExpectError(billing_
                  ->AddAdjustment(Admin(), kDec.Start().AddDays(7),
                                  {.period = kDec,
                                   .subscription_id = kWingtipCsp,
                                   .meter_id = no_meter,
                                   .amount = *Amount::Parse("-5.005"),
                                   .currency = "USD",
                                   .reason = "outage credit"})
                  .status(),
              absl::StatusCode::kInvalidArgument, "InvalidAdjustment");
  ASSERT_OK(billing_->AddAdjustment(Admin(), kDec.Start().AddDays(7),
                                    {.period = kDec,
                                     .subscription_id = kWingtipCsp,
                                     .meter_id = no_meter,
                                     .amount = *Amount::Parse("-5"),
                                     .currency = "USD",
                                     .reason = "outage credit"}));

  // The model's December: its own usage at December's prices, the late
  // lines rated marginally at November's (R12), the supersede as an
  // adjustment (R11), the credit.
  Expected dec;
  for (const auto& [key, total] : Totals(december)) {
    const auto& [bill_to, sub, meter, zero] = key;
    dec.lines[LineKey(bill_to, sub, meter, zero ? "zero," : "")] =
        zero ? "0.00" : Cents(Rate(PriceFor({sub, bill_to, zero}, meter, kDec), total));
  }
  const std::map<ModelKey, Int> closed_totals = Totals(november);
  const std::map<ModelKey, Int> late_totals = Totals(late);
  const ModelKey superseded_key{"partner:contoso", kFabrikamCsp, kVmMeter, false};
  const Int supersede_delta = ParseScaled("0.5") - ParseScaled(old_quantity);
  for (const auto& [key, extra] : late_totals) {
    const auto& [bill_to, sub, meter, zero] = key;
    const Int before = closed_totals.at(key);
    Int delta = extra;
    if (key == superseded_key) delta += supersede_delta;
    const ModelPrice price = PriceFor({sub, bill_to, zero}, meter, kNov);
    const std::string flags = std::string(zero ? "zero," : "") + "late:2026-11," +
                              (key == superseded_key ? "adjustment," : "");
    dec.lines[LineKey(bill_to, sub, meter, flags)] =
        zero ? "0.00" : Cents(Rate(price, before + delta) - Rate(price, before));
  }
  dec.lines[LineKey("partner:northwind", kWingtipCsp, std::nullopt, "adjustment,")] = "-5.00";

  ASSERT_OK_AND_ASSIGN(ClosePeriodResult december_close,
                       billing_->ClosePeriod(Admin(), kDecCloseAt, kDec, CloseOptions{}));
  EXPECT_GT(dec.lines.size(), expected.lines.size());
  EXPECT_EQ(Actual(december_close.invoices), dec.lines);
  ExpectTotals(december_close.invoices);
  // Numbers continue gap-free in the year of issue (2027 for December).
  EXPECT_EQ(december_close.invoices.front().number, "SB-2027-000001");
  // Late usage never alters a closed invoice (R12).
  ASSERT_OK_AND_ASSIGN(std::vector<Invoice> november_now,
                       store_->billing().ListInvoices({.period = kNov}));
  EXPECT_EQ(november_now, closed.invoices);
  // Rows still sum to every line and invoice, November's (whose late lines
  // went to December) and December's (late lines and adjustments as one
  // summary row each).
  for (const Invoice& invoice : november_now) {
    ExpectReconciles(*billing_, Admin(), kDecCloseAt, invoice);
  }
  for (const Invoice& invoice : december_close.invoices) {
    ExpectReconciles(*billing_, Admin(), kDecCloseAt, invoice);
  }
  // The November sheets are locked; the adjustment went on the close.
  ExpectError(billing_
                  ->AddAdjustment(Admin(), kDecCloseAt.AddHours(1),
                                  {.period = kDec,
                                   .subscription_id = kWingtipCsp,
                                   .meter_id = no_meter,
                                   .amount = *Amount::Parse("1"),
                                   .currency = "USD",
                                   .reason = "late"})
                  .status(),
              absl::StatusCode::kFailedPrecondition, "PeriodClosed");
}

TEST_F(BillingServiceTest, PeriodsCloseInOrderOnlyAfterTheyEndAndOnlyByPlatformAdmins) {
  Sheet(PriceSheetOwner::Offer(OfferType::kPayAsYouGo), "2026-01-01",
        {{kVmMeter, {{"0", "0.017"}}, "0"}, {kDiskMeter, {{"0", "0.0002"}}, "0"}});
  Send(Simulate(kNov, 24), kDec.Start().AddHours(1));
  Send(Simulate(kDec, 24), kDec.End().AddHours(1));
  if (HasFatalFailure()) return;
  ExpectError(
      billing_->ClosePeriod(PartnerAdmin("contoso", kContosoDir), kNovCloseAt, kNov, {}).status(),
      absl::StatusCode::kPermissionDenied, "AuthorizationFailed");
  ExpectError(billing_->ClosePeriod(Admin(), kNov.End().AddSeconds(-1), kNov, {}).status(),
              absl::StatusCode::kFailedPrecondition, "PeriodNotEnded");
  ExpectError(billing_->ClosePeriod(Admin(), kDecCloseAt, kDec, {}).status(),
              absl::StatusCode::kFailedPrecondition, "PeriodsCloseInOrder");
  ASSERT_OK_AND_ASSIGN(std::optional<YearMonth> next, billing_->NextPeriodToClose(kDecCloseAt));
  EXPECT_EQ(next, kNov);

  // Automatic closing: nothing before the grace, then both months in order.
  ASSERT_OK_AND_ASSIGN(std::vector<ClosePeriodResult> none,
                       billing_->AutoClose(kNov.End().AddHours(71)));
  EXPECT_TRUE(none.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<ClosePeriodResult> both, billing_->AutoClose(kDecCloseAt));
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].period.period, kNov);
  EXPECT_EQ(both[1].period.period, kDec);
  ASSERT_OK_AND_ASSIGN(std::vector<BillingPeriodState> periods,
                       billing_->ListPeriods(Admin(), kDecCloseAt));
  ASSERT_EQ(periods.size(), 3u);  // November, December, January (open)
  EXPECT_TRUE(periods[0].closed_at.has_value());
  EXPECT_EQ(periods[0].invoices, 3u);
  EXPECT_FALSE(periods[2].closed_at.has_value());
  EXPECT_EQ(periods[2].auto_close_at, YearMonth(2027, 1).End().AddHours(72));
}

TEST_F(BillingServiceTest, InvoicesAndEstimatesAreVisibleOnlyToTheBillToChain) {
  Sheet(PriceSheetOwner::Offer(OfferType::kPayAsYouGo), "2026-01-01",
        {{kVmMeter, {{"0", "0.017"}}, "0"}, {kDiskMeter, {{"0", "0.0002"}}, "0"}});
  Send(Simulate(kNov, 24), kDec.Start().AddHours(1));
  if (HasFatalFailure()) return;
  const BillTo contoso{BillTo::Kind::kPartner, "contoso", Guid()};
  const BillTo northwind{BillTo::Kind::kPartner, "northwind", Guid()};

  // The estimate of the open month is what the close then issues, without a number.
  ASSERT_OK_AND_ASSIGN(Invoice estimate,
                       billing_->Estimate(PartnerAdmin("contoso", kContosoDir),
                                          kDec.Start().AddHours(2), contoso, kNov));
  EXPECT_TRUE(estimate.number.empty());
  EXPECT_FALSE(estimate.lines.empty());
  ASSERT_OK_AND_ASSIGN(ClosePeriodResult closed,
                       billing_->ClosePeriod(Admin(), kNovCloseAt, kNov, {}));
  const Invoice* issued = nullptr;
  for (const Invoice& i : closed.invoices) {
    if (i.bill_to == contoso) issued = &i;
  }
  ASSERT_NE(issued, nullptr);
  EXPECT_EQ(issued->lines, estimate.lines);
  EXPECT_EQ(issued->total, estimate.total);

  const Caller fabrikam_owner = OwnerOf(kFabrikamCsp, kFabrikamDir);
  const Caller other_partner = PartnerAdmin("northwind", kNorthwindDir);
  for (const Caller& outsider : {fabrikam_owner, other_partner}) {
    ExpectError(billing_->GetInvoice(outsider, kNovCloseAt, issued->number).status(),
                absl::StatusCode::kNotFound, "InvoiceNotFound");
    EXPECT_FALSE(billing_->Estimate(outsider, kNovCloseAt, contoso, kDec).ok());
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Invoice> seen_by_fabrikam,
                       billing_->ListInvoices(fabrikam_owner, kNovCloseAt, {}));
  EXPECT_TRUE(seen_by_fabrikam.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<Invoice> seen_by_northwind,
                       billing_->ListInvoices(other_partner, kNovCloseAt, {}));
  ASSERT_EQ(seen_by_northwind.size(), 1u);
  EXPECT_EQ(seen_by_northwind[0].bill_to, northwind);
  ASSERT_OK(billing_->GetInvoice(PartnerAdmin("contoso", kContosoDir), kNovCloseAt,
                                 issued->id.ToString()));
  // A closed period has no estimate; a locked sheet cannot be replaced.
  ExpectError(billing_->Estimate(Admin(), kNovCloseAt, contoso, kNov).status(),
              absl::StatusCode::kFailedPrecondition, "PeriodClosed");
  PriceSheet csp;
  csp.key = {PriceSheetOwner::Offer(OfferType::kCsp), "USD",
             *Timestamp::Parse("2026-01-01T00:00:00Z")};
  csp.meters.push_back({kVmMeter, {{Quantity(), *UnitPrice::Parse("9")}}, Quantity()});
  ExpectError(billing_->PutPriceSheet(Admin(), kNovCloseAt, csp).status(),
              absl::StatusCode::kFailedPrecondition, "PriceSheetLocked");
}

TEST_F(BillingServiceTest, UnpricedUsageClosesOnlyWhenAllowedAndIsFlagged) {
  Send(Simulate(kNov, 24), kDec.Start().AddHours(1));
  if (HasFatalFailure()) return;
  ExpectError(billing_->ClosePeriod(Admin(), kNovCloseAt, kNov, {}).status(),
              absl::StatusCode::kFailedPrecondition, "MissingPrice");
  ASSERT_OK_AND_ASSIGN(
      ClosePeriodResult closed,
      billing_->ClosePeriod(Admin(), kNovCloseAt, kNov, CloseOptions{.allow_unpriced = true}));
  int unpriced = 0;
  for (const Invoice& invoice : closed.invoices) {
    for (const InvoiceLine& line : invoice.lines) {
      if (!line.unpriced) continue;
      ++unpriced;
      EXPECT_EQ(line.subscription_id, kFabrikamPayg);
      EXPECT_TRUE(line.amount.IsZero());
    }
  }
  EXPECT_EQ(unpriced, 2);
}

}  // namespace
}  // namespace stackbill
