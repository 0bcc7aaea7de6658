#include "core/error.h"

#include "absl/strings/cord.h"
#include "gtest/gtest.h"

namespace stackbill {
namespace {

TEST(ErrorTest, MakeErrorCarriesCodeMessageAndProductCode) {
  const absl::Status status =
      MakeError(absl::StatusCode::kAlreadyExists, "CloudAlreadyRegistered", "cloud c1 exists");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(status.message(), "cloud c1 exists");
  EXPECT_EQ(ErrorCode(status), "CloudAlreadyRegistered");
}

TEST(ErrorTest, ConvenienceConstructorsUseTheirCanonicalCodes) {
  struct Case {
    absl::Status status;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {InvalidArgumentError("E", "m"), absl::StatusCode::kInvalidArgument},
      {NotFoundError("E", "m"), absl::StatusCode::kNotFound},
      {AlreadyExistsError("E", "m"), absl::StatusCode::kAlreadyExists},
      {FailedPreconditionError("E", "m"), absl::StatusCode::kFailedPrecondition},
      {PermissionDeniedError("E", "m"), absl::StatusCode::kPermissionDenied},
      {OutOfRangeError("E", "m"), absl::StatusCode::kOutOfRange},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), c.code) << c.status;
    EXPECT_EQ(ErrorCode(c.status), "E") << c.status;
    EXPECT_EQ(c.status.message(), "m");
  }
}

TEST(ErrorTest, StatusWithoutProductCodeHasEmptyErrorCode) {
  EXPECT_EQ(ErrorCode(absl::InternalError("boom")), "");
  EXPECT_EQ(ErrorCode(absl::OkStatus()), "");
  EXPECT_EQ(ErrorCode(MakeError(absl::StatusCode::kInternal, "", "boom")), "");
}

TEST(ErrorTest, AnnotatePrefixesContextAndKeepsCodeAndProductCode) {
  const absl::Status annotated =
      Annotate(NotFoundError("UnknownMeter", "meter m1 is not known"), "record 7");
  EXPECT_EQ(annotated.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(annotated.message(), "record 7: meter m1 is not known");
  EXPECT_EQ(ErrorCode(annotated), "UnknownMeter");
}

TEST(ErrorTest, AnnotateLeavesOkAlone) { EXPECT_TRUE(Annotate(absl::OkStatus(), "ctx").ok()); }

TEST(ErrorTest, AnnotateKeepsOtherPayloads) {
  absl::Status status = InvalidArgumentError("InvalidGuid", "bad");
  status.SetPayload("type.example/extra", absl::Cord("x"));
  const absl::Status annotated = Annotate(status, "ctx");
  ASSERT_TRUE(annotated.GetPayload("type.example/extra").has_value());
  EXPECT_EQ(std::string(*annotated.GetPayload("type.example/extra")), "x");
}

}  // namespace
}  // namespace stackbill
