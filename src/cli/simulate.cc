#include "cli/simulate.h"

#include <fmt/format.h>

#include <array>
#include <iterator>
#include <limits>

#include "core/error.h"
#include "core/routing.h"
#include "core/status_macros.h"

namespace stackbill {
namespace {

// Real Azure Stack meters (data/meters/azure-stack-meters.csv).
constexpr std::string_view kBaseVmHours = "FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5";
constexpr std::string_view kWindowsVmHours = "9CD92D4C-BAFD-4492-B278-BEDC2DE8232A";
constexpr std::string_view kVmSizeHours = "6DAB500F-A4FD-49C4-956D-229BB9C8C793";
constexpr std::string_view kDynamicIp = "9E2739BA86744796B465F64674B822BA";
constexpr std::string_view kStandardDiskS10 = "d5f7731b-f639-404a-89d0-e46186e22c8d";
constexpr std::string_view kPremiumDiskP10 = "e554b6bc-96cd-4938-a5b5-0da990278519";
constexpr std::string_view kBlockBlobCapacity = "09F8879E-87E9-4305-A572-4B7BE209F857";
constexpr std::string_view kBlobTransactions = "43DAF82B-4618-444A-B994-40C23F7CD438";

struct VmSize {
  std::string_view name;
  std::int64_t cores;
};
constexpr std::array<VmSize, 4> kVmSizes = {
    {{"Standard_A1_v2", 1}, {"Standard_D2_v2", 2}, {"Standard_D4_v2", 4}, {"Standard_D8s_v3", 8}}};

// One disk-hour of a managed disk, in Azure Stack's "Count of Disks*month"
// (a 30-day month), to the 10 fractional digits a quantity carries.
constexpr std::int64_t kDiskMonthPerHourRaw = 13888889;  // 0.0013888889

constexpr std::int64_t kRawPerUnit = 10'000'000'000;  // Quantity's 10^-10 units

// splitmix64's finaliser: every choice is a pure function of its inputs.
constexpr std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
constexpr std::uint64_t Mix(std::uint64_t a, std::uint64_t b) { return Mix(Mix(a) ^ b); }

enum class Schedule { kAlwaysOn, kBusinessHours, kBatch };

struct Vm {
  int index = 0;
  const VmSize* size = nullptr;
  bool windows = false;
  bool premium_disk = false;
  Schedule schedule = Schedule::kAlwaysOn;
  std::int64_t created = 0;  // first hour it exists (window hours)
  std::int64_t deleted = std::numeric_limits<std::int64_t>::max();  // first hour gone
  std::uint64_t key = 0;
};

// A stack-local subscription and the resources in it.
struct LocalSubscription {
  std::string name;
  Guid id;
  Guid tenant;
  bool tenant_in_record = false;  // no subscriber mapping: the record names it
  std::vector<Vm> vms;
  int vm_count = 1;  // the subscriber's `vms`, else --vms
  std::uint64_t key = 0;
};

struct StackPlan {
  const WorldStack* stack = nullptr;
  std::vector<LocalSubscription> subscriptions;
  SimulatedStack* counts = nullptr;
};

std::vector<Vm> PlanVms(std::uint64_t subscription_key, int count, std::int64_t hours) {
  std::vector<Vm> vms;
  for (int v = 0; v < count; ++v) {
    const std::uint64_t key = Mix(subscription_key, static_cast<std::uint64_t>(v));
    Vm vm;
    vm.index = v;
    vm.key = key;
    vm.size = &kVmSizes[key % kVmSizes.size()];
    vm.windows = (key >> 8) % 10 < 3;
    vm.premium_disk = (key >> 12) % 2 == 0;
    const std::uint64_t schedule = (key >> 16) % 20;
    vm.schedule = schedule < 10   ? Schedule::kAlwaysOn
                  : schedule < 17 ? Schedule::kBusinessHours
                                  : Schedule::kBatch;
    const auto span = static_cast<std::uint64_t>(hours);
    // Three in ten are created during the window, two in ten deleted in it.
    if ((key >> 24) % 10 < 3) vm.created = static_cast<std::int64_t>(Mix(key, 1) % span);
    if ((key >> 32) % 10 < 2) {
      vm.deleted = vm.created + 1 + static_cast<std::int64_t>(Mix(key, 2) % span);
    }
    vms.push_back(vm);
  }
  return vms;
}

bool Running(const Vm& vm, Timestamp hour, std::int64_t h) {
  switch (vm.schedule) {
    case Schedule::kAlwaysOn:
      return true;
    case Schedule::kBusinessHours: {
      const CivilTime civil = hour.ToCivil();
      const std::int64_t days = hour.unix_seconds() / Timestamp::kSecondsPerDay;
      const std::int64_t weekday = (days + 4) % 7;  // 1970-01-01 was a Thursday; 0 = Sunday
      return weekday >= 1 && weekday <= 5 && civil.hour >= 8 && civil.hour < 18;
    }
    case Schedule::kBatch:
      // Started and stopped in blocks of four hours.
      return Mix(vm.key, static_cast<std::uint64_t>(h / 4)) % 3 == 0;
  }
  return false;
}

class Generator {
 public:
  Generator(const HistoryView& view, SimulationSummary& summary) : view_(view), summary_(summary) {}

  absl::Status Hour(const StackPlan& plan, Timestamp hour, std::int64_t h) {
    buffer_.clear();
    const std::string start = hour.ToString();
    const std::string end = hour.AddHours(1).ToString();
    for (const LocalSubscription& sub : plan.subscriptions) {
      absl::StatusOr<Routing> routing = Route(view_, plan.stack->cloud_id, sub.tenant, hour);
      if (!routing.ok()) {
        return Annotate(routing.status(), fmt::format("routing stack {} subscription {} at {}",
                                                      plan.stack->name, sub.name, start));
      }
      current_ = Current{&sub, routing->billed_subscription_id, &start, &end};
      for (const Vm& vm : sub.vms) {
        if (h < vm.created || h >= vm.deleted) continue;
        const std::string vm_uri = ResourceUri(sub, "Microsoft.Compute/virtualMachines", vm);
        if (Running(vm, hour, h)) {
          STACKBILL_RETURN_IF_ERROR(
              Emit(kBaseVmHours, vm.size->cores * kRawPerUnit, vm_uri, vm.size->name));
          STACKBILL_RETURN_IF_ERROR(Emit(kVmSizeHours, kRawPerUnit, vm_uri, vm.size->name));
          if (vm.windows) {
            STACKBILL_RETURN_IF_ERROR(
                Emit(kWindowsVmHours, vm.size->cores * kRawPerUnit, vm_uri, vm.size->name));
          }
        }
        // Disks and addresses are billed while they exist, running or not.
        STACKBILL_RETURN_IF_ERROR(
            Emit(vm.premium_disk ? kPremiumDiskP10 : kStandardDiskS10, kDiskMonthPerHourRaw,
                 ResourceUri(sub, "Microsoft.Compute/disks", vm, "-osdisk"), ""));
        STACKBILL_RETURN_IF_ERROR(
            Emit(kDynamicIp, kRawPerUnit,
                 ResourceUri(sub, "Microsoft.Network/publicIPAddresses", vm, "-ip"), ""));
      }
      STACKBILL_RETURN_IF_ERROR(StorageAccount(sub, hour, h));
    }
    return sink_ ? (*sink_)(*plan.stack, hour, buffer_) : absl::OkStatus();
  }

  void set_sink(const SimulationSink* sink) { sink_ = sink; }
  void set_counts(SimulatedStack* counts) { counts_ = counts; }

 private:
  struct Current {
    const LocalSubscription* sub = nullptr;
    Guid billed;
    const std::string* start = nullptr;
    const std::string* end = nullptr;
  };

  static std::string ResourceUri(const LocalSubscription& sub, std::string_view type, const Vm& vm,
                                 std::string_view suffix = "") {
    return fmt::format("/subscriptions/{}/resourceGroups/rg-{}/providers/{}/vm-{}{}",
                       sub.id.ToString(), sub.name, type, vm.index, suffix);
  }

  // A storage account per local subscription: capacity that grows through
  // the window, and transactions that follow the working day.
  absl::Status StorageAccount(const LocalSubscription& sub, Timestamp hour, std::int64_t h) {
    const std::string uri = fmt::format(
        "/subscriptions/{}/resourceGroups/rg-{}/providers/Microsoft.Storage/"
        "storageAccounts/st{}",
        sub.id.ToString(), sub.name, sub.key % 100000);
    const auto base_gb = static_cast<std::int64_t>(sub.key % 500 + 10);
    const auto growth_raw = static_cast<std::int64_t>(Mix(sub.key, 3) % 1'000'000'000);
    STACKBILL_RETURN_IF_ERROR(
        Emit(kBlockBlobCapacity, base_gb * kRawPerUnit + h * growth_raw, uri, ""));
    const int local_hour = hour.ToCivil().hour;
    const std::int64_t busy = local_hour >= 8 && local_hour < 20 ? 5 : 1;
    // In 10,000s of requests, to four digits.
    const auto requests =
        static_cast<std::int64_t>(Mix(sub.key, static_cast<std::uint64_t>(h)) % 5000 + 1) * busy;
    return Emit(kBlobTransactions, requests * 1'000'000, uri, "");
  }

  absl::Status Emit(std::string_view meter, std::int64_t raw, const std::string& resource_uri,
                    std::string_view service_type) {
    absl::StatusOr<Quantity> quantity = Quantity::FromRaw(raw);
    if (!quantity.ok()) return quantity.status();
    const Current& c = current_;
    auto out = std::back_inserter(buffer_);
    fmt::format_to(out, "{{");
    if (c.sub->tenant_in_record)
      fmt::format_to(out, R"("tenantId":"{}",)", c.sub->tenant.ToString());
    fmt::format_to(out,
                   R"("subscriptionId":"{}","meterId":"{}","quantity":{},"usageStartTime":"{}",)"
                   R"("usageEndTime":"{}","instanceData":"{{\"Microsoft.Resources\":{{)"
                   R"(\"resourceUri\":\"{}\",\"location\":\"local\")",
                   c.sub->id.ToString(), meter, quantity->ToString(), *c.start, *c.end,
                   resource_uri);
    if (!service_type.empty()) {
      fmt::format_to(out, R"(,\"additionalInfo\":{{\"ServiceType\":\"{}\"}})", service_type);
    }
    fmt::format_to(out, "}}}}\"}}\n");

    absl::StatusOr<Guid> meter_id = Guid::Parse(meter);
    if (!meter_id.ok()) return meter_id.status();
    SimulatedTotal& total = summary_.totals[{c.billed, *meter_id}];
    absl::StatusOr<Quantity> sum = total.quantity.Add(*quantity);
    if (!sum.ok()) return sum.status();
    total.quantity = *sum;
    ++total.records;
    ++summary_.records;
    ++counts_->records;
    return absl::OkStatus();
  }

  const HistoryView& view_;
  SimulationSummary& summary_;
  const SimulationSink* sink_ = nullptr;
  SimulatedStack* counts_ = nullptr;
  Current current_;
  std::string buffer_;
};

bool ReportsUsage(const WorldStack& stack) {
  return stack.usage_reporting.value_or(stack.billing_model != BillingModel::kCapacity &&
                                        stack.billing_model != BillingModel::kCustom);
}

}  // namespace

History HistoryOfWorld(const World& world, Timestamp in_force_from) {
  History history;
  const Validity valid{.from = in_force_from, .to = std::nullopt};
  for (const WorldPartner& p : world.partners) {
    history.partners.push_back(Partner{
        .id = p.id, .name = p.name, .kind = p.kind, .billing_currency = p.billing_currency});
    if (p.parent_partner_id) {
      history.partner_parents.push_back(PartnerParentLink{
          .partner_id = p.id, .parent_partner_id = p.parent_partner_id, .valid = valid});
    }
  }
  for (const WorldSubscription& s : world.subscriptions) {
    history.subscriptions.push_back(Subscription{.id = s.id,
                                                 .offer_type = s.offer_type,
                                                 .directory_id = s.directory_id,
                                                 .partner_id = s.partner_id,
                                                 .billing_currency = s.billing_currency,
                                                 .display_name = s.display_name,
                                                 .state = SubscriptionState::kActive});
  }
  for (const WorldStack& s : world.stacks) {
    history.stacks.push_back(Stack{.cloud_id = s.cloud_id,
                                   .deployment_directory_id = s.deployment_directory_id,
                                   .billing_model = s.billing_model,
                                   .usage_reporting_enabled = ReportsUsage(s),
                                   .multi_tenant = s.multi_tenant});
    if (s.approved) {
      history.approvals.push_back(BillingModelApproval{.cloud_id = s.cloud_id,
                                                       .billing_model = s.billing_model,
                                                       .agreement_number = s.agreement_number,
                                                       .ms_asset_tag = s.asset_tag});
    }
    for (const WorldSubscriber& sub : s.subscribers) {
      history.stack_subscribers.push_back(
          StackSubscriber{.cloud_id = s.cloud_id,
                          .local_subscription_id = sub.local_subscription_id,
                          .tenant_id = sub.tenant_id,
                          .valid = valid});
    }
  }
  for (const WorldRegistration& r : world.registrations) {
    const WorldStack* stack = world.FindStack(r.stack);
    if (stack == nullptr) continue;  // ParseWorld refuses such files
    const RegistrationName name{
        .subscription_id = r.subscription_id, .resource_group = r.resource_group, .name = r.name};
    history.registrations.push_back(Registration{.name = name,
                                                 .cloud_id = stack->cloud_id,
                                                 .object_id = stack->object_id,
                                                 .billing_model = stack->billing_model,
                                                 .multi_tenant = stack->multi_tenant,
                                                 .usage_reporting_enabled = ReportsUsage(*stack),
                                                 .agreement_number = stack->agreement_number,
                                                 .ms_asset_tag = stack->asset_tag,
                                                 .tags = {},
                                                 .valid = valid});
    for (const WorldCustomerSubscription& c : r.customer_subscriptions) {
      history.customer_subscriptions.push_back(CustomerSubscription{
          .registration = name,
          .cloud_id = stack->cloud_id,
          .customer_subscription_id = c.subscription_id,
          .tenant_id = c.tenant_id,
          .valid = {.from = c.effective_from.value_or(in_force_from), .to = std::nullopt}});
    }
  }
  return history;
}

absl::StatusOr<SimulationSummary> Simulate(const World& world, const SimulationOptions& options,
                                           const SimulationSink& sink) {
  if (!options.from.IsHourAligned() || !options.to.IsHourAligned() ||
      !(options.from < options.to)) {
    return InvalidArgumentError("InvalidWindow",
                                fmt::format("the window {} – {} must be hour-aligned and not empty",
                                            options.from.ToString(), options.to.ToString()));
  }
  if (options.vms_per_subscription < 1) {
    return InvalidArgumentError("InvalidArgument", "--vms must be at least 1");
  }
  if (!options.stack.empty() && world.FindStack(options.stack) == nullptr) {
    return InvalidArgumentError("InvalidArgument",
                                fmt::format("no stack named {} in the world", options.stack));
  }
  const History history = HistoryOfWorld(world, options.from);
  const HistoryView view(history);
  const std::int64_t hours = options.to.SecondsSince(options.from) / Timestamp::kSecondsPerHour;

  SimulationSummary summary;
  std::vector<StackPlan> plans;
  summary.stacks.reserve(world.stacks.size());
  for (std::size_t si = 0; si < world.stacks.size(); ++si) {
    const WorldStack& stack = world.stacks[si];
    if (!options.stack.empty() && stack.name != options.stack) continue;
    if (view.FirstRegistration(stack.cloud_id) == nullptr) {
      summary.skipped.push_back(stack.name + ": not registered in the world");
      continue;
    }
    if (!ReportsUsage(stack)) {
      summary.skipped.push_back(stack.name + ": usage reporting is off (R9)");
      continue;
    }
    summary.stacks.push_back(SimulatedStack{.name = stack.name, .cloud_id = stack.cloud_id});
    StackPlan plan;
    plan.stack = &stack;
    const std::uint64_t stack_key = Mix(options.seed, si);
    std::vector<LocalSubscription> subs;
    for (std::size_t i = 0; i < stack.subscribers.size(); ++i) {
      const WorldSubscriber& s = stack.subscribers[i];
      subs.push_back(LocalSubscription{.name = s.name,
                                       .id = s.local_subscription_id,
                                       .tenant = s.tenant_id,
                                       .tenant_in_record = false,
                                       .vms = {},
                                       .vm_count = s.vms.value_or(options.vms_per_subscription),
                                       .key = Mix(stack_key, i)});
    }
    if (subs.empty()) {
      // A stack without declared subscribers: the operator's own
      // subscription, in the deployment directory, named in each record.
      subs.push_back(
          LocalSubscription{.name = "default-provider-subscription",
                            .id = DerivedGuid(world.name, "simulated-subscription", stack.name),
                            .tenant = stack.deployment_directory_id,
                            .tenant_in_record = true,
                            .vms = {},
                            .vm_count = options.vms_per_subscription,
                            .key = Mix(stack_key, 0xffff)});
    }
    for (LocalSubscription& s : subs) s.vms = PlanVms(s.key, s.vm_count, hours);
    plan.subscriptions = std::move(subs);
    plans.push_back(std::move(plan));
  }
  for (std::size_t i = 0; i < plans.size(); ++i) plans[i].counts = &summary.stacks[i];

  Generator generator(view, summary);
  generator.set_sink(&sink);
  for (std::int64_t h = 0; h < hours; ++h) {
    const Timestamp hour = options.from.AddHours(h);
    for (const StackPlan& plan : plans) {
      generator.set_counts(plan.counts);
      STACKBILL_RETURN_IF_ERROR(generator.Hour(plan, hour, h));
    }
  }
  return summary;
}

}  // namespace stackbill
