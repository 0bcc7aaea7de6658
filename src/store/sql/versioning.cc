#include "store/sql/versioning.h"

#include <optional>

#include "core/error.h"
#include "store/store.h"

namespace stackbill::sql {
namespace {

struct Latest {
  Timestamp from;
  std::optional<Timestamp> to;
  bool same_value = false;
};

absl::StatusOr<std::optional<Latest>> ReadLatest(Connection& c, const VersionedTable& table,
                                                 const std::vector<SqlValue>& key,
                                                 const SqlValue* value) {
  STACKBILL_ASSIGN_OR_RETURN(
      Statement stmt,
      c.Prepare(Cat("SELECT from_s, from_ns, to_s, to_ns, ",
                    value != nullptr ? Cat("CASE WHEN ", table.value_column,
                                           " IS NOT DISTINCT FROM ? THEN 1 ELSE 0 END")
                                     : "0",
                    " FROM ", table.table, " WHERE ", table.key_condition,
                    " ORDER BY from_s DESC, from_ns DESC LIMIT 1")));
  if (value != nullptr) stmt.BindValue(*value);
  stmt.BindValues(key);
  STACKBILL_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<Latest>();
  Latest latest;
  latest.from = stmt.ReadTime();
  latest.to = stmt.ReadOptionalTime();
  latest.same_value = stmt.ReadBool();
  STACKBILL_RETURN_IF_ERROR(stmt.read_status());
  return std::optional<Latest>(latest);
}

absl::Status Insert(Connection& c, const VersionedTable& table, const std::vector<SqlValue>& key,
                    const SqlValue& value, Timestamp at) {
  std::string placeholders;
  for (std::size_t i = 0; i < key.size(); ++i) placeholders += "?, ";
  STACKBILL_ASSIGN_OR_RETURN(
      Statement insert,
      c.Prepare(Cat("INSERT INTO ", table.table, " (", table.key_columns, ", ", table.value_column,
                    ", from_s, from_ns, to_s, to_ns) VALUES (", placeholders,
                    "?, ?, ?, NULL, NULL)")));
  insert.BindValues(key).BindValue(value).BindTime(at);
  return insert.Run();
}

}  // namespace

absl::Status VersionOutOfOrder(std::string_view what, Timestamp at, Timestamp existing) {
  return FailedPreconditionError(
      store_errors::kVersionOutOfOrder,
      Cat(what, ": a change at ", at.ToString(), " would precede the version recorded at ",
          existing.ToString()));
}

absl::StatusOr<bool> StartVersion(Connection& c, const VersionedTable& table,
                                  const std::vector<SqlValue>& key, const SqlValue& value,
                                  Timestamp at, std::string_view what) {
  STACKBILL_ASSIGN_OR_RETURN(std::optional<Latest> latest, ReadLatest(c, table, key, &value));
  if (!latest) {
    STACKBILL_RETURN_IF_ERROR(Insert(c, table, key, value, at));
    return true;
  }
  if (latest->to) {
    if (*latest->to > at) return VersionOutOfOrder(what, at, *latest->to);
    STACKBILL_RETURN_IF_ERROR(Insert(c, table, key, value, at));
    return true;
  }
  if (latest->same_value) return false;
  if (at < latest->from) return VersionOutOfOrder(what, at, latest->from);
  if (at == latest->from) {
    STACKBILL_ASSIGN_OR_RETURN(
        Statement update, c.Prepare(Cat("UPDATE ", table.table, " SET ", table.value_column,
                                        " = ? WHERE ", table.key_condition, " AND to_s IS NULL")));
    update.BindValue(value).BindValues(key);
    STACKBILL_RETURN_IF_ERROR(update.Run());
    return true;
  }
  STACKBILL_RETURN_IF_ERROR(EndVersion(c, table, key, at, what).status());
  STACKBILL_RETURN_IF_ERROR(Insert(c, table, key, value, at));
  return true;
}

absl::StatusOr<bool> EndVersion(Connection& c, const VersionedTable& table,
                                const std::vector<SqlValue>& key, Timestamp at,
                                std::string_view what) {
  STACKBILL_ASSIGN_OR_RETURN(std::optional<Latest> latest, ReadLatest(c, table, key, nullptr));
  if (!latest || latest->to) return false;
  if (at < latest->from) return VersionOutOfOrder(what, at, latest->from);
  STACKBILL_ASSIGN_OR_RETURN(
      Statement update, c.Prepare(Cat("UPDATE ", table.table, " SET to_s = ?, to_ns = ? WHERE ",
                                      table.key_condition, " AND to_s IS NULL")));
  update.BindTime(at).BindValues(key);
  STACKBILL_RETURN_IF_ERROR(update.Run());
  return true;
}

}  // namespace stackbill::sql
