#include "services/access_tokens.h"

#include <gtest/gtest.h>

namespace stackbill {
namespace {

TEST(AccessTokensTest, MintedSecretsAreRandomPrefixedAndStoredOnlyAsTheirHash) {
  auto a = MintSecret("sbt_");
  auto b = MintSecret("sbt_");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->plaintext, b->plaintext);
  EXPECT_EQ(a->plaintext.substr(0, 4), "sbt_");
  EXPECT_EQ(a->plaintext.size(), 4u + 43u);  // 32 bytes in unpadded base64url
  EXPECT_EQ(a->hash, HashSecret(a->plaintext));
  EXPECT_EQ(a->hash.find(a->plaintext), std::string::npos);
  EXPECT_EQ(a->hash.size(), 64u);
}

TEST(AccessTokensTest, HashIsSha256Hex) {
  EXPECT_EQ(HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AccessTokensTest, RandomGuidsAreVersion4AndDistinct) {
  auto a = NewRandomGuid();
  auto b = NewRandomGuid();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->ToString()[14], '4');
}

}  // namespace
}  // namespace stackbill
