#pragma once

// The store-contract suite: one set of value-parameterised tests that every
// storage backend must pass, checking what store/store.h promises. A backend's
// test file instantiates it with a StoreBackend:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract,
//                            ::testing::Values(SqliteBackendForContract()),
//                            StoreBackendName);
//
// Each test gets a new, empty database from `new_database`, so tests are
// independent and may run in any order.

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "store/store.h"

namespace stackbill::store_testing {

struct StoreBackend {
  // Names the instantiation in test names ("Sqlite").
  std::string name;
  // Returns the location (a file path, a DSN, …) of a new, empty database.
  std::function<absl::StatusOr<std::string>()> new_database;
  // Opens a Store on `location`. Called several times for one location (to
  // reopen it, or to have several stores on one database at once), and also
  // in a child process after fork().
  std::function<absl::StatusOr<std::unique_ptr<Store>>(const std::string& location)> open;
  // Whether the backend may be used in a process forked from the test (for
  // the two-process concurrency test).
  bool supports_fork = true;
};

// The test-name suffix for a backend.
std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info);
// How GoogleTest prints the parameter: its name.
void PrintTo(const StoreBackend& backend, std::ostream* os);

class StoreContract : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Store& store() { return *store_; }
  // Another Store on the same database.
  std::unique_ptr<Store> OpenAnother();
  // Closes the store and opens it again on the same database.
  void Reopen();

  std::string location_;
  std::unique_ptr<Store> store_;
};

}  // namespace stackbill::store_testing
