#pragma once

// Largest-remainder allocation (SPEC §5, the reconciliation export): an
// invoice line's rounded amount split over the usage rows it was rated from,
// in whole minor units, so that the rows sum exactly to the line — and so
// the lines' rows to the invoice. Exact integer arithmetic, no rounding rule
// of its own (R14: the line was rounded once, by RoundToCurrency).

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/decimal.h"

namespace stackbill {

// Splits `amount` (in whole minor units of `currency`) over `weights`
// (non-negative quantities) in proportion: every part is its exact share
// rounded toward zero, and the minor units left over go one each to the rows
// with the largest remainders (ties: the earlier row). The parts sum exactly
// to `amount` and share its sign. All weights zero: equal shares.
// InvalidArgument / "InvalidAllocation" for no weights, a negative weight or
// an amount finer than the minor unit; OutOfRange when a share does not fit
// the arithmetic (never wrapped).
absl::StatusOr<std::vector<Amount>> AllocateLargestRemainder(Amount amount,
                                                             const Currency& currency,
                                                             std::span<const Quantity> weights);

}  // namespace stackbill
