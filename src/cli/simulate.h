#pragma once

// `stackbill simulate` (SPEC §4.2): realistic hourly usage for the stacks of
// a world file — VMs of several sizes (Linux and Windows) that are created,
// started, stopped and deleted, with their disks and IP addresses, and one
// storage account per local subscription whose transactions follow the time
// of day — with the real Azure Stack meter IDs, and the exact totals it
// produced per billed subscription and meter, routed by the core (R7, R13)
// over the history the world file declares.
//
// Deterministic: the same world, options and seed give the same records, byte
// for byte, on any machine (every choice is a hash of the seed and the
// resource, never a library distribution). Streaming: records are handed to
// the sink one stack-hour at a time, so a window of tens of millions of
// records needs no more memory than one hour of one stack.
//
// The history is the world file's, in force from the window's start: a
// customer subscription's `effectiveFrom`, when the file gives one, is used
// as is. Apply the world with those corrections (world apply does) before
// forwarding a past window, or its usage goes to the default subscriptions.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/world_file.h"
#include "core/decimal.h"
#include "core/guid.h"
#include "core/history.h"
#include "core/time.h"

namespace stackbill {

struct SimulationOptions {
  Timestamp from;  // inclusive, hour-aligned
  Timestamp to;    // exclusive, hour-aligned, after `from`
  std::uint64_t seed = 1;
  int vms_per_subscription = 3;  // VMs per stack-local subscription (>= 1)
  // Only this stack (by name); empty: every stack that forwards usage.
  std::string stack;
};

// The world file's history with every fact in force from `in_force_from`
// (customer subscriptions from their effectiveFrom when they have one).
History HistoryOfWorld(const World& world, Timestamp in_force_from);

// Totals of one (billed subscription, meter).
struct SimulatedTotal {
  std::int64_t records = 0;
  Quantity quantity;
};

struct SimulatedStack {
  std::string name;
  Guid cloud_id;
  std::int64_t records = 0;
};

struct SimulationSummary {
  std::int64_t records = 0;
  std::vector<SimulatedStack> stacks;
  // (billed subscription, meter) → totals, in GUID order.
  std::map<std::pair<Guid, Guid>, SimulatedTotal> totals;
  // Stacks left out, with why (not registered, usage reporting off).
  std::vector<std::string> skipped;
};

// Receives the NDJSON lines (each ending in '\n') of one stack for one hour.
using SimulationSink =
    std::function<absl::Status(const WorldStack& stack, Timestamp hour, std::string_view lines)>;

// Generates the window hour by hour, stack by stack, and returns what it
// produced. InvalidArgument for a window that is empty or not hour-aligned,
// an unknown --stack, or vms_per_subscription < 1; the sink's error stops it.
absl::StatusOr<SimulationSummary> Simulate(const World& world, const SimulationOptions& options,
                                           const SimulationSink& sink);

}  // namespace stackbill
