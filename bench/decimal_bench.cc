#include <benchmark/benchmark.h>

#include "core/decimal.h"
#include "core/time.h"

namespace stackbill {
namespace {

void BM_ParseQuantity(benchmark::State& state, std::string_view text) {
  for (auto _ : state) {
    auto quantity = Quantity::Parse(text);
    benchmark::DoNotOptimize(quantity);
  }
}
BENCHMARK_CAPTURE(BM_ParseQuantity, azure_hourly, std::string_view("2.0000000000"));
BENCHMARK_CAPTURE(BM_ParseQuantity, fraction, std::string_view("12345.6789"));

void BM_Multiply(benchmark::State& state) {
  const Quantity quantity = Quantity::Parse("12345.6789").value();
  const UnitPrice price = UnitPrice::Parse("0.0123456789").value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(quantity);
    auto amount = Multiply(quantity, price);
    benchmark::DoNotOptimize(amount);
  }
}
BENCHMARK(BM_Multiply);

void BM_RoundHalfEven(benchmark::State& state) {
  const Amount amount = Amount::Parse("152.41578750190521").value();
  for (auto _ : state) {
    benchmark::DoNotOptimize(amount);
    auto rounded = RoundHalfEven(amount, 2);
    benchmark::DoNotOptimize(rounded);
  }
}
BENCHMARK(BM_RoundHalfEven);

void BM_ParseTimestamp(benchmark::State& state, std::string_view text) {
  for (auto _ : state) {
    auto timestamp = Timestamp::Parse(text);
    benchmark::DoNotOptimize(timestamp);
  }
}
BENCHMARK_CAPTURE(BM_ParseTimestamp, zulu, std::string_view("2026-11-01T00:00:00Z"));
BENCHMARK_CAPTURE(BM_ParseTimestamp, fraction_and_offset,
                  std::string_view("2021-01-02T01:30:12.6941233+00:00"));

}  // namespace
}  // namespace stackbill
