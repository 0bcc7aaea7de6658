#pragma once

// The meter catalogue: the built-in Azure Stack meters (shipped as
// data/meters/azure-stack-meters.csv and compiled into the binary) plus the
// custom meters a PlatformAdmin adds. Meter IDs are checked for GUID syntax
// only and kept in canonical lower-case form. Thread-compatible; no I/O.

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/entities.h"

namespace stackbill {

// The built-in catalogue's CSV text (columns meter_id, meter_name, category,
// unit, notes, source), embedded at build time.
std::string_view BuiltInMeterCsv();

class MeterCatalogue {
 public:
  MeterCatalogue() = default;

  // Loads a catalogue CSV with at least the columns meter_id, meter_name,
  // category and unit. A row whose meter_id is not a GUID is skipped, and a
  // line describing it is appended to `skipped` (the caller logs it: this
  // layer does no I/O). Errors: InvalidCsv for malformed CSV, a missing column
  // or a meter id listed twice.
  static absl::StatusOr<MeterCatalogue> FromCsv(std::string_view text, std::string_view source,
                                                std::vector<std::string>& skipped);

  // The built-in catalogue (BuiltInMeterCsv()).
  static absl::StatusOr<MeterCatalogue> BuiltIn(std::vector<std::string>& skipped);

  // Adds or replaces a meter (custom meters, or the store's copy of one).
  // InvalidArgument / "InvalidMeter" when name or unit is empty.
  absl::Status Add(Meter meter);

  // The meter with `id`, or nullptr. The pointer is valid until the next Add.
  const Meter* Find(const Guid& id) const;
  std::size_t size() const { return meters_.size(); }
  // All meters in the order they were added.
  std::vector<Meter> List() const;

 private:
  std::vector<Meter> meters_;
  absl::flat_hash_map<Guid, std::size_t> index_;
};

}  // namespace stackbill
