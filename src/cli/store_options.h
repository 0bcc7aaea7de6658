#pragma once

// How the command line opens a store and reads the clock: the wiring's single
// place for both.

#include <atomic>
#include <cstdint>
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

// InvalidArgument when `location` is neither a SQLite path nor a
// postgresql:// URL but looks like an attempt at a database address (another
// scheme, or a libpq "key=value" string, which may hold a password): it must
// not become a file of that name, nor be logged. The message does not repeat
// it.
absl::Status CheckStoreLocation(const std::string& location);

// For `init`: OK when `location` can receive a new store — a SQLite file that
// does not exist yet, or an empty PostgreSQL schema (checked before anything
// is migrated into it); AlreadyExists otherwise.
absl::Status CheckNewStore(const std::string& location);

// `location` for logs and messages: a PostgreSQL URL without its password.
std::string DescribeStore(const std::string& location);

// The current UTC time from the system clock.
Timestamp WallClockNow();

// The clock of `serve`: the store's when it has one (Store::ServerTime, a
// PostgreSQL server's), so that every node on the store reads one clock
// (issue 9) — token expiry, receivedAt, the automatic close —, else the
// machine's. Sync() measures the offset of the store's clock from the
// machine's (halfway through the round trip); Now() is the machine's clock
// plus that offset. Thread-safe.
class StoreClock {
 public:
  explicit StoreClock(Store& store) : store_(store) {}

  // Measures the offset again. Unimplemented when the store has no clock
  // (the offset stays 0); Unavailable when it cannot be read (the last
  // offset stays).
  absl::Status Sync();
  Timestamp Now() const;
  // The offset from the machine's clock to the store's, in nanoseconds.
  std::int64_t offset_nanos() const { return offset_nanos_.load(std::memory_order_relaxed); }

 private:
  Store& store_;
  std::atomic<std::int64_t> offset_nanos_{0};
};

}  // namespace stackbill
