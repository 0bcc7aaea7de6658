#include "cli/store_options.h"

#include <chrono>

#include "store/sqlite/sqlite_store.h"

namespace stackbill {

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& path, bool durability_full) {
  SqliteOptions options{.path = path};
  if (durability_full) options.durability = SqliteOptions::Durability::kFull;
  return OpenSqliteStore(options);
}

Timestamp WallClockNow() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds);
  return Timestamp::FromUnixSeconds(seconds.count(), static_cast<std::int32_t>(nanos.count()));
}

}  // namespace stackbill
