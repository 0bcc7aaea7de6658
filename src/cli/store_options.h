#pragma once

// How the command line opens a store and reads the clock: the wiring's single
// place for both.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/time.h"
#include "store/store.h"

namespace stackbill {

// Opens the store at `location`: a PostgreSQL database when it is a
// postgresql:// (or postgres://) URL — its schema created or migrated on
// open — else the SQLite file at that path (created when missing).
// `durability_full` (R10, SQLite only): every commit survives power loss too,
// not only a crash of the process; PostgreSQL's durability is the server's
// (synchronous_commit).
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& location,
                                                 bool durability_full = false);

// Whether `location` is a PostgreSQL URL rather than a SQLite file.
bool IsPostgresStore(const std::string& location);

// `location` for logs and messages: a PostgreSQL URL without its password.
std::string DescribeStore(const std::string& location);

// The current UTC time from the system clock.
Timestamp WallClockNow();

}  // namespace stackbill
