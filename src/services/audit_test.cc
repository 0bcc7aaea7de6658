#include "services/audit.h"

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"

namespace stackbill {
namespace {

TEST(AuditTest, RedactsSecretsAtAnyDepthAndInAnyCase) {
  const auto redacted = RedactSecrets(nlohmann::json::parse(
      R"({"Token":"sbt_x","nested":{"activationKey":"k","list":[{"registrationToken":"t"}]},"name":"n"})"));
  EXPECT_EQ(redacted["Token"], "[redacted]");
  EXPECT_EQ(redacted["nested"]["activationKey"], "[redacted]");
  EXPECT_EQ(redacted["nested"]["list"][0]["registrationToken"], "[redacted]");
  EXPECT_EQ(redacted["name"], "n");
}

TEST(AuditTest, WritesWhoWhatWhenWithBeforeAndAfter) {
  auto store = OpenSqliteStore(SqliteOptions{.path = ":memory:"});
  ASSERT_TRUE(store.ok());
  Caller caller;
  caller.principal_id = *Guid::Parse("11111111-1111-1111-1111-111111111111");
  caller.directory_id = *Guid::Parse("22222222-2222-2222-2222-222222222222");
  const Timestamp now = Timestamp::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(WriteAudit(**store, caller, now,
                         AuditRecord{.action = "token.create",
                                     .resource = "/v1/tokens/abc",
                                     .partner_id = std::nullopt,
                                     .before = nullptr,
                                     .after = {{"token", "sbt_secret"}, {"id", "abc"}}})
                  .ok());
  auto page = (*store)->audit().ListAudit(AuditFilter{}, PageRequest{});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  const AuditEntry& entry = page->items[0];
  EXPECT_EQ(entry.actor_principal_id, caller.principal_id);
  EXPECT_EQ(entry.actor_directory_id, caller.directory_id);
  EXPECT_EQ(entry.at, now);
  EXPECT_EQ(entry.before_json, "");
  EXPECT_EQ(entry.after_json.find("sbt_secret"), std::string::npos);
  EXPECT_NE(entry.after_json.find("[redacted]"), std::string::npos);
}

}  // namespace
}  // namespace stackbill
