#include "cli/simulate.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "cli/world_file.h"

namespace stackbill {
namespace {

// Two subscribers of one stack, the first with its own number of VMs.
constexpr std::string_view kWorld = R"({
  "world": "sim",
  "partners": [{"id": "p", "name": "Provider", "kind": "direct", "billingCurrency": "USD"}],
  "directories": [
    {"displayName": "Provider", "domains": ["p.onmicrosoft.com"], "ownerPartner": "p"},
    {"displayName": "A", "domains": ["a.onmicrosoft.com"]},
    {"displayName": "B", "domains": ["b.onmicrosoft.com"]}
  ],
  "subscriptions": [
    {"displayName": "ops", "offerType": "APSS", "directory": "p.onmicrosoft.com", "partner": "p"}
  ],
  "principals": [],
  "stacks": [
    {"name": "s", "deploymentDirectory": "p.onmicrosoft.com", "billingModel": "PayAsYouUse",
     "multiTenant": true, "subscribers": [{"name": "a", "tenant": "a.onmicrosoft.com", "vms": 40},
                                          {"name": "b", "tenant": "b.onmicrosoft.com"}]}
  ],
  "registrations": [{"name": "reg", "resourceGroup": "rg", "stack": "s", "subscription": "ops"}]
})";

TEST(SimulateTest, ASubscribersOwnVmCountReplacesTheDefault) {
  auto world = ParseWorld(kWorld);
  ASSERT_TRUE(world.ok()) << world.status();
  const SimulationOptions options{.from = *Timestamp::Parse("2026-11-02T00:00:00Z"),
                                  .to = *Timestamp::Parse("2026-11-03T00:00:00Z"),
                                  .seed = 3,
                                  .vms_per_subscription = 1,
                                  .stack = ""};
  // Lines per stack-local subscription: each record names its resource's.
  std::map<std::string, int> lines;
  const SimulationSink sink = [&](const WorldStack& stack, Timestamp, std::string_view text) {
    for (const WorldSubscriber& s : stack.subscribers) {
      const std::string needle = "/subscriptions/" + s.local_subscription_id.ToString() + "/";
      for (auto at = text.find(needle); at != std::string_view::npos;
           at = text.find(needle, at + 1)) {
        ++lines[s.name];
      }
    }
    return absl::OkStatus();
  };
  auto summary = Simulate(*world, options, sink);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(lines["a"] + lines["b"], summary->records);
  // b has one VM and a storage account; a has forty VMs and one.
  EXPECT_GT(lines["b"], 0);
  EXPECT_GT(lines["a"], 10 * lines["b"]);
}

}  // namespace
}  // namespace stackbill
