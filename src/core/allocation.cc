#include "core/allocation.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/status_macros.h"

namespace stackbill {

absl::StatusOr<std::vector<Amount>> AllocateLargestRemainder(Amount amount,
                                                             const Currency& currency,
                                                             std::span<const Quantity> weights) {
  if (weights.empty()) {
    return InvalidArgumentError("InvalidAllocation", "an amount is allocated over no rows");
  }
  const int128 unit = Pow10(Amount::kScale - currency.minor_units);
  if (amount.raw() % unit != 0) {
    return InvalidArgumentError("InvalidAllocation", "the amount " + amount.ToString() +
                                                         " is finer than a minor unit of " +
                                                         std::string(currency.code));
  }
  const bool negative = amount.IsNegative();
  const int128 units = (negative ? -amount.raw() : amount.raw()) / unit;

  std::vector<int128> w(weights.size());
  int128 total = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i].IsNegative()) {
      return InvalidArgumentError("InvalidAllocation", "a row's weight is negative");
    }
    w[i] = weights[i].raw();
    if (__builtin_add_overflow(total, w[i], &total)) {
      return OutOfRangeError("OutOfRange", "the rows' quantities overflow their sum");
    }
  }
  if (total == 0) {  // nothing to weigh by: equal shares
    std::fill(w.begin(), w.end(), 1);
    total = static_cast<int128>(w.size());
  }

  std::vector<int128> parts(w.size());
  std::vector<int128> remainders(w.size());
  int128 given = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    int128 share = 0;
    if (__builtin_mul_overflow(units, w[i], &share)) {
      return OutOfRangeError("OutOfRange", "an allocation share overflows");
    }
    parts[i] = share / total;
    remainders[i] = share % total;
    given += parts[i];
  }
  std::vector<std::size_t> order(w.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainders[a] > remainders[b]; });
  // Fewer units are left than rows: each share lost less than one.
  for (int128 left = units - given, k = 0; left > 0; --left, ++k) {
    ++parts[order[static_cast<std::size_t>(k)]];
  }

  std::vector<Amount> out;
  out.reserve(parts.size());
  for (int128 part : parts) {
    STACKBILL_ASSIGN_OR_RETURN(Amount a, Amount::FromRaw((negative ? -part : part) * unit));
    out.push_back(a);
  }
  return out;
}

}  // namespace stackbill
