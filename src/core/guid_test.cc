#include "core/guid.h"

#include <string>
#include <unordered_set>

#include "absl/container/flat_hash_set.h"
#include "core/error.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

constexpr std::string_view kCanonical = "fab6eb84-500b-4a09-a8ca-7358f8bbaea5";

void ExpectInvalidGuid(std::string_view text) {
  SCOPED_TRACE(std::string(text));
  const absl::Status status = Guid::Parse(text).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(ErrorCode(status), "InvalidGuid") << status;
}

TEST(GuidTest, ParsesAnyCaseWithOrWithoutHyphens) {
  for (std::string_view text :
       {"fab6eb84-500b-4a09-a8ca-7358f8bbaea5", "FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5",
        "Fab6eB84-500b-4A09-a8Ca-7358f8BBaea5", "fab6eb84500b4a09a8ca7358f8bbaea5",
        "FAB6EB84500B4A09A8CA7358F8BBAEA5"}) {
    SCOPED_TRACE(std::string(text));
    EXPECT_EQ(Guid::Parse(text).value().ToString(), kCanonical);
  }
}

TEST(GuidTest, PrintsLowerCaseHyphenated) {
  const Guid guid = Guid::Parse("FAB6EB84500B4A09A8CA7358F8BBAEA5").value();
  EXPECT_EQ(guid.ToString(), kCanonical);
  EXPECT_EQ(guid.bytes()[0], 0xfa);
  EXPECT_EQ(guid.bytes()[15], 0xa5);
}

TEST(GuidTest, SpellingsOfOneGuidAreEqual) {
  EXPECT_EQ(Guid::Parse("FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5").value(),
            Guid::Parse("fab6eb84500b4a09a8ca7358f8bbaea5").value());
  EXPECT_NE(Guid::Parse("fab6eb84500b4a09a8ca7358f8bbaea5").value(),
            Guid::Parse("fab6eb84500b4a09a8ca7358f8bbaea6").value());
}

TEST(GuidTest, RejectsWrongLength) {
  ExpectInvalidGuid("");
  ExpectInvalidGuid("fab6eb84-500b-4a09-a8ca-7358f8bbaea");
  ExpectInvalidGuid("fab6eb84-500b-4a09-a8ca-7358f8bbaea5a");
  ExpectInvalidGuid("fab6eb84500b4a09a8ca7358f8bbaea");
  ExpectInvalidGuid("fab6eb84500b4a09a8ca7358f8bbaea5a");
}

TEST(GuidTest, RejectsMisplacedHyphens) {
  ExpectInvalidGuid("fab6eb8-4500b-4a09-a8ca-7358f8bbaea5");
  ExpectInvalidGuid("fab6eb84-500b4-a09-a8ca-7358f8bbaea5");
  ExpectInvalidGuid("fab6eb84-500b-4a09-a8ca7-358f8bbaea5");
  ExpectInvalidGuid("fab6eb84--500b4a09a8ca-7358f8bbaea5");
}

TEST(GuidTest, RejectsNonHexDigits) {
  ExpectInvalidGuid("gab6eb84-500b-4a09-a8ca-7358f8bbaea5");
  ExpectInvalidGuid("fab6eb84500b4a09a8ca7358f8bbaeaz");
  ExpectInvalidGuid("fab6eb84 500b 4a09 a8ca 7358f8bbaea5");
}

TEST(GuidTest, RejectsBracesAndWhitespace) {
  ExpectInvalidGuid("{fab6eb84-500b-4a09-a8ca-7358f8bbaea5}");
  ExpectInvalidGuid("{fab6eb84500b4a09a8ca7358f8bbaea5}");
  ExpectInvalidGuid(" fab6eb84-500b-4a09-a8ca-7358f8bbaea5");
  ExpectInvalidGuid("fab6eb84-500b-4a09-a8ca-7358f8bbaea5\n");
}

TEST(GuidTest, ErrorsNameTheOffendingPosition) {
  const absl::Status status = Guid::Parse("fab6eb84-500b-4a09-a8ca-7358f8bbaeaX").status();
  EXPECT_NE(status.message().find("position 36"), std::string_view::npos) << status;
  const absl::Status hyphen = Guid::Parse("fab6eb84x500b-4a09-a8ca-7358f8bbaea5").status();
  EXPECT_NE(hyphen.message().find("position 9"), std::string_view::npos) << hyphen;
}

TEST(GuidTest, IsCanonicalOnlyForLowerCaseHyphenated) {
  EXPECT_TRUE(Guid::IsCanonical(kCanonical));
  EXPECT_TRUE(Guid::IsCanonical("00000000-0000-0000-0000-000000000000"));
  EXPECT_FALSE(Guid::IsCanonical("FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5"));
  EXPECT_FALSE(Guid::IsCanonical("fab6eb84500b4a09a8ca7358f8bbaea5"));
  EXPECT_FALSE(Guid::IsCanonical("{fab6eb84-500b-4a09-a8ca-7358f8bbaea5}"));
  EXPECT_FALSE(Guid::IsCanonical("not a guid"));
}

TEST(GuidTest, DefaultIsNil) {
  EXPECT_TRUE(Guid().IsNil());
  EXPECT_EQ(Guid().ToString(), "00000000-0000-0000-0000-000000000000");
  EXPECT_FALSE(Guid::Parse(kCanonical).value().IsNil());
}

TEST(GuidTest, HashesAgreeForEqualGuids) {
  const Guid upper = Guid::Parse("FAB6EB84-500B-4A09-A8CA-7358F8BBAEA5").value();
  const Guid lower = Guid::Parse(kCanonical).value();
  EXPECT_EQ(std::hash<Guid>()(upper), std::hash<Guid>()(lower));
  std::unordered_set<Guid> std_set = {upper, lower, Guid()};
  EXPECT_EQ(std_set.size(), 2u);
  absl::flat_hash_set<Guid> absl_set = {upper, lower, Guid()};
  EXPECT_EQ(absl_set.size(), 2u);
}

}  // namespace
}  // namespace stackbill
