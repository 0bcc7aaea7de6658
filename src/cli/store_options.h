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
// arrive with the PostgreSQL backend. `durability_full` (R10): every commit
// survives power loss too, not only a crash of the process.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& path,
                                                 bool durability_full = false);

// The current UTC time from the system clock.
Timestamp WallClockNow();

}  // namespace stackbill
