#include <set>

#include "core/error.h"
#include "store/sql/area_stores.h"
#include "store/sql/codec.h"

namespace stackbill::sql {
namespace {

constexpr std::string_view kMeterColumns =
    "meter_id, name, category, unit, commerce_meter_id, custom";

Meter ReadMeter(Statement& stmt) {
  Meter meter;
  meter.meter_id = stmt.ReadGuid();
  meter.name = stmt.ReadText();
  meter.category = stmt.ReadText();
  meter.unit = stmt.ReadText();
  meter.commerce_meter_id = stmt.ReadOptionalGuid();
  meter.custom = stmt.ReadBool();
  return meter;
}

void BindMeter(Statement& stmt, const Meter& meter) {
  stmt.BindGuid(meter.meter_id)
      .BindText(meter.name)
      .BindText(meter.category)
      .BindText(meter.unit)
      .BindOptionalGuid(meter.commerce_meter_id)
      .BindBool(meter.custom);
}

class SqlMeterStore final : public MeterStore {
 public:
  explicit SqlMeterStore(Database& database) : db_(database) {}

  absl::Status CreateMeter(const Meter& meter) override {
    return db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(
          Statement insert,
          c.Prepare(Cat("INSERT INTO meters (", kMeterColumns,
                        ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id) DO NOTHING")));
      BindMeter(insert, meter);
      STACKBILL_RETURN_IF_ERROR(insert.Run());
      if (c.changes() == 0) {
        return AlreadyExistsError("MeterAlreadyExists",
                                  Cat("meter ", meter.meter_id.ToString(), " already exists"));
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int> PutMeters(std::span<const Meter> meters) override {
    std::set<Guid> seen;
    for (const auto& meter : meters) {
      if (!seen.insert(meter.meter_id).second) {
        return absl::InvalidArgumentError(
            Cat("meter ", meter.meter_id.ToString(), " is listed twice"));
      }
    }
    int created = 0;
    STACKBILL_RETURN_IF_ERROR(db_.Write([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement exists,
                                 c.Prepare("SELECT 1 FROM meters WHERE meter_id = ?"));
      STACKBILL_ASSIGN_OR_RETURN(
          Statement put,
          c.Prepare(Cat("INSERT INTO meters (", kMeterColumns,
                        ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id) DO UPDATE "
                        "SET name = excluded.name, category = excluded.category, "
                        "unit = excluded.unit, "
                        "commerce_meter_id = excluded.commerce_meter_id, "
                        "custom = excluded.custom")));
      for (const auto& meter : meters) {
        exists.Reset();
        exists.BindGuid(meter.meter_id);
        STACKBILL_ASSIGN_OR_RETURN(bool known, exists.Step());
        if (!known) ++created;
        put.Reset();
        BindMeter(put, meter);
        STACKBILL_RETURN_IF_ERROR(put.Run());
      }
      return absl::OkStatus();
    }));
    return created;
  }

  absl::StatusOr<Meter> GetMeter(const Guid& meter_id) override {
    std::optional<Meter> meter;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(Cat("SELECT ", kMeterColumns,
                                                               " FROM meters WHERE meter_id = ?")));
      stmt.BindGuid(meter_id);
      STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      meter = ReadMeter(stmt);
      return stmt.read_status();
    }));
    if (!meter) {
      return NotFoundError("MeterNotFound", Cat("meter ", meter_id.ToString(), " not found"));
    }
    return *meter;
  }

  absl::StatusOr<std::vector<Meter>> ListMeters() override {
    std::vector<Meter> meters;
    STACKBILL_RETURN_IF_ERROR(db_.Read([&](Connection& c) -> absl::Status {
      STACKBILL_ASSIGN_OR_RETURN(Statement stmt, c.Prepare(Cat("SELECT ", kMeterColumns,
                                                               " FROM meters ORDER BY meter_id")));
      while (true) {
        STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) return absl::OkStatus();
        meters.push_back(ReadMeter(stmt));
        STACKBILL_RETURN_IF_ERROR(stmt.read_status());
      }
    }));
    return meters;
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<MeterStore> NewSqlMeterStore(Database& database) {
  return std::make_unique<SqlMeterStore>(database);
}

}  // namespace stackbill::sql
