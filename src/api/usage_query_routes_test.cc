// The usage query routes (SPEC §7, R8): Commerce UsageAggregates, the provider
// API and /v1/usage, over usage written to a real SQLite store.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "api/api.h"
#include "api/registration_test_world.h"
#include "core/decimal.h"
#include "core/meter_catalogue.h"

namespace stackbill {
namespace {

using namespace testing_world;  // NOLINT(google-build-using-namespace): test-only world

const Guid kMeterA = G("fab6eb84-500b-4a09-a8ca-7358f8bbaea5");  // Base VM Size Hours
const Guid kMeterB = G("6dab500f-a4fd-49c4-956d-229bb9c8c793");  // Windows VM Size Hours
const Guid kLocalSub = G("9a000000-0000-0000-0000-000000000001");
const Guid kTenant = G("f0000000-0000-0000-0000-000000000001");
// The month of usage ends two days before kT0 (2027-01-15T08:00Z).
const Timestamp kMonthStart = Timestamp::FromUnixSeconds(1'798'675'200);  // 2026-12-31T00:00Z

std::string At(Timestamp t) { return t.ToString(); }

// The exact quantities of an answer's items (JSON numbers or decimal
// strings), per meter id, summed.
std::map<std::string, Quantity> SumQuantities(const std::string& body) {
  // A scan rather than std::regex (GCC 12's <regex> trips -Wmaybe-uninitialized
  // under the sanitizers): each item's "meterId" is followed by its "quantity".
  std::map<std::string, Quantity> sums;
  const std::string meter_key = "\"meterId\":\"";
  const std::string quantity_key = "\"quantity\":";
  for (std::size_t at = body.find(meter_key); at != std::string::npos;
       at = body.find(meter_key, at + 1)) {
    const std::size_t meter_begin = at + meter_key.size();
    const std::string meter = body.substr(meter_begin, body.find('"', meter_begin) - meter_begin);
    std::size_t q = body.find(quantity_key, meter_begin);
    if (q == std::string::npos) break;
    q += quantity_key.size();
    if (body[q] == '"') ++q;
    const std::size_t q_end = body.find_first_not_of("-0123456789.", q);
    Quantity& sum = sums[meter];
    sum = *sum.Add(*Quantity::Parse(body.substr(q, q_end - q)));
  }
  return sums;
}

class UsageQueryRoutesTest : public RegistrationWorld {
 protected:
  void SetUp() override {
    RegistrationWorld::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(AddUsageQueryRoutes(*router_, *store_).ok());
    auth_.principals["fabrikam-owner"] =
        MakeCaller("e0000000-0000-0000-0000-000000000009", kFabrikamDir, Role::kOwner,
                   "/subscriptions/" + kFabrikamCsp.ToString());
    ASSERT_EQ(Register().status, 201);  // stack 1 under Contoso's APSS
    // The meter catalogue, as `stackbill init` stores it.
    std::vector<std::string> skipped;
    absl::StatusOr<MeterCatalogue> catalogue = MeterCatalogue::BuiltIn(skipped);
    ASSERT_TRUE(catalogue.ok());
    ASSERT_TRUE(store_->meters().PutMeters(catalogue->List()).ok());
  }

  // 14 days × 24 hours × 3 resources × 2 meters of usage billed to
  // kFabrikamCsp, each hour reported two hours after it ends.
  void WriteMonth() {
    std::vector<UsageRecord> records;
    for (int h = 0; h < 14 * 24; ++h) {
      for (int vm = 0; vm < 3; ++vm) {
        for (const Guid& meter : {kMeterA, kMeterB}) {
          UsageRecord r;
          r.cloud_id = kCloud1;
          r.identity = "id-" + std::to_string(h) + "-" + std::to_string(vm) + meter.ToString();
          r.content_hash = "hash";
          r.tenant_id = kTenant;
          r.local_subscription_id = kLocalSub;
          r.meter_id = meter;
          r.quantity =
              *Quantity::Parse(std::to_string(vm + 1) + "." + std::to_string(h % 10) + "000000001");
          r.usage_start = kMonthStart.AddHours(h);
          r.usage_end = r.usage_start.AddHours(1);
          r.resource_uri = "/subscriptions/" + kLocalSub.ToString() + "/vm" + std::to_string(vm);
          r.instance_data = R"({"Microsoft.Resources":{"resourceUri":")" + r.resource_uri +
                            R"(","location":"local"}})";
          r.routing.billed_subscription_id = kFabrikamCsp;
          r.routing.bill_to = BillTo{BillTo::Kind::kPartner, "contoso", Guid()};
          r.routing.reason = RoutingReason::kRegisteredCustomer;
          r.reported_time = r.usage_end.AddHours(2);
          records.push_back(r);
        }
      }
    }
    ASSERT_TRUE(store_->usage().WriteUsage(records).ok());
  }

  std::string Commerce(Guid subscription, std::string_view query) {
    return "/subscriptions/" + subscription.ToString() +
           "/providers/Microsoft.Commerce/UsageAggregates?api-version=2015-06-01-preview&" +
           std::string(query);
  }

  // Follows nextLink through every page; the answers' bodies.
  std::vector<std::string> AllPages(std::string target, std::string_view bearer) {
    std::vector<std::string> pages;
    for (int guard = 0; guard < 100 && !target.empty(); ++guard) {
      Reply reply = Send("GET", target, bearer);
      EXPECT_EQ(reply.status, 200) << target << "\n" << reply.text;
      if (reply.status != 200) break;
      EXPECT_LE(reply.body["value"].size(), 1000u);
      pages.push_back(reply.text);
      const std::string next = reply.body.value("nextLink", "");
      target = next.empty() ? "" : next.substr(std::string(kBaseUrl).size());
    }
    return pages;
  }

  // The stored totals per meter of kFabrikamCsp in the window, by the store's
  // exact sum over the records themselves.
  std::map<std::string, Quantity> StoredTotals(Timestamp from, Timestamp to, bool by_usage) {
    UsageFilter filter{.billed_subscription_id = kFabrikamCsp};
    if (by_usage) {
      filter.usage_start_from = from;
      filter.usage_start_to = to;
    } else {
      filter.reported_from = from;
      filter.reported_to = to;
    }
    std::map<std::string, Quantity> totals;
    absl::StatusOr<std::vector<UsageTotal>> sums = store_->usage().SumUsage(filter);
    EXPECT_TRUE(sums.ok()) << sums.status();
    if (!sums.ok()) return totals;
    for (const UsageTotal& t : *sums) totals[t.meter_id.ToString()] = t.quantity;
    return totals;
  }
};

TEST_F(UsageQueryRoutesTest, PagedAggregatesSumExactlyToTheStoredUsage) {
  WriteMonth();
  const Timestamp from = kMonthStart.AddDays(1);
  const Timestamp to = kMonthStart.AddDays(13);
  for (const char* granularity : {"Daily", "Hourly"}) {
    for (const char* details : {"true", "false"}) {
      for (const char* time_type : {"Reported", "Usage"}) {
        const std::string query = std::string("reportedStartTime=") + At(from) +
                                  "&reportedEndTime=" + At(to) +
                                  "&aggregationGranularity=" + granularity +
                                  "&showDetails=" + details + "&timeType=" + time_type;
        const std::vector<std::string> pages =
            AllPages(Commerce(kFabrikamCsp, query), "contoso-admin");
        std::map<std::string, Quantity> got;
        for (const std::string& page : pages) {
          for (const auto& [meter, q] : SumQuantities(page)) got[meter] = *got[meter].Add(q);
        }
        EXPECT_EQ(got, StoredTotals(from, to, std::string(time_type) == "Usage")) << query;
        // 12 days × 3 VMs × 2 meters per day in detail; hourly ×24.
        const std::size_t items_per_day = std::string(details) == "true" ? 6 : 2;
        const std::size_t expected_items =
            12 * items_per_day * (std::string(granularity) == "Hourly" ? 24 : 1);
        std::size_t items = 0;
        for (const std::string& page : pages) {
          items += nlohmann::json::parse(page)["value"].size();
        }
        if (std::string(time_type) == "Usage") {
          EXPECT_EQ(items, expected_items) << query;
        }
      }
    }
  }
}

TEST_F(UsageQueryRoutesTest, ItemsCarryTheMeterAndInstanceDataAsAzureDoes) {
  WriteMonth();
  Reply reply = Send("GET",
                     Commerce(kFabrikamCsp,
                              "reportedStartTime=2027-01-01T00:00:00%2B00:00&reportedEndTime="
                              "2027-01-02T00:00:00Z&timeType=Usage"),
                     "contoso-admin");
  ASSERT_EQ(reply.status, 200) << reply.text;
  ASSERT_EQ(reply.body["value"].size(), 6u);
  const nlohmann::json& item = reply.body["value"][0];
  EXPECT_EQ(item["type"], "Microsoft.Commerce/UsageAggregate");
  EXPECT_TRUE(
      item["id"].get<std::string>().starts_with("/subscriptions/" + kFabrikamCsp.ToString() +
                                                "/providers/Microsoft.Commerce/UsageAggregates/"));
  const nlohmann::json& p = item["properties"];
  EXPECT_EQ(p["subscriptionId"], kFabrikamCsp.ToString());
  EXPECT_EQ(p["usageStartTime"], "2027-01-01T00:00:00+00:00");
  EXPECT_EQ(p["usageEndTime"], "2027-01-02T00:00:00+00:00");
  EXPECT_FALSE(p["meterName"].get<std::string>().empty());
  EXPECT_FALSE(p["unit"].get<std::string>().empty());
  ASSERT_TRUE(p["instanceData"].is_string());  // a JSON string, as in Azure
  EXPECT_TRUE(
      nlohmann::json::parse(p["instanceData"].get<std::string>()).contains("Microsoft.Resources"));
  EXPECT_TRUE(p["quantity"].is_number());
  // The exact decimal text: 24 hours of 1.h000000001 (h = hour mod 10).
  EXPECT_NE(reply.text.find("\"quantity\":"), std::string::npos);
}

TEST_F(UsageQueryRoutesTest, AReroutedRecordMovesToItsNewSubscriptionsReportedWindow) {
  WriteMonth();
  const std::string id = "id-30-0" + kMeterA.ToString();
  const Timestamp rerouted_at = kMonthStart.AddDays(13).AddHours(5);
  Routing other{kFabrikamCsp2, BillTo{BillTo::Kind::kPartner, "contoso", Guid()},
                RoutingReason::kRegisteredCustomer};
  ASSERT_TRUE(store_->usage()
                  .UpdateRouting(std::vector<RoutingUpdate>{{kCloud1, id, other, rerouted_at}})
                  .ok());
  const std::string window = "reportedStartTime=" + At(kMonthStart.AddDays(13)) +
                             "&reportedEndTime=" + At(kMonthStart.AddDays(14));
  Reply moved = Send("GET", Commerce(kFabrikamCsp2, window), "contoso-admin");
  ASSERT_EQ(moved.status, 200) << moved.text;
  ASSERT_EQ(moved.body["value"].size(), 1u);
  EXPECT_EQ(moved.body["value"][0]["properties"]["usageStartTime"], "2027-01-01T00:00:00+00:00");
  // And it is no longer in its old subscription's answer for its first report.
  const std::string old_window = "reportedStartTime=" + At(kMonthStart.AddDays(1)) +
                                 "&reportedEndTime=" + At(kMonthStart.AddDays(2));
  std::map<std::string, Quantity> sums;
  for (const std::string& page : AllPages(Commerce(kFabrikamCsp, old_window), "contoso-admin")) {
    for (const auto& [meter, q] : SumQuantities(page)) sums[meter] = *sums[meter].Add(q);
  }
  EXPECT_EQ(sums, StoredTotals(kMonthStart.AddDays(1), kMonthStart.AddDays(2), false));
}

TEST_F(UsageQueryRoutesTest, WindowBoundariesAreInclusiveStartExclusiveEnd) {
  WriteMonth();
  // Hour 0's records are reported at 03:00 on the first day: [03:00, 04:00)
  // holds exactly them; [02:00, 03:00) holds none.
  const auto count = [&](Timestamp from, Timestamp to) {
    Reply r =
        Send("GET",
             Commerce(kFabrikamCsp, "aggregationGranularity=Hourly&reportedStartTime=" + At(from) +
                                        "&reportedEndTime=" + At(to)),
             "contoso-admin");
    EXPECT_EQ(r.status, 200) << r.text;
    return r.body["value"].size();
  };
  EXPECT_EQ(count(kMonthStart.AddHours(3), kMonthStart.AddHours(4)), 6u);
  EXPECT_EQ(count(kMonthStart.AddHours(2), kMonthStart.AddHours(3)), 0u);
  EXPECT_EQ(count(kMonthStart.AddHours(2), kMonthStart.AddHours(4)), 6u);
}

TEST_F(UsageQueryRoutesTest, EachErrorCode) {
  const std::string ok_window =
      "reportedStartTime=2027-01-01T00:00:00Z&reportedEndTime=2027-01-02T00:00:00Z";
  const std::string base =
      "/subscriptions/" + kFabrikamCsp.ToString() + "/providers/Microsoft.Commerce/UsageAggregates";
  EXPECT_EQ(Send("GET", base + "?" + ok_window, "contoso-admin").code,
            "MissingApiVersionParameter");
  EXPECT_EQ(Send("GET",
                 Commerce(kFabrikamCsp,
                          "reportedStartTime=2027-01-01T00:00:00Z&"
                          "reportedEndTime=2027-02-01T00:00:00Z"),
                 "contoso-admin")
                .code,
            "RequestEndTimeIsInFuture");
  EXPECT_EQ(Send("GET", Commerce(kFabrikamCsp, ok_window + "&aggregationGranularity=Weekly"),
                 "contoso-admin")
                .code,
            "InvalidAggregationGranularity");
  EXPECT_EQ(
      Send("GET", Commerce(kFabrikamCsp, "reportedEndTime=2027-01-02T00:00:00Z"), "contoso-admin")
          .code,
      "InvalidProperty");
  EXPECT_EQ(Send("GET",
                 Commerce(kFabrikamCsp,
                          "reportedStartTime=2027-01-01T05:00:00Z&"
                          "reportedEndTime=2027-01-02T00:00:00Z"),
                 "contoso-admin")
                .code,
            "InvalidProperty");  // Daily needs midnight
  EXPECT_EQ(
      Send("GET", Commerce(kFabrikamCsp, ok_window + "&showDetails=maybe"), "contoso-admin").code,
      "InvalidProperty");
  // An empty granularity is the default (Azure's clients send one).
  EXPECT_EQ(
      Send("GET", Commerce(kFabrikamCsp, ok_window + "&aggregationGranularity="), "contoso-admin")
          .status,
      200);
}

TEST_F(UsageQueryRoutesTest, R8_VisibilityOfCommerceUsage) {
  WriteMonth();
  const std::string window =
      "reportedStartTime=2027-01-01T00:00:00Z&reportedEndTime=2027-01-02T00:00:00Z";
  EXPECT_EQ(Send("GET", Commerce(kFabrikamCsp, window), "admin").status, 200);
  EXPECT_EQ(Send("GET", Commerce(kFabrikamCsp, window), "contoso-admin").status, 200);
  // The customer, even as Owner of its CSP subscription: 403.
  Reply customer = Send("GET", Commerce(kFabrikamCsp, window), "fabrikam-owner");
  EXPECT_EQ(customer.status, 403);
  EXPECT_EQ(customer.code, "BillingDataNotVisible");
  // Another partner: 404.
  Reply other = Send("GET", Commerce(kFabrikamCsp, window), "northwind");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.code, "SubscriptionNotFound");
}

TEST_F(UsageQueryRoutesTest, ContinuationTokensAreBoundToTheCallerAndTheQuery) {
  WriteMonth();
  const std::string query = "aggregationGranularity=Hourly&reportedStartTime=" + At(kMonthStart) +
                            "&reportedEndTime=" + At(kMonthStart.AddDays(13));
  Reply first = Send("GET", Commerce(kFabrikamCsp, query), "contoso-admin");
  ASSERT_EQ(first.status, 200);
  const std::string next = first.body.value("nextLink", "");
  ASSERT_FALSE(next.empty());
  const std::string target = next.substr(std::string(kBaseUrl).size());
  EXPECT_NE(next.find("aggregationGranularity=Hourly"), std::string::npos);  // every parameter
  EXPECT_EQ(Send("GET", target, "contoso-admin").status, 200);
  // Another caller with the same link (a PlatformAdmin may read the data,
  // but not with someone else's token).
  EXPECT_EQ(Send("GET", target, "admin").code, "InvalidContinuationToken");
  // The token on another query.
  const std::size_t at = target.find("continuationToken=");
  const std::string token = target.substr(at + std::string("continuationToken=").size());
  EXPECT_EQ(Send("GET",
                 Commerce(kFabrikamCsp,
                          "aggregationGranularity=Hourly&showDetails=false&"
                          "reportedStartTime=" +
                              At(kMonthStart) + "&reportedEndTime=" + At(kMonthStart.AddDays(13)) +
                              "&continuationToken=" + token),
                 "contoso-admin")
                .code,
            "InvalidContinuationToken");
  // A tampered token.
  std::string tampered = target;
  char& c = tampered[at + std::string("continuationToken=").size() + 3];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(Send("GET", tampered, "contoso-admin").code, "InvalidContinuationToken");
}

TEST_F(UsageQueryRoutesTest, ProviderUsageIsTheStackOperators) {
  WriteMonth();
  const std::string path = "/subscriptions/" + kApss.ToString() +
                           "/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates";
  const std::string window =
      "reportedStartTime=2027-01-01T00:00:00Z&reportedEndTime=2027-01-02T00:00:00Z";
  EXPECT_EQ(Send("GET", path + "?" + window, "owner").code, "NoApiVersion");
  Reply reply = Send("GET", path + "?api-version=2015-06-01-preview&" + window, "owner");
  ASSERT_EQ(reply.status, 200) << reply.text;
  ASSERT_FALSE(reply.body["value"].empty());
  // Per tenant subscription (the stack-local one), with its resources.
  EXPECT_EQ(reply.body["value"][0]["properties"]["subscriptionId"], kLocalSub.ToString());
  EXPECT_TRUE(reply.body["value"][0]["properties"]["instanceData"].is_string());
  Reply one = Send("GET",
                   path + "?api-version=2015-06-01-preview&" + window +
                       "&subscriberId=" + kLocalSub.ToString() + "&aggregationGranularity=",
                   "reader");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body["value"].size(), reply.body["value"].size());
  Reply nobody = Send("GET",
                      path + "?api-version=2015-06-01-preview&" + window +
                          "&subscriberId=9a000000-0000-0000-0000-0000000000ff",
                      "owner");
  EXPECT_EQ(nobody.status, 200);
  EXPECT_TRUE(nobody.body["value"].empty());
  EXPECT_EQ(Send("GET", path + "?api-version=2015-06-01-preview&" + window, "northwind").status,
            404);
  EXPECT_EQ(
      Send("GET",
           path + "?api-version=2015-06-01-preview&" + window + "&aggregationGranularity=Monthly",
           "owner")
          .code,
      "InvalidAggregationGranularity");
}

TEST_F(UsageQueryRoutesTest, V1UsageGroupsPagesAndExportsCsv) {
  WriteMonth();
  // January 2027's 13 days of the month written.
  const Timestamp from = kMonthStart.AddDays(1);
  const Timestamp to = kMonthStart.AddDays(14);
  const std::string window = "from=" + At(from) + "&to=" + At(to);
  Reply json = Send("GET", "/v1/usage?" + window + "&groupBy=subscription,meter&granularity=month",
                    "contoso-admin");
  ASSERT_EQ(json.status, 200) << json.text;
  ASSERT_EQ(json.body["value"].size(), 2u);  // one month, two meters
  EXPECT_EQ(SumQuantities(json.text), StoredTotals(from, to, true));
  EXPECT_EQ(json.body["value"][0]["records"], 13 * 24 * 3);
  // Paged: 14 days × 2 meters with $top=10.
  std::vector<std::string> pages =
      AllPages("/v1/usage?" + window + "&groupBy=meter&$top=10", "contoso-admin");
  EXPECT_EQ(pages.size(), 3u);
  std::map<std::string, Quantity> paged;
  for (const std::string& page : pages) {
    for (const auto& [meter, q] : SumQuantities(page)) paged[meter] = *paged[meter].Add(q);
  }
  EXPECT_EQ(paged, StoredTotals(from, to, true));
  // A page may hold up to 100,000 items (a month of thousands of
  // subscriptions in one answer), no more.
  Reply whole = Send("GET", "/v1/usage?" + window + "&groupBy=meter&$top=100000", "contoso-admin");
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body["value"].size(), 26u);
  EXPECT_FALSE(whole.body.contains("nextLink"));
  EXPECT_EQ(Send("GET", "/v1/usage?" + window + "&$top=100001", "contoso-admin").code,
            "InvalidPageSize");
  // CSV: a header and one line per item.
  Reply csv =
      Send("GET", "/v1/usage?" + window + "&groupBy=meter,resource&granularity=month&format=csv",
           "contoso-admin");
  EXPECT_EQ(csv.status, 200);
  EXPECT_TRUE(csv.text.starts_with(
      "usageStartTime,usageEndTime,meterId,meterName,meterCategory,unit,resourceUri,instanceData,"
      "quantity,records\r\n"))
      << csv.text.substr(0, 200);
  EXPECT_EQ(std::count(csv.text.begin(), csv.text.end(), '\n'), 1 + 6);
  // Not for customers or stack operators; another partner sees none of it.
  EXPECT_EQ(Send("GET", "/v1/usage?" + window, "fabrikam-owner").code, "AuthorizationFailed");
  Reply other = Send("GET", "/v1/usage?" + window, "northwind");
  EXPECT_EQ(other.status, 200);
  EXPECT_TRUE(other.body["value"].empty());
  EXPECT_EQ(
      Send("GET", "/v1/usage?" + window + "&subscriptionId=" + kFabrikamCsp.ToString(), "northwind")
          .code,
      "SubscriptionNotFound");
  EXPECT_EQ(Send("GET", "/v1/usage?" + window + "&groupBy=colour", "admin").code, "InvalidGroupBy");
  EXPECT_EQ(
      Send("GET", "/v1/usage?from=2027-01-01T00:30:00Z&to=2027-01-02T00:00:00Z", "admin").code,
      "InvalidTimeWindow");
}

}  // namespace
}  // namespace stackbill
