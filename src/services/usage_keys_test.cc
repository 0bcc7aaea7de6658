// The dedupe identity's layout (R11, core/usage_identity.h).
#include "services/usage_keys.h"

#include <gtest/gtest.h>

#include <string>

#include "core/usage_identity.h"

namespace stackbill {
namespace {

UsageKeyFields NaturalKey(std::int64_t start_unix_seconds) {
  UsageKeyFields f;
  f.local_subscription_id = *Guid::Parse("11111111-2222-3333-4444-555555555555");
  f.meter_id = *Guid::Parse("6dab500f-a4fd-49c4-956d-229bb9c8c793");
  f.resource_uri = "/subscriptions/11111111-2222-3333-4444-555555555555/vm1";
  f.usage_start = Timestamp::FromUnixSeconds(start_unix_seconds);
  f.usage_end = Timestamp::FromUnixSeconds(start_unix_seconds + 3600);
  return f;
}

std::string Prefix(const std::string& identity) {
  return identity.substr(0, kUsageHourPrefixBytes);
}

TEST(UsageKeysTest, NaturalKeyIdentityLeadsWithItsUsageHour) {
  // 2026-11-01T02:00Z is hour 498194 = 0x00079A12.
  const std::string identity = UsageIdentity(NaturalKey(1793498400));
  ASSERT_EQ(identity.size(), kUsageKeyBytes);
  EXPECT_EQ(Prefix(identity), std::string("\x00\x07\x9A\x12", 4));
  EXPECT_EQ(UsageIdentity(NaturalKey(1793498400)), identity);
  // The next hour's record of the same resource: another identity, the next prefix.
  const std::string next = UsageIdentity(NaturalKey(1793498400 + 3600));
  EXPECT_NE(next, identity);
  EXPECT_EQ(Prefix(next), std::string("\x00\x07\x9A\x13", 4));
}

TEST(UsageKeysTest, ResourcesOfOneHourShareThePrefixOnly) {
  UsageKeyFields a = NaturalKey(1793498400);
  UsageKeyFields b = NaturalKey(1793498400);
  b.resource_uri = "/subscriptions/11111111-2222-3333-4444-555555555555/vm2";
  const std::string ia = UsageIdentity(a);
  const std::string ib = UsageIdentity(b);
  EXPECT_EQ(Prefix(ia), Prefix(ib));
  EXPECT_NE(ia, ib);
}

TEST(UsageKeysTest, IdIdentityDoesNotDependOnTheWindow) {
  // The same id with another window must meet its first version
  // (ConflictingDuplicate), so its identity is the id's digest alone.
  UsageKeyFields a = NaturalKey(1793498400);
  UsageKeyFields b = NaturalKey(1793498400 + 7200);
  a.record_id = b.record_id = "stack-record-7";
  EXPECT_EQ(UsageIdentity(a), UsageIdentity(b));
}

TEST(UsageKeysTest, StampUsageHourFloorsTimesBeforeTheEpoch) {
  std::string identity(kUsageKeyBytes, '\x55');
  StampUsageHour(identity, -1);
  EXPECT_EQ(Prefix(identity), std::string("\xFF\xFF\xFF\xFF", 4));
  StampUsageHour(identity, 3599);
  EXPECT_EQ(Prefix(identity), std::string("\x00\x00\x00\x00", 4));
  EXPECT_EQ(identity.substr(kUsageHourPrefixBytes), std::string(12, '\x55'));
}

}  // namespace
}  // namespace stackbill
