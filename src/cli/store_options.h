#pragma once

// How the command line opens a store and reads the clock: the wiring's single
// place for both.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/time.h"
#include "store/store.h"

namespace stackbill {

// Opens (creating when missing) the SQLite store at `path`. PostgreSQL URLs
// arrive with the PostgreSQL backend.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& path);

// The current UTC time from the system clock.
Timestamp WallClockNow();

}  // namespace stackbill
