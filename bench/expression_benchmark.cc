// What an on-demand expression costs per evaluation: Headwater's evaluator (engine/expression.h)
// against the same arithmetic through Arrow compute (a cast and two kernel calls), at the sizes
// of one online request (1 and 100 rows) and of a training set (1M rows): `(a + b) * 2` over a
// Float64 and an Int64 column. Run: build/bench/expression_benchmark --benchmark_repetitions=9
// --benchmark_report_aggregates_only=true (the machine is noisy: read the medians).
#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <benchmark/benchmark.h>

#include "headwater/engine/expression.h"

namespace {

using headwater::engine::ExprColumn;
using headwater::engine::ExprType;

void BM_HeadwaterExpression(benchmark::State& state) {
  const int64_t rows = state.range(0);
  ExprColumn a, b;
  a.type = ExprType::kFloat64;
  b.type = ExprType::kInt64;
  a.length = b.length = rows;
  for (int64_t i = 0; i < rows; ++i) {
    a.doubles.push_back(0.5 * static_cast<double>(i));
    b.ints.push_back(i);
  }
  auto expression = headwater::engine::Expression::Compile(
                        "(a + b) * 2", {{"a", ExprType::kFloat64}, {"b", ExprType::kInt64}})
                        .ValueOrDie();
  for (auto _ : state) {
    auto result = expression.Evaluate({&a, &b}, rows, 0).ValueOrDie();
    benchmark::DoNotOptimize(result.doubles.data());
  }
  state.SetItemsProcessed(state.iterations() * rows);
}

void BM_ArrowCompute(benchmark::State& state) {
  const int64_t rows = state.range(0);
  arrow::DoubleBuilder doubles;
  arrow::Int64Builder ints;
  for (int64_t i = 0; i < rows; ++i) {
    (void)doubles.Append(0.5 * static_cast<double>(i));
    (void)ints.Append(i);
  }
  auto a = doubles.Finish().ValueOrDie();
  auto b = ints.Finish().ValueOrDie();
  for (auto _ : state) {
    auto cast = arrow::compute::Cast(*b, arrow::float64()).ValueOrDie();
    auto sum = arrow::compute::CallFunction("add", {a, cast}).ValueOrDie();
    auto result = arrow::compute::CallFunction("multiply", {sum, arrow::Datum(2.0)}).ValueOrDie();
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations() * rows);
}

BENCHMARK(BM_HeadwaterExpression)->Arg(1)->Arg(100)->Arg(1'000'000);
BENCHMARK(BM_ArrowCompute)->Arg(1)->Arg(100)->Arg(1'000'000);

}  // namespace

int main(int argc, char** argv) {
  if (!arrow::compute::Initialize().ok()) return 1;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
