#pragma once

// Test-only: assertions on statuses that check both the canonical code and
// SPEC's product error code, as every failure test should (STYLE.md).

#include <gtest/gtest.h>

#include <string_view>

#include "absl/status/status.h"
#include "core/error.h"

namespace stackbill::testing {

inline void ExpectError(const absl::Status& status, absl::StatusCode code,
                        std::string_view error_code) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_EQ(ErrorCode(status), error_code) << status;
}

}  // namespace stackbill::testing
