#pragma once

// STACKBILL_RETURN_IF_ERROR / STACKBILL_ASSIGN_OR_RETURN: the status plumbing
// of every layer (Debian's Abseil has no status macros of its own).

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Status plumbing. __COUNTER__ names each temporary uniquely, so that a macro
// used inside a lambda passed to another does not shadow its variable.
#define STACKBILL_STATUS_CONCAT_INNER(a, b) a##b
#define STACKBILL_STATUS_CONCAT(a, b) STACKBILL_STATUS_CONCAT_INNER(a, b)

// The macro arguments `tmp` and `lhs` name a declared variable, which cannot be
// parenthesised; bugprone-macro-parentheses is silenced for these two macros.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define STACKBILL_RETURN_IF_ERROR(expr) \
  STACKBILL_RETURN_IF_ERROR_IMPL(STACKBILL_STATUS_CONCAT(stackbill_status_, __COUNTER__), expr)
#define STACKBILL_RETURN_IF_ERROR_IMPL(tmp, expr) \
  do {                                            \
    if (absl::Status tmp = (expr); !tmp.ok()) {   \
      return tmp;                                 \
    }                                             \
  } while (false)

#define STACKBILL_ASSIGN_OR_RETURN(lhs, expr)                                                      \
  STACKBILL_ASSIGN_OR_RETURN_IMPL(STACKBILL_STATUS_CONCAT(stackbill_status_or_, __COUNTER__), lhs, \
                                  expr)
#define STACKBILL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = *std::move(tmp)
// NOLINTEND(bugprone-macro-parentheses)
