// The CPU cost of ingesting one usage body before any I/O (SPEC §4): parse
// (UsageBodyParser), then the history-free checks (ValidateUsageFields), then
// tenant and routing against an in-memory history (ResolveTenant, Route) —
// the steps of IngestService::Prepare up to the store. Every benchmark
// reports items (records) and bytes per second of one core.
//
// The body is built once: 50 resources × 4 meters × 50 hours = 10,000
// hourly records from 10 stack-local subscriptions, with instanceData's
// Microsoft.Resources (resourceUri, location, tags, additionalInfo). Half the
// records carry their tenantId; the other half rely on the stack subscriber
// mapping. Tenant A has a customer subscription on the stack and tenant B
// does not, so both of Route's main branches are taken.

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/entities.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/meter_catalogue.h"
#include "core/routing.h"
#include "core/testing/history_builder.h"
#include "core/time.h"
#include "core/usage_validation.h"
#include "wire/usage_parser.h"

namespace stackbill {
namespace {

using testing::HistoryBuilder;
using testing::Nov;
using testing::RegName;
using testing::RegVersion;
using testing::TestGuid;

constexpr int kResources = 50;
constexpr int kHours = 50;
constexpr int kLocalSubscriptions = 10;
constexpr std::array<std::string_view, 4> kMeters = {
    "FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5",  // Base VM Size Hours
    "6DAB500F-A4FD-49C4-956D-229BB9C8C793",  // VM size hours
    "B5C15376-6C94-4FDD-B655-1A69D138ACA3",  // PageBlobCapacity
    "3023FEF4-ECA5-4D7B-87B3-CFBC061931E8",  // BlobDataTransOut
};
constexpr std::array<std::string_view, 4> kQuantities = {"2.0000000000", "1", "127.5000000000",
                                                         "0.0123456789"};

constexpr Guid kCloud = TestGuid(0xc1, 1);
constexpr Guid kTenantA = TestGuid(0xd0, 0xa);  // has a customer subscription on the stack
constexpr Guid kTenantB = TestGuid(0xd0, 0xb);  // does not: routed to the default subscription
constexpr Guid kDefaultApss = TestGuid(0x50, 3);
constexpr Guid kCspA = TestGuid(0x50, 0xa);
constexpr Guid kCspB = TestGuid(0x50, 0xb);
constexpr char kPartner[] = "adatum";

Guid LocalSubscription(int n) { return TestGuid(0x5a, static_cast<std::uint16_t>(n)); }
Guid TenantOf(int local_subscription) { return local_subscription < 5 ? kTenantA : kTenantB; }

// One partner with an APSS default subscription and two customers' CSP
// subscriptions; the stack, registered multi-tenant (PayAsYouUse) since
// October; tenant A's customer subscription; the stack subscribers.
History BuildHistory() {
  const RegistrationName name = RegName(kDefaultApss);
  const Timestamp since = Timestamp::FromCivil(CivilTime{2026, 10, 1, 0, 0, 0, 0});
  HistoryBuilder b;
  b.AddPartner(kPartner, PartnerKind::kDirect)
      .AddSubscription(kDefaultApss, OfferType::kApss, TestGuid(0xd0, 3), kPartner)
      .AddSubscription(kCspA, OfferType::kCsp, kTenantA, kPartner)
      .AddSubscription(kCspB, OfferType::kCsp, kTenantB, kPartner)
      .AddRegistration(RegVersion(name, kCloud, since))
      .AddCustomerSubscription(name, kCloud, kCspA, kTenantA, since);
  for (int s = 0; s < kLocalSubscriptions; ++s) {
    b.AddSubscriber(kCloud, LocalSubscription(s), TenantOf(s), since);
  }
  History history = b.Build();
  Stack stack;
  stack.cloud_id = kCloud;
  stack.deployment_directory_id = TestGuid(0xd0, 3);
  stack.multi_tenant = true;
  history.stacks.push_back(stack);
  return history;
}

enum class InstanceDataForm { kObject, kString };

// `text` as a JSON string literal (the string form of instanceData).
std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

struct Body {
  std::vector<std::string> records;  // one record's JSON each
  std::string ndjson;
  std::string page;  // {"value":[{"id","name","type","properties":record}…]}
};

Body BuildBody(InstanceDataForm form) {
  Body body;
  int n = 0;
  for (int hour = 0; hour < kHours; ++hour) {
    const std::string start = Nov(1).AddHours(hour).ToString();
    const std::string end = Nov(1).AddHours(hour + 1).ToString();
    for (int resource = 0; resource < kResources; ++resource) {
      const int local = resource % kLocalSubscriptions;
      const std::string subscription = LocalSubscription(local).ToString();
      const std::string uri = fmt::format(
          "/subscriptions/{}/resourceGroups/rg{}/providers/Microsoft.Compute/virtualMachines/vm{}",
          subscription, resource % 3, resource);
      const std::string instance_data = fmt::format(
          R"({{"Microsoft.Resources":{{"resourceUri":"{}","location":"local",)"
          R"("tags":{{"env":"prod","owner":"team-{}"}},)"
          R"("additionalInfo":{{"ServiceType":"Standard_D2_v2","ImageType":"Windows_Server"}}}}}})",
          uri, resource % 7);
      for (std::size_t m = 0; m < kMeters.size(); ++m, ++n) {
        std::string record = fmt::format(R"({{"id":"{}-{}-{}",)", resource, kMeters[m], hour);
        if (resource % 2 == 0) {
          record += fmt::format(R"("tenantId":"{}",)", TenantOf(local).ToString());
        }
        record += fmt::format(
            R"("subscriptionId":"{}","meterId":"{}","quantity":{},)"
            R"("usageStartTime":"{}","usageEndTime":"{}","instanceData":{}}})",
            subscription, kMeters[m], kQuantities[m], start, end,
            form == InstanceDataForm::kObject ? instance_data : JsonString(instance_data));
        body.records.push_back(std::move(record));
      }
    }
  }
  body.page = R"({"value":[)";
  for (std::size_t i = 0; i < body.records.size(); ++i) {
    body.ndjson += body.records[i];
    body.ndjson += '\n';
    if (i > 0) body.page += ',';
    body.page +=
        fmt::format(R"({{"id":"/subscriptions/{}/providers/Microsoft.Commerce/UsageAggregates/{}",)"
                    R"("name":"{}","type":"Microsoft.Commerce/UsageAggregate","properties":{}}})",
                    kDefaultApss.ToString(), i, i, body.records[i]);
  }
  body.page += "]}";
  return body;
}

// What every benchmark shares, built once.
struct World {
  Body object_body = BuildBody(InstanceDataForm::kObject);
  Body string_body = BuildBody(InstanceDataForm::kString);
  History history = BuildHistory();
  HistoryView view{history};
  MeterCatalogue catalogue;
  MeterKnown meter_known = [this](const Guid& id) { return catalogue.Find(id) != nullptr; };
  Timestamp now = Nov(5);
  UsageValidationOptions options;

  World() {
    std::vector<std::string> skipped;
    catalogue = MeterCatalogue::BuiltIn(skipped).value();
  }
};

const World& TheWorld() {
  static const World world;
  return world;
}

// The records of one body through the steps up to `depth`; the number that
// made it through every step (all of them, for these bodies).
enum class Depth { kParse, kValidate, kRoute };

std::size_t Ingest(UsageBodyParser& parser, const World& world, std::string_view body,
                   UsageBodyFormat format, Depth depth) {
  absl::StatusOr<std::vector<ParsedUsageRecord>> records = parser.Parse(body, format);
  if (!records.ok()) return 0;
  std::size_t ok = 0;
  for (const ParsedUsageRecord& record : *records) {
    if (!record.malformed.empty()) continue;
    if (depth == Depth::kParse) {
      ++ok;
      continue;
    }
    absl::StatusOr<ValidatedUsage> usage =
        ValidateUsageFields(record.fields, kCloud, world.meter_known, world.now, world.options);
    if (!usage.ok()) continue;
    if (depth == Depth::kValidate) {
      ++ok;
      continue;
    }
    absl::StatusOr<Guid> tenant = ResolveTenant(world.view, kCloud, usage->local_subscription_id,
                                                usage->tenant_id, usage->usage_start);
    if (!tenant.ok()) continue;
    absl::StatusOr<Routing> routing = Route(world.view, kCloud, *tenant, usage->usage_start);
    if (!routing.ok()) continue;
    benchmark::DoNotOptimize(routing->billed_subscription_id);
    ++ok;
  }
  return ok;
}

void Run(benchmark::State& state, const Body& body, UsageBodyFormat format, Depth depth) {
  const World& world = TheWorld();
  const std::string& text = format == UsageBodyFormat::kNdjson ? body.ndjson : body.page;
  UsageBodyParser parser;
  // Every record must get through, or the figure would measure failures.
  if (const std::size_t ok = Ingest(parser, world, text, format, depth);
      ok != body.records.size()) {
    state.SkipWithError(
        fmt::format("{} of {} records got through", ok, body.records.size()).c_str());
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(Ingest(parser, world, text, format, depth));
  }
  const auto records = static_cast<std::int64_t>(body.records.size());
  state.SetItemsProcessed(state.iterations() * records);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
  state.counters["records"] = static_cast<double>(records);
}

void BM_ParseNdjson(benchmark::State& state) {
  Run(state, TheWorld().object_body, UsageBodyFormat::kNdjson, Depth::kParse);
}
BENCHMARK(BM_ParseNdjson)->Unit(benchmark::kMillisecond);

void BM_ParseNdjsonStringInstanceData(benchmark::State& state) {
  Run(state, TheWorld().string_body, UsageBodyFormat::kNdjson, Depth::kParse);
}
BENCHMARK(BM_ParseNdjsonStringInstanceData)->Unit(benchmark::kMillisecond);

void BM_ParseValidate(benchmark::State& state) {
  Run(state, TheWorld().object_body, UsageBodyFormat::kNdjson, Depth::kValidate);
}
BENCHMARK(BM_ParseValidate)->Unit(benchmark::kMillisecond);

void BM_ParseValidateRoute(benchmark::State& state) {
  Run(state, TheWorld().object_body, UsageBodyFormat::kNdjson, Depth::kRoute);
}
BENCHMARK(BM_ParseValidateRoute)->Unit(benchmark::kMillisecond);

// application/json: the same records as Azure usage page items.
void BM_ParseUsagePage(benchmark::State& state) {
  Run(state, TheWorld().object_body, UsageBodyFormat::kUsagePage, Depth::kParse);
}
BENCHMARK(BM_ParseUsagePage)->Unit(benchmark::kMillisecond);

// Azure's own page shape: instanceData as a JSON string.
void BM_ParseUsagePageStringInstanceData(benchmark::State& state) {
  Run(state, TheWorld().string_body, UsageBodyFormat::kUsagePage, Depth::kParse);
}
BENCHMARK(BM_ParseUsagePageStringInstanceData)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace stackbill
