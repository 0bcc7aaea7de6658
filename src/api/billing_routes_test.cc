// The billing routes (SPEC §5, §6.1): price sheets with exact decimals,
// billing periods and their close, adjustments, invoices as JSON and CSV,
// estimates — and who may read them (R8) — over a real SQLite store.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/api.h"
#include "api/registration_test_world.h"
#include "core/meter_catalogue.h"

namespace stackbill {
namespace {

using namespace testing_world;  // NOLINT(google-build-using-namespace): test-only world

const Guid kVm = G("fab6eb84-500b-4a09-a8ca-7358f8bbaea5");  // Base VM Size Hours
const Guid kTenant = kFabrikamDir;
const YearMonth kDec(2026, 12);  // ends before kT0 (2027-01-15T08:00Z)

class BillingRoutesTest : public RegistrationWorld {
 protected:
  void SetUp() override {
    RegistrationWorld::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(
        AddBillingRoutes(*router_, std::make_shared<BillingService>(*store_, BillingOptions{}))
            .ok());
    auth_.principals["fabrikam-owner"] =
        MakeCaller("e0000000-0000-0000-0000-000000000009", kFabrikamDir, Role::kOwner,
                   "/subscriptions/" + kFabrikamCsp.ToString());
    ASSERT_EQ(Register().status, 201);
    std::vector<std::string> skipped;
    absl::StatusOr<MeterCatalogue> catalogue = MeterCatalogue::BuiltIn(skipped);
    ASSERT_TRUE(catalogue.ok());
    ASSERT_TRUE(store_->meters().PutMeters(catalogue->List()).ok());
  }

  // 100 hours of 1.5 VM hours billed to Fabrikam's CSP subscription (Contoso's customer).
  void WriteDecember() {
    std::vector<UsageRecord> records;
    for (int h = 0; h < 100; ++h) {
      UsageRecord r;
      r.cloud_id = kCloud1;
      r.identity = "id-" + std::to_string(h);
      r.content_hash = "hash";
      r.tenant_id = kTenant;
      r.local_subscription_id = kTenant;
      r.meter_id = kVm;
      r.quantity = *Quantity::Parse("1.5");
      r.usage_start = kDec.Start().AddHours(h);
      r.usage_end = r.usage_start.AddHours(1);
      r.resource_uri = "/subscriptions/x/vm";
      r.instance_data = "{}";
      r.routing.billed_subscription_id = kFabrikamCsp;
      r.routing.bill_to = BillTo{BillTo::Kind::kPartner, "contoso", Guid()};
      r.routing.reason = RoutingReason::kRegisteredCustomer;
      r.reported_time = r.usage_end;
      records.push_back(r);
    }
    ASSERT_TRUE(store_->usage().WriteUsage(records).ok());
  }

  Reply PutCspPrices(std::string_view bearer = "admin") {
    // Decimals as JSON numbers and as strings; the number is read from its
    // digits (a double would make 0.0123456789 inexact).
    return Send("PUT", "/v1/priceSheets/offers/CSP/USD/2026-01-01", bearer,
                R"({"meters":[{"meterId":")" + kVm.ToString() +
                    R"(","meterRates":{"0":0.0123456789,"100":"0.01"},"includedQuantity":10}]})");
  }
};

TEST_F(BillingRoutesTest, PriceSheetsKeepTheirDecimalsExactlyAndOnlyPlatformAdminsWriteThem) {
  EXPECT_EQ(PutCspPrices("contoso-admin").code, "AuthorizationFailed");
  Reply put = PutCspPrices();
  ASSERT_EQ(put.status, 201) << put.text;
  EXPECT_EQ(put.body["meters"][0]["meterRates"]["0"], "0.0123456789");
  EXPECT_EQ(put.body["meters"][0]["meterRates"]["100"], "0.01");
  EXPECT_EQ(put.body["meters"][0]["includedQuantity"], "10");
  EXPECT_EQ(PutCspPrices().status, 200);  // replaced: not locked yet

  Reply list = Send("GET", "/v1/priceSheets?offerType=CSP", "contoso-admin");
  ASSERT_EQ(list.status, 200) << list.text;
  ASSERT_EQ(list.body["value"].size(), 1u);
  EXPECT_EQ(list.body["value"][0]["effectiveDate"], "2026-01-01");
  EXPECT_EQ(list.body["value"][0]["owner"]["offerType"], "CSP");
  EXPECT_EQ(Send("GET", "/v1/priceSheets", "fabrikam-owner").code, "AuthorizationFailed");

  const std::string meter = R"({"meters":[{"meterId":")" + kVm.ToString() + "\",";
  struct Bad {
    std::string path;
    std::string body;
    std::string code;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"/v1/priceSheets/offers/CSP/USD/2026-1-1", meter + R"("meterRates":{"0":"1"}}]})",
            "InvalidEffectiveDate"},
           {"/v1/priceSheets/offers/CSP/XYZ/2026-01-01", meter + R"("meterRates":{"0":"1"}}]})",
            "UnsupportedCurrency"},
           {"/v1/priceSheets/offers/Gold/USD/2026-01-01", meter + R"("meterRates":{"0":"1"}}]})",
            "InvalidEnumValue"},
           {"/v1/priceSheets/offers/CSP/USD/2026-01-01", meter + R"("meterRates":{"0":-1}}]})",
            "InvalidPrice"},
           {"/v1/priceSheets/offers/CSP/USD/2026-01-01",
            meter + R"("meterRates":{"0":"0.00000000001"}}]})", "InvalidDecimal"},
           {"/v1/priceSheets/offers/CSP/USD/2026-01-01", meter + R"("meterRates":{}}]})",
            "MissingRequiredProperty"},
           {"/v1/priceSheets/offers/CSP/USD/2026-01-01",
            meter + R"("meterRates":{"0":"1"},"includedQuantity":"1","includedQuantity":"2"}]})",
            "InvalidRequestContent"},
           {"/v1/priceSheets/partners/nobody/USD/2026-01-01",
            meter + R"("meterRates":{"0":"1"}}]})", "PartnerNotFound"},
       }) {
    Reply reply = Send("PUT", bad.path, "admin", bad.body);
    EXPECT_EQ(reply.code, bad.code) << bad.path << " " << bad.body << " → " << reply.text;
  }
}

TEST_F(BillingRoutesTest, AClosedMonthIssuesInvoicesReadAsJsonAndCsvByTheBillToChainOnly) {
  WriteDecember();
  if (HasFatalFailure()) return;
  ASSERT_EQ(PutCspPrices().status, 201);

  Reply periods = Send("GET", "/v1/billingPeriods", "contoso-admin");
  ASSERT_EQ(periods.status, 200) << periods.text;
  ASSERT_EQ(periods.body["value"][0]["period"], "2026-12");
  EXPECT_EQ(periods.body["value"][0]["state"], "Open");
  EXPECT_EQ(periods.body["value"][0]["autoCloseAt"], "2027-01-04T00:00:00Z");

  // 150 hours: 10 included, then 100 at 0.0123456789 and 40 at 0.01 → 1.63456789 → 1.63.
  Reply estimate =
      Send("GET", "/v1/invoices/estimate?partnerId=contoso&period=2026-12", "contoso-admin");
  ASSERT_EQ(estimate.status, 200) << estimate.text;
  EXPECT_TRUE(estimate.body["number"].is_null());
  EXPECT_EQ(estimate.body["total"], "1.63");
  ASSERT_EQ(estimate.body["lines"].size(), 1u);
  EXPECT_EQ(estimate.body["lines"][0]["quantity"], "150");
  EXPECT_EQ(estimate.body["lines"][0]["tiers"][0]["amount"], "1.23456789");
  EXPECT_EQ(estimate.body["customers"][0]["subtotal"], "1.63");
  EXPECT_EQ(Send("GET", "/v1/invoices/estimate?partnerId=contoso", "fabrikam-owner").code,
            "InvoiceNotFound");
  EXPECT_EQ(Send("GET", "/v1/invoices/estimate", "contoso-admin").code, "MissingQueryParameter");

  // An adjustment (a JSON number, read exactly) goes on the close.
  EXPECT_EQ(Send("POST", "/v1/adjustments", "contoso-admin",
                 R"({"subscriptionId":")" + kFabrikamCsp.ToString() +
                     R"(","period":"2026-12","amount":-0.5,"currency":"USD","reason":"credit"})")
                .code,
            "AuthorizationFailed");
  // Its reason is text the invoice's JSON (written without a DOM) must
  // escape: quotes, a backslash, a newline, a tab, markup.
  const std::string reason = "credit \"goodwill\" \\ <img src=x onerror=alert(1)>\n\ttab";
  Reply adjusted = Send("POST", "/v1/adjustments", "admin",
                        R"({"subscriptionId":")" + kFabrikamCsp.ToString() +
                            R"(","period":"2026-12","amount":-0.5,"currency":"USD","reason":)" +
                            nlohmann::json(reason).dump() + "}");
  ASSERT_EQ(adjusted.status, 201) << adjusted.text;
  EXPECT_EQ(adjusted.body["amount"], "-0.50");

  EXPECT_EQ(Send("POST", "/v1/billingPeriods/2026-12/close", "contoso-admin").code,
            "AuthorizationFailed");
  EXPECT_EQ(Send("POST", "/v1/billingPeriods/2027-01/close", "admin").code, "PeriodNotEnded");
  Reply closed = Send("POST", "/v1/billingPeriods/2026-12/close", "admin");
  ASSERT_EQ(closed.status, 200) << closed.text;
  EXPECT_TRUE(closed.body["newlyClosed"].get<bool>());
  ASSERT_EQ(closed.body["invoices"].size(), 1u);
  const std::string number = closed.body["invoices"][0]["number"];
  EXPECT_EQ(number, "SB-2027-000001");
  EXPECT_EQ(closed.body["invoices"][0]["total"], "1.13");
  Reply again = Send("POST", "/v1/billingPeriods/2026-12/close", "admin");
  EXPECT_FALSE(again.body["newlyClosed"].get<bool>());
  EXPECT_EQ(again.body["invoices"], closed.body["invoices"]);

  Reply invoice = Send("GET", "/v1/invoices/" + number, "contoso-admin");
  ASSERT_EQ(invoice.status, 200) << invoice.text;
  EXPECT_EQ(invoice.body["total"], "1.13");
  ASSERT_EQ(invoice.body["lines"].size(), 2u);
  EXPECT_EQ(invoice.body["lines"][1]["flags"][0], "Adjustment");
  EXPECT_EQ(invoice.body["lines"][1]["description"], reason);
  EXPECT_TRUE(invoice.body["lines"][1]["meterId"].is_null());
  EXPECT_TRUE(invoice.body["lines"][1]["lateUsageMonth"].is_null());
  EXPECT_EQ(invoice.body["lines"][0]["lineNo"], 1);
  EXPECT_EQ(invoice.body["id"], closed.body["invoices"][0]["id"]);
  EXPECT_EQ(invoice.body["billTo"]["partnerId"], "contoso");
  EXPECT_EQ(invoice.body["lines"][0]["tenantId"], kTenant.ToString());
  Reply csv = Send("GET", "/v1/invoices/" + number + "?format=csv", "contoso-admin");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.text.substr(0, 28), "invoiceNumber,period,lineNo,");
  EXPECT_NE(csv.text.find(",1.63,USD,"), std::string::npos) << csv.text;
  EXPECT_NE(csv.text.find(",-0.50,USD,"), std::string::npos) << csv.text;

  // Reconciliation (SPEC §5): 150 hours over Dec 1–5 (36, 36, 36, 36, 6
  // hours' worth), 1.63 allocated by largest remainder; the adjustment is
  // one summary row; rows sum to the invoice.
  Reply rec = Send("GET", "/v1/invoices/" + number + "/reconciliation", "contoso-admin");
  ASSERT_EQ(rec.status, 200) << rec.text;
  EXPECT_EQ(rec.body["total"], "1.13");
  ASSERT_EQ(rec.body["rows"].size(), 6u) << rec.text;
  std::vector<std::string> amounts;
  for (const auto& row : rec.body["rows"]) amounts.push_back(row["amount"]);
  EXPECT_EQ(amounts, (std::vector<std::string>{"0.39", "0.39", "0.39", "0.39", "0.07", "-0.50"}));
  EXPECT_EQ(rec.body["rows"][0]["day"], "2026-12-01");
  EXPECT_EQ(rec.body["rows"][0]["quantity"], "36");
  EXPECT_EQ(rec.body["rows"][0]["cloudId"], kCloud1.ToString());
  EXPECT_EQ(rec.body["rows"][0]["resourceUri"], "/subscriptions/x/vm");
  EXPECT_EQ(rec.body["rows"][5]["flags"], (nlohmann::json{"Adjustment", "Summary"}));
  Reply rec_csv =
      Send("GET", "/v1/invoices/" + number + "/reconciliation?format=csv", "contoso-admin");
  ASSERT_EQ(rec_csv.status, 200);
  EXPECT_EQ(rec_csv.text.substr(0, 28), "invoiceNumber,period,lineNo,");
  EXPECT_NE(rec_csv.text.find(",2026-12-05,"), std::string::npos) << rec_csv.text;
  EXPECT_EQ(Send("GET", "/v1/invoices/" + number + "/reconciliation", "fabrikam-owner").code,
            "InvoiceNotFound");

  // R8: the customer, even as the subscription's Owner, and another partner
  // see nothing; the partner sees its invoice in the list.
  for (const char* outsider : {"fabrikam-owner", "northwind"}) {
    EXPECT_EQ(Send("GET", "/v1/invoices/" + number, outsider).code, "InvoiceNotFound");
    Reply list = Send("GET", "/v1/invoices", outsider);
    ASSERT_EQ(list.status, 200);
    EXPECT_TRUE(list.body["value"].empty()) << outsider;
  }
  Reply mine = Send("GET", "/v1/invoices?partnerId=contoso&period=2026-12", "contoso-admin");
  ASSERT_EQ(mine.body["value"].size(), 1u);
  EXPECT_EQ(mine.body["value"][0]["number"], number);
  // The sheet the close used is locked: the same prices again change
  // nothing, other prices are refused.
  Reply same = PutCspPrices();
  EXPECT_EQ(same.status, 200) << same.text;
  Reply other =
      Send("PUT", "/v1/priceSheets/offers/CSP/USD/2026-01-01", "admin",
           R"({"meters":[{"meterId":")" + kVm.ToString() + R"(","meterRates":{"0":"1"}}]})");
  EXPECT_EQ(other.code, "PriceSheetLocked") << other.text;
}

// SPEC §7 RateCard: Azure's $filter, PascalCase, exact JSON numbers, the
// partner's overrides in the list's place, visible to the bill-to chain only
// (R8).
std::string RateCardPath(Guid subscription, std::string_view offer,
                         std::string_view currency = "USD") {
  return "/subscriptions/" + subscription.ToString() +
         "/providers/Microsoft.Commerce/RateCard?api-version=2015-06-01-preview&$filter=" +
         "OfferDurableId%20eq%20%27" + std::string(offer) + "%27%20and%20Currency%20eq%20%27" +
         std::string(currency) +
         "%27%20and%20Locale%20eq%20%27en-US%27%20and%20RegionInfo%20eq%20%27US%27";
}

TEST_F(BillingRoutesTest, RateCardShowsThePricesInForceExactlyToTheBillToChainOnly) {
  ASSERT_EQ(PutCspPrices().status, 201);
  Reply card = Send("GET", RateCardPath(kFabrikamCsp, "MS-AZR-0145P"), "admin");
  ASSERT_EQ(card.status, 200) << card.text;
  // Exact numbers in the text itself: a double would print 0.012345678900000001.
  EXPECT_NE(card.text.find(R"("MeterRates":{"0":0.0123456789,"100":0.01})"), std::string::npos)
      << card.text;
  EXPECT_NE(card.text.find(R"("IncludedQuantity":10,)"), std::string::npos) << card.text;
  ASSERT_EQ(card.body["Meters"].size(), 1u);
  const nlohmann::json& meter = card.body["Meters"][0];
  EXPECT_EQ(meter["MeterId"], kVm.ToString());
  EXPECT_EQ(meter["MeterName"], "Base VM Size Hours");
  EXPECT_EQ(meter["EffectiveDate"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(card.body["Currency"], "USD");
  EXPECT_EQ(card.body["Locale"], "en-US");
  EXPECT_EQ(card.body["IsTaxIncluded"], false);
  EXPECT_TRUE(card.body["OfferTerms"].empty());

  // Contoso's override replaces the list price for its customers' CSP
  // subscriptions, not in another offer's list (here: none in PayAsYouGo).
  ASSERT_EQ(
      Send("PUT", "/v1/priceSheets/partners/contoso/USD/2026-06-01", "admin",
           R"({"meters":[{"meterId":")" + kVm.ToString() + R"(","meterRates":{"0":"0.009"}}]})")
          .status,
      201);
  Reply partner = Send("GET", RateCardPath(kFabrikamCsp, "ms-azr-0145p"), "contoso-admin");
  ASSERT_EQ(partner.status, 200) << partner.text;
  EXPECT_NE(partner.text.find(R"("MeterRates":{"0":0.009})"), std::string::npos) << partner.text;
  EXPECT_EQ(partner.body["Meters"][0]["EffectiveDate"], "2026-06-01T00:00:00Z");
  EXPECT_EQ(partner.body["Meters"][0]["IncludedQuantity"], 0);
  Reply payg_list = Send("GET", RateCardPath(kFabrikamCsp, "MS-AZR-0003P"), "contoso-admin");
  ASSERT_EQ(payg_list.status, 200) << payg_list.text;
  EXPECT_TRUE(payg_list.body["Meters"].empty());

  // R8: the customer (even as the subscription's Owner) and another partner
  // see nothing; a direct-billed subscription's Owner sees its own.
  EXPECT_EQ(Send("GET", RateCardPath(kFabrikamCsp, "MS-AZR-0145P"), "fabrikam-owner").code,
            "BillingDataNotVisible");
  EXPECT_EQ(Send("GET", RateCardPath(kFabrikamCsp, "MS-AZR-0145P"), "northwind").code,
            "SubscriptionNotFound");
  EXPECT_EQ(Send("GET", RateCardPath(kPayg, "MS-AZR-0145P"), "payg-owner").status, 200);

  const std::string base = "/subscriptions/" + kFabrikamCsp.ToString() +
                           "/providers/Microsoft.Commerce/RateCard?api-version=2015-06-01-preview";
  struct Bad {
    std::string target;
    std::string code;
  };
  for (const Bad& bad : std::vector<Bad>{
           {base, "InvalidFilter"},
           {base + "&$filter=Currency%20eq%20%27USD%27", "InvalidFilter"},
           {RateCardPath(kFabrikamCsp, "MS-AZR-9999P"), "InvalidFilter"},
           {RateCardPath(kFabrikamCsp, "MS-AZR-0145P", "XYZ"), "UnsupportedCurrency"},
           {base + "&$filter=OfferDurableId%20ne%20%27MS-AZR-0145P%27", "InvalidFilter"},
           {base + "&$filter=OfferDurableId%20eq%20%27MS-AZR-0145P%27%20or%20Currency%20eq%20%"
                   "27USD%27",
            "InvalidFilter"},
           {base + "&$filter=OfferDurableId%20eq%20%27MS-AZR-0145P", "InvalidFilter"},
           {"/subscriptions/" + kFabrikamCsp.ToString() +
                "/providers/Microsoft.Commerce/RateCard?api-version=2020-01-01",
            "InvalidApiVersionParameter"},
       }) {
    Reply reply = Send("GET", bad.target, "admin");
    EXPECT_EQ(reply.status, 400) << bad.target;
    EXPECT_EQ(reply.code, bad.code) << bad.target << " → " << reply.text;
  }
}

// SPEC §5 re-billing and the per-period export: a partner's customer price
// sheet (a markup over the list, or explicit prices) and its customers'
// statements, readable only by that partner and PlatformAdmins; the export
// of a closed period, stable, refused while the period is open.
TEST_F(BillingRoutesTest, CustomerStatementsRateAtThePartnersPricesAndClosedPeriodsExport) {
  WriteDecember();
  if (HasFatalFailure()) return;
  ASSERT_EQ(PutCspPrices().status, 201);
  const std::string sheet = "/v1/priceSheets/customers/contoso/USD/2026-01-01";
  const std::string statements = "/v1/statements?partnerId=contoso&period=2026-12";

  // No customer sheet: the list prices (as the invoice: 1.63).
  Reply listed = Send("GET", statements, "contoso-admin");
  ASSERT_EQ(listed.status, 200) << listed.text;
  ASSERT_EQ(listed.body["value"].size(), 1u);
  EXPECT_EQ(listed.body["value"][0]["customerId"], kTenant.ToString());
  EXPECT_EQ(listed.body["value"][0]["total"], "1.63");
  EXPECT_TRUE(listed.body["value"][0]["priceSheet"].is_null());

  // A markup that would need more than 10 fractional digits is refused when
  // rated, never rounded: 0.0123456789 × 1.1.
  ASSERT_EQ(Send("PUT", sheet, "contoso-admin", R"({"markup":"0.1"})").status, 201);
  EXPECT_EQ(Send("GET", statements, "contoso-admin").code, "InexactMarkup");
  // × 3: 100 × 0.0370370367 + 40 × 0.03 = 4.90370367 → 4.90.
  Reply put = Send("PUT", sheet, "contoso-admin", R"({"markup":2})");
  ASSERT_EQ(put.status, 200) << put.text;
  EXPECT_EQ(put.body["markup"], "2");
  EXPECT_EQ(put.body["owner"]["customersOf"], "contoso");
  Reply marked = Send("GET", statements, "contoso-admin");
  ASSERT_EQ(marked.status, 200) << marked.text;
  const nlohmann::json& st = marked.body["value"][0];
  EXPECT_EQ(st["total"], "4.90");
  EXPECT_EQ(st["periodState"], "Open");
  EXPECT_EQ(st["priceSheet"]["effectiveDate"], "2026-01-01");
  EXPECT_EQ(st["lines"][0]["includedQuantity"], "10");
  EXPECT_EQ(st["lines"][0]["tiers"][0]["unitPrice"], "0.0370370367");
  // Explicit prices win over the markup: 150 × 0.02 = 3.00.
  ASSERT_EQ(Send("PUT", sheet, "admin",
                 R"({"markup":"2","meters":[{"meterId":")" + kVm.ToString() +
                     R"(","meterRates":{"0":"0.02"}}]})")
                .status,
            200);
  Reply csv = Send("GET", statements + "&format=csv", "contoso-admin");
  ASSERT_EQ(csv.status, 200) << csv.text;
  EXPECT_EQ(csv.text.substr(0, 24), "partnerId,period,lineNo,");
  EXPECT_NE(csv.text.find(",3.00,USD,"), std::string::npos) << csv.text;
  // Only the partner and PlatformAdmins; the customer finds nothing.
  EXPECT_EQ(Send("GET", statements, "admin").status, 200);
  EXPECT_EQ(Send("GET", statements, "fabrikam-owner").code, "PartnerNotFound");
  EXPECT_EQ(Send("PUT", sheet, "fabrikam-owner", R"({"markup":"0"})").code, "PartnerNotFound");
  EXPECT_EQ(Send("GET", "/v1/priceSheets?customersOf=contoso", "fabrikam-owner").code,
            "AuthorizationFailed");
  EXPECT_EQ(Send("GET", "/v1/statements", "contoso-admin").code, "MissingQueryParameter");
  EXPECT_EQ(Send("PUT", "/v1/priceSheets/partners/contoso/USD/2026-01-01", "admin",
                 R"({"markup":"1","meters":[]})")
                .code,
            "InvalidRequestContent");

  // The export: refused while open; after the close, the invoice's lines.
  EXPECT_EQ(Send("GET", "/v1/billingPeriods/2026-12/export", "contoso-admin").code,
            "PeriodNotClosed");
  ASSERT_EQ(Send("POST", "/v1/billingPeriods/2026-12/close", "admin").status, 200);
  Reply exported = Send("GET", "/v1/billingPeriods/2026-12/export", "contoso-admin");
  ASSERT_EQ(exported.status, 200) << exported.text;
  ASSERT_EQ(exported.body["invoices"].size(), 1u);
  EXPECT_EQ(exported.body["invoices"][0]["number"], "SB-2027-000001");
  EXPECT_EQ(exported.body["invoices"][0]["total"], "1.63");
  Reply exported_csv = Send("GET", "/v1/billingPeriods/2026-12/export?format=csv&partnerId=contoso",
                            "contoso-admin");
  ASSERT_EQ(exported_csv.status, 200);
  EXPECT_EQ(exported_csv.text.substr(0, 53),
            "invoiceNumber,invoiceId,period,issuedAt,billTo,lineNo");
  EXPECT_NE(exported_csv.text.find("SB-2027-000001,"), std::string::npos);
  EXPECT_EQ(
      Send("GET", "/v1/billingPeriods/2026-12/export?format=csv&partnerId=contoso", "contoso-admin")
          .text,
      exported_csv.text);  // stable
  EXPECT_EQ(Send("GET", "/v1/billingPeriods/2026-12/export", "fabrikam-owner").code,
            "AuthorizationFailed");
  // Another partner's export holds none of Contoso's invoices; nor do its
  // statements or customer prices show Contoso's.
  Reply other = Send("GET", "/v1/billingPeriods/2026-12/export", "northwind");
  ASSERT_EQ(other.status, 200) << other.text;
  EXPECT_TRUE(other.body["invoices"].empty()) << other.text;
  EXPECT_EQ(Send("GET", statements, "northwind").code, "PartnerNotFound");
  Reply sheets = Send("GET", "/v1/priceSheets?customersOf=contoso", "northwind");
  ASSERT_EQ(sheets.status, 200) << sheets.text;
  EXPECT_TRUE(sheets.body["value"].empty()) << sheets.text;
  // The close locked the customer sheet in force: the closed month's
  // statements keep their prices.
  EXPECT_EQ(Send("PUT", sheet, "contoso-admin", R"({"markup":"1"})").code, "PriceSheetLocked");
  Reply after = Send("GET", statements, "contoso-admin");
  ASSERT_EQ(after.status, 200) << after.text;
  EXPECT_EQ(after.body["value"][0]["periodState"], "Closed");
  EXPECT_EQ(after.body["value"][0]["total"], "3.00");
}

}  // namespace
}  // namespace stackbill
