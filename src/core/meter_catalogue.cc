#include "core/meter_catalogue.h"

#include <fmt/format.h>

#include "core/csv.h"
#include "core/error.h"

namespace stackbill {

absl::StatusOr<MeterCatalogue> MeterCatalogue::FromCsv(std::string_view text,
                                                       std::string_view source,
                                                       std::vector<std::string>& skipped) {
  auto table = ParseCsvTable(text, source);
  if (!table.ok()) return table.status();
  const int id_col = table->ColumnIndex("meter_id");
  const int name_col = table->ColumnIndex("meter_name");
  const int category_col = table->ColumnIndex("category");
  const int unit_col = table->ColumnIndex("unit");
  for (auto [column, index] : {std::pair{"meter_id", id_col},
                               {"meter_name", name_col},
                               {"category", category_col},
                               {"unit", unit_col}}) {
    if (index < 0) {
      return InvalidArgumentError("InvalidCsv",
                                  fmt::format("{}: missing column '{}'", source, column));
    }
  }
  auto field = [](const CsvRow& row, int index) -> const std::string& {
    return row[static_cast<std::size_t>(index)];
  };
  MeterCatalogue catalogue;
  for (std::size_t i = 0; i < table->rows.size(); ++i) {
    const CsvRow& row = table->rows[i];
    const int line = table->row_lines[i];
    auto id = Guid::Parse(field(row, id_col));
    if (!id.ok()) {
      // The catalogue documents meters that have no fixed ID (e.g. per custom
      // worker tier); they cannot be metered by ID, so they are skipped.
      skipped.push_back(fmt::format("{}:{}: skipped meter '{}': {}", source, line,
                                    field(row, name_col), Message(id.status())));
      continue;
    }
    if (catalogue.Find(*id) != nullptr) {
      return InvalidArgumentError("InvalidCsv", fmt::format("{}:{}: meter id {} is listed twice",
                                                            source, line, id->ToString()));
    }
    Meter meter{.meter_id = *id,
                .name = field(row, name_col),
                .category = field(row, category_col),
                .unit = field(row, unit_col),
                .commerce_meter_id = std::nullopt,
                .custom = false};
    if (auto status = catalogue.Add(std::move(meter)); !status.ok()) {
      return Annotate(status, fmt::format("{}:{}", source, line));
    }
  }
  return catalogue;
}

absl::StatusOr<MeterCatalogue> MeterCatalogue::BuiltIn(std::vector<std::string>& skipped) {
  return FromCsv(BuiltInMeterCsv(), "azure-stack-meters.csv", skipped);
}

absl::Status MeterCatalogue::Add(Meter meter) {
  if (meter.name.empty() || meter.unit.empty()) {
    return InvalidArgumentError(
        "InvalidMeter", fmt::format("meter {} needs a name and a unit", meter.meter_id.ToString()));
  }
  if (auto it = index_.find(meter.meter_id); it != index_.end()) {
    meters_[it->second] = std::move(meter);
    return absl::OkStatus();
  }
  index_.emplace(meter.meter_id, meters_.size());
  meters_.push_back(std::move(meter));
  return absl::OkStatus();
}

const Meter* MeterCatalogue::Find(const Guid& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &meters_[it->second];
}

std::vector<Meter> MeterCatalogue::List() const { return meters_; }

}  // namespace stackbill
