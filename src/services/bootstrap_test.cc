#include "services/bootstrap.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "services/access_tokens.h"
#include "store/sqlite/sqlite_store.h"

namespace stackbill {
namespace {

class BootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  const Timestamp now_ = *Timestamp::Parse("2026-11-29T12:00:00Z");
  std::unique_ptr<Store> store_;
};

TEST_F(BootstrapTest, CreatesAPlatformAdminWhoseTokenIsStoredOnlyAsItsHash) {
  auto result = Bootstrap(*store_, BootstrapOptions{}, now_);
  ASSERT_TRUE(result.ok()) << result.status();
  auto token = store_->identity().FindTokenByHash(HashSecret(result->token), now_);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->principal_id, result->admin.object_id);
  EXPECT_EQ(token->expires_at, now_.AddHours(24 * 90));
  EXPECT_NE(token->hash, result->token);

  auto assignments = store_->identity().ListRoleAssignments(result->admin.object_id);
  ASSERT_TRUE(assignments.ok());
  ASSERT_EQ(assignments->size(), 1u);
  EXPECT_EQ((*assignments)[0].role, Role::kPlatformAdmin);
  EXPECT_EQ((*assignments)[0].scope, "/");
}

TEST_F(BootstrapTest, LoadsTheBuiltInMeterCatalogue) {
  auto result = Bootstrap(*store_, BootstrapOptions{}, now_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->meters_loaded, 85);
  EXPECT_EQ(result->skipped_meters.size(), 1u);
  auto meter = store_->meters().GetMeter(*Guid::Parse("fab6eb84-500b-4a09-a8ca-7358f8bbaea5"));
  ASSERT_TRUE(meter.ok());
  EXPECT_EQ(meter->name, "Base VM Size Hours");
}

TEST_F(BootstrapTest, AuditsEveryMutationWithoutTheSecret) {
  auto result = Bootstrap(*store_, BootstrapOptions{}, now_);
  ASSERT_TRUE(result.ok());
  auto audit = store_->audit().ListAudit(AuditFilter{}, PageRequest{.cursor = "", .limit = 100});
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->items.size(), 5u);
  EXPECT_EQ(audit->items.front().action, "meters.load");  // newest first
  for (const auto& entry : audit->items) {
    EXPECT_EQ(entry.after_json.find(result->token), std::string::npos) << entry.action;
  }
}

TEST_F(BootstrapTest, RefusesASecondInitSoNoSecondMasterTokenExists) {
  ASSERT_TRUE(Bootstrap(*store_, BootstrapOptions{}, now_).ok());
  auto again = Bootstrap(*store_, BootstrapOptions{}, now_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorCode(again.status()), "AlreadyInitialized");
}

TEST_F(BootstrapTest, RefusesANonPositiveTokenLifetime) {
  BootstrapOptions options;
  options.token_hours = 0;
  EXPECT_EQ(Bootstrap(*store_, options, now_).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stackbill
