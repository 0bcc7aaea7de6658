#include "cli/world_file.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/error.h"

namespace stackbill {
namespace {

// A small valid world; tests break one thing in it at a time.
constexpr std::string_view kWorld = R"({
  "world": "t",
  "partners": [
    {"id": "p", "name": "Provider", "kind": "indirectProvider", "billingCurrency": "USD"},
    {"id": "r", "name": "Reseller", "kind": "indirectReseller", "parent": "p", "billingCurrency": "USD"}
  ],
  "directories": [
    {"displayName": "Reseller", "domains": ["R.onmicrosoft.com"], "ownerPartner": "r"},
    {"displayName": "Customer", "domains": ["c.onmicrosoft.com"],
     "id": "2AD9D0F7D8A04F3B8B1F2C3D4E5F6A7B"}
  ],
  "subscriptions": [
    {"displayName": "ops", "offerType": "CSP", "directory": "r.onmicrosoft.com", "partner": "r"},
    {"displayName": "cust", "offerType": "CSP", "directory": "c.onmicrosoft.com", "partner": "r"}
  ],
  "principals": [
    {"name": "op@r.onmicrosoft.com", "directory": "r.onmicrosoft.com", "token": true,
     "roles": [{"role": "Owner", "subscription": "ops"}, {"role": "PartnerAdmin", "partner": "r"}]}
  ],
  "stacks": [
    {"name": "s", "deploymentDirectory": "r.onmicrosoft.com", "billingModel": "PayAsYouUse",
     "multiTenant": true, "subscribers": [{"name": "vm", "tenant": "c.onmicrosoft.com"}]}
  ],
  "registrations": [
    {"name": "reg", "resourceGroup": "rg", "stack": "s", "subscription": "ops",
     "registeredBy": "op@r.onmicrosoft.com", "customerSubscriptions": [{"subscription": "cust"}]}
  ],
  "priceSheets": [{"offerType": "CSP", "currency": "USD", "effectiveDate": "2026-01-01",
                   "meters": [{"meterId": "fab6eb84-500b-4a09-a8ca-7358f8bbaea5",
                               "meterRates": {"0": "0.008", "1000": "0.006"},
                               "includedQuantity": "0"}]}]
})";

std::string Replace(std::string_view from, std::string_view to) {
  std::string text(kWorld);
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

void ExpectFault(const std::string& text, std::string_view path) {
  auto world = ParseWorld(text);
  ASSERT_FALSE(world.ok()) << "accepted, expected a fault at " << path;
  EXPECT_EQ(world.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(world.status()), "InvalidWorldFile");
  EXPECT_TRUE(Message(world.status()).starts_with(std::string(path) + ":"))
      << Message(world.status());
}

TEST(WorldFileTest, ParsesAndResolvesEveryReference) {
  auto world = ParseWorld(kWorld);
  ASSERT_TRUE(world.ok()) << world.status();
  EXPECT_EQ(world->name, "t");
  ASSERT_EQ(world->partners.size(), 2u);
  EXPECT_EQ(world->partners[1].parent_partner_id, "p");
  ASSERT_EQ(world->directories.size(), 2u);
  EXPECT_EQ(world->directories[0].domains.front(), "r.onmicrosoft.com");  // lower-cased
  EXPECT_EQ(world->directories[1].id.ToString(), "2ad9d0f7-d8a0-4f3b-8b1f-2c3d4e5f6a7b");
  EXPECT_EQ(world->subscriptions[1].directory_id, world->directories[1].id);
  ASSERT_EQ(world->principals[0].roles.size(), 2u);
  EXPECT_EQ(world->principals[0].roles[0].scope,
            "/subscriptions/" + world->subscriptions[0].id.ToString());
  EXPECT_EQ(world->principals[0].roles[1].scope, "/partners/r");
  ASSERT_EQ(world->registrations.size(), 1u);
  EXPECT_EQ(world->registrations[0].subscription_id, world->subscriptions[0].id);
  ASSERT_EQ(world->registrations[0].customer_subscriptions.size(), 1u);
  EXPECT_EQ(world->registrations[0].customer_subscriptions[0].tenant_id,
            world->directories[1].id);  // R6: the subscription's own directory
  EXPECT_EQ(world->stacks[0].subscribers[0].tenant_id, world->directories[1].id);
  ASSERT_EQ(world->price_sheets.size(), 1u);
  EXPECT_EQ(world->price_sheets[0].offer, OfferType::kCsp);
  EXPECT_EQ(world->price_sheets[0].effective_date, "2026-01-01");
  EXPECT_EQ(world->stacks[0].subscribers[0].vms, std::nullopt);  // simulate's --vms
}

TEST(WorldFileTest, PriceSheetDecimalsAreStringsAndTheOwnerIsNamedOnce) {
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"("0.008")", "0.008"},
           {R"({"offerType": "CSP", "currency")",
            R"({"offerType": "CSP", "partner": "r", "currency")"},
           {R"({"offerType": "CSP", "currency")", R"({"partner": "nobody", "currency")"},
           {R"({"offerType": "CSP", "currency")", R"({"offerType": "Gold", "currency")"},
           {R"("includedQuantity": "0")", R"("includedQuantity": "0", "extra": 1)"},
       }) {
    auto world = ParseWorld(Replace(from, to));
    EXPECT_EQ(ErrorCode(world.status()), "InvalidWorldFile") << to << ": " << world.status();
  }
  auto partner =
      ParseWorld(Replace(R"({"offerType": "CSP", "currency")", R"({"partner": "r", "currency")"));
  ASSERT_TRUE(partner.ok()) << partner.status();
  EXPECT_EQ(partner->price_sheets[0].partner, "r");
  EXPECT_EQ(partner->price_sheets[0].meters[0]["meterRates"]["1000"], "0.006");
}

TEST(WorldFileTest, ASubscriberMayNameItsOwnNumberOfVms) {
  auto world = ParseWorld(Replace(R"({"name": "vm", "tenant": "c.onmicrosoft.com"})",
                                  R"({"name": "vm", "tenant": "c.onmicrosoft.com", "vms": 50})"));
  ASSERT_TRUE(world.ok()) << world.status();
  EXPECT_EQ(world->stacks[0].subscribers[0].vms, 50);
  // None: a storage account only (bench/big_world.sh's idle customers).
  auto idle = ParseWorld(Replace(R"({"name": "vm", "tenant": "c.onmicrosoft.com"})",
                                 R"({"name": "vm", "tenant": "c.onmicrosoft.com", "vms": 0})"));
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->stacks[0].subscribers[0].vms, 0);
  for (std::string_view bad : {"-1", "2.5", "\"many\""}) {
    ExpectFault(Replace(R"({"name": "vm", "tenant": "c.onmicrosoft.com"})",
                        std::string(R"({"name": "vm", "tenant": "c.onmicrosoft.com", "vms": )") +
                            std::string(bad) + "}"),
                "stacks[0].subscribers[0].vms");
  }
}

TEST(WorldFileTest, LeftOutGuidsAreDerivedTheSameWayEveryTime) {
  auto first = ParseWorld(kWorld);
  auto second = ParseWorld(kWorld);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->stacks[0].cloud_id, second->stacks[0].cloud_id);
  EXPECT_EQ(first->subscriptions[0].id, second->subscriptions[0].id);
  EXPECT_NE(first->subscriptions[0].id, first->subscriptions[1].id);
  EXPECT_EQ(first->stacks[0].cloud_id, DerivedGuid("t", "stack", "s"));
  EXPECT_NE(DerivedGuid("t", "stack", "s"), DerivedGuid("u", "stack", "s"));
  EXPECT_EQ(first->stacks[0].cloud_id.ToString()[14], '8');  // version 8
}

TEST(WorldFileTest, BadInputIsRefusedNamingThePathInTheFile) {
  ExpectFault(Replace(R"("kind": "indirectReseller")", R"("kind": "wholesaler")"),
              "partners[1].kind");
  ExpectFault(Replace(R"("parent": "p")", R"("parent": "nobody")"), "partners[1].parent");
  ExpectFault(Replace(R"("billingCurrency": "USD"})", R"("billingCurrency": "usd"})"),
              "partners[0].billingCurrency");
  ExpectFault(Replace(R"("domains": ["c.onmicrosoft.com"])", R"("domains": [])"),
              "directories[1].domains");
  ExpectFault(Replace(R"("id": "2AD9D0F7D8A04F3B8B1F2C3D4E5F6A7B")", R"("id": "nope")"),
              "directories[1].id");
  ExpectFault(Replace(R"("directory": "c.onmicrosoft.com")", R"("directory": "x.example")"),
              "subscriptions[1].directory");
  ExpectFault(Replace(R"("offerType": "CSP", "directory": "c.onmicrosoft.com", "partner": "r")",
                      R"("offerType": "CSP", "directory": "c.onmicrosoft.com")"),
              "subscriptions[1].partner");
  ExpectFault(Replace(R"({"role": "PartnerAdmin", "partner": "r"})", R"({"role": "Boss"})"),
              "principals[0].roles[1].role");
  ExpectFault(Replace(R"("subscription": "ops"},)", R"("subscription": "opz"},)"),
              "principals[0].roles[0].subscription");
  ExpectFault(Replace(R"("multiTenant": true)", R"("multiTenant": "yes")"),
              "stacks[0].multiTenant");
  ExpectFault(Replace(R"("billingModel": "PayAsYouUse")", R"("billingModel": "Capacity")"),
              "stacks[0].agreementNumber");
  ExpectFault(Replace(R"("stack": "s")", R"("stack": "t")"), "registrations[0].stack");
  ExpectFault(Replace(R"({"subscription": "cust"})", R"({"subscription": "cust", "x": 1})"),
              "registrations[0].customerSubscriptions[0].x");
  ExpectFault(Replace(R"("registeredBy": "op@r.onmicrosoft.com")",
                      R"("registeredBy": "who@r.onmicrosoft.com")"),
              "registrations[0].registeredBy");
  ExpectFault(Replace(R"("world": "t")", R"("world": "t", "tenants": [])"), "tenants");
}

TEST(WorldFileTest, DuplicatesAreRefused) {
  ExpectFault(Replace(R"("domains": ["c.onmicrosoft.com"])", R"("domains": ["r.onmicrosoft.com"])"),
              "directories[1].domains[0]");
  ExpectFault(Replace(R"("displayName": "cust")", R"("displayName": "ops")"),
              "subscriptions[1].displayName");
}

TEST(WorldFileTest, TextThatIsNotJsonSaysWhere) {
  auto world = ParseWorld("{\"partners\": [");
  ASSERT_FALSE(world.ok());
  EXPECT_EQ(ErrorCode(world.status()), "InvalidWorldFile");
  EXPECT_NE(Message(world.status()).find("byte"), std::string::npos);
}

TEST(WorldFileTest, TheDemoWorldIsValid) {
  const char* source = std::getenv("STACKBILL_SOURCE_DIR");
  const std::string root = source != nullptr ? source : ".";
  auto world = LoadWorld(root + "/data/worlds/demo.json");
  ASSERT_TRUE(world.ok()) << world.status();
  EXPECT_EQ(world->registrations.size(), 3u);
  EXPECT_EQ(world->stacks.size(), 3u);
}

}  // namespace
}  // namespace stackbill
