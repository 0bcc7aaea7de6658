#include "cli/store_options.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {
namespace {

// A store whose own clock runs `offset_seconds` ahead of the machine's (as a
// database server's might), over an in-memory SQLite store.
class StoreWithClock final : public Store {
 public:
  StoreWithClock(std::unique_ptr<Store> inner, std::int64_t offset_seconds)
      : offset_seconds_(offset_seconds), inner_(std::move(inner)) {}
  IdentityStore& identity() override { return inner_->identity(); }
  PartyStore& parties() override { return inner_->parties(); }
  RegistrationStore& registrations() override { return inner_->registrations(); }
  MeterStore& meters() override { return inner_->meters(); }
  UsageStore& usage() override { return inner_->usage(); }
  QuarantineStore& quarantine() override { return inner_->quarantine(); }
  PriceSheetStore& price_sheets() override { return inner_->price_sheets(); }
  BillingStore& billing() override { return inner_->billing(); }
  AuditLog& audit() override { return inner_->audit(); }
  absl::StatusOr<Timestamp> ServerTime() override {
    if (offset_seconds_ == kUnreachable) return absl::UnavailableError("server gone");
    return WallClockNow().AddSeconds(offset_seconds_);
  }
  static constexpr std::int64_t kUnreachable = -1;
  std::int64_t offset_seconds_;  // kUnreachable: ServerTime fails

 private:
  std::unique_ptr<Store> inner_;
};

std::unique_ptr<Store> MemoryStore() {
  auto store = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

// Issue 9: every node reads the database server's clock. The checks allow
// a minute of slack around an hour's offset: correctness, not speed.
TEST(StoreClock, FollowsTheStoresClockAndKeepsTheLastOffsetWhenItCannotReadIt) {
  StoreWithClock store(MemoryStore(), 3600);
  StoreClock clock(store);
  ASSERT_TRUE(clock.Sync().ok());
  const std::int64_t ahead = clock.Now().SecondsSince(WallClockNow());
  EXPECT_GT(ahead, 3600 - 60);
  EXPECT_LT(ahead, 3600 + 60);
  store.offset_seconds_ = StoreWithClock::kUnreachable;
  EXPECT_EQ(clock.Sync().code(), absl::StatusCode::kUnavailable);
  EXPECT_GT(clock.Now().SecondsSince(WallClockNow()), 3600 - 60);
}

TEST(StoreClock, IsTheMachinesClockForAStoreWithoutOne) {
  std::unique_ptr<Store> store = MemoryStore();
  StoreClock clock(*store);
  EXPECT_EQ(clock.Sync().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(clock.offset_nanos(), 0);
  EXPECT_LT(std::abs(clock.Now().SecondsSince(WallClockNow())), 60);
}

TEST(CheckStoreLocation, RefusesWhatLooksLikeAnotherKindOfDatabaseAddressWithoutRepeatingIt) {
  EXPECT_TRUE(CheckStoreLocation("/var/lib/stackbill/stackbill.db").ok());
  EXPECT_TRUE(CheckStoreLocation("postgresql://stackbill:secret@db/stackbill").ok());
  for (const std::string location : {"host=db dbname=stackbill password=hunter2",
                                     "postgresq://u:hunter2@db/x", "mysql://u:hunter2@db/x"}) {
    const absl::Status status = CheckStoreLocation(location);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << location;
    EXPECT_EQ(status.ToString().find("hunter2"), std::string::npos) << status;
  }
}

TEST(DescribeStore, HidesPasswords) {
  EXPECT_EQ(DescribeStore("postgresql://u:hunter2@db:5432/x?password=hunter2&sslmode=require"),
            "postgresql://u:***@db:5432/x?password=***&sslmode=require");
  EXPECT_EQ(DescribeStore("/srv/s.db"), "/srv/s.db");
}

}  // namespace
}  // namespace stackbill
