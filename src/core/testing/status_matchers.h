#pragma once

// Test-only: assertions on statuses that check both the canonical code and
// SPEC's product error code, as every failure test should (STYLE.md).

#include <gtest/gtest.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/error.h"

namespace stackbill::testing {

inline void ExpectError(const absl::Status& status, absl::StatusCode code,
                        std::string_view error_code) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_EQ(ErrorCode(status), error_code) << status;
}

inline absl::Status ToStatus(const absl::Status& status) { return status; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace stackbill::testing

#define STACKBILL_TEST_CONCAT_INNER(a, b) a##b
#define STACKBILL_TEST_CONCAT(a, b) STACKBILL_TEST_CONCAT_INNER(a, b)

// ASSERT_OK(expr) / EXPECT_OK(expr) for a Status or StatusOr, printing it.
#define ASSERT_OK(expr)                                                              \
  do {                                                                               \
    const absl::Status stackbill_test_status = ::stackbill::testing::ToStatus(expr); \
    ASSERT_TRUE(stackbill_test_status.ok()) << stackbill_test_status;                \
  } while (false)

#define EXPECT_OK(expr)                                                              \
  do {                                                                               \
    const absl::Status stackbill_test_status = ::stackbill::testing::ToStatus(expr); \
    EXPECT_TRUE(stackbill_test_status.ok()) << stackbill_test_status;                \
  } while (false)

// ASSERT_OK_AND_ASSIGN(lhs, expr): asserts a StatusOr is OK and moves its value.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                                            \
  STACKBILL_ASSERT_OK_AND_ASSIGN_IMPL(STACKBILL_TEST_CONCAT(stackbill_test_or_, __COUNTER__), lhs, \
                                      expr)
#define STACKBILL_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                        \
  ASSERT_TRUE(tmp.ok()) << tmp.status();                    \
  lhs = *std::move(tmp)
