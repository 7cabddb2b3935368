// The point-in-time join kernel alone (no Parquet): build on N entity rows, consume M feature
// rows in 1M-row batches, finish. Run: build/bench/point_in_time_join_benchmark
#include <arrow/api.h>
#include <benchmark/benchmark.h>

#include <random>

#include "headwater/engine/point_in_time_join.h"

namespace headwater::engine {
namespace {

constexpr int64_t kSpan = 30LL * 86400 * 1000000;  // 30 days in microseconds

std::shared_ptr<arrow::Array> RandomInts(int64_t n, int64_t bound, std::mt19937_64& random) {
  arrow::Int64Builder builder;
  (void)builder.Reserve(n);
  for (int64_t i = 0; i < n; ++i) builder.UnsafeAppend(static_cast<int64_t>(random() % bound));
  return builder.Finish().ValueOrDie();
}

void BM_PointInTimeJoin(benchmark::State& state) {
  const int64_t entity_rows = state.range(0), feature_rows = state.range(1), keys = 100'000;
  std::mt19937_64 random(1);
  auto entity_keys = RandomInts(entity_rows, keys, random);
  std::vector<int64_t> entity_times(entity_rows);
  for (auto& t : entity_times) t = static_cast<int64_t>(random() % kSpan);
  auto feature_keys = RandomInts(feature_rows, keys, random);
  std::vector<int64_t> feature_times(feature_rows), created(feature_rows);
  for (int64_t i = 0; i < feature_rows; ++i) {
    feature_times[i] = static_cast<int64_t>(random() % kSpan);
    created[i] = feature_times[i];
  }
  const int64_t batch = 1 << 20;
  for (auto _ : state) {
    auto join = PointInTimeJoin::Make({KeyColumn::Make(entity_keys).ValueOrDie()}, entity_times,
                                      Duration{7LL * 86400 * 1000000})
                    .ValueOrDie();
    JoinScratch scratch;
    for (int64_t start = 0; start < feature_rows; start += batch) {
      int64_t n = std::min(batch, feature_rows - start);
      std::vector<KeyColumn> keys_batch{
          KeyColumn::Make(feature_keys->Slice(start, n)).ValueOrDie()};
      join->Consume(&scratch, keys_batch, feature_times.data() + start, nullptr,
                    created.data() + start, n, start);
    }
    benchmark::DoNotOptimize(join->Finish());
  }
  state.SetItemsProcessed(state.iterations() * feature_rows);
}
BENCHMARK(BM_PointInTimeJoin)->Args({1'000'000, 10'000'000})->Unit(benchmark::kMillisecond);

// The entity side alone: key index, sort by (key, time), the candidate table, and Finish's pass
// over it, for N entity rows of N / 10 keys on T threads.
void BM_EntitySide(benchmark::State& state) {
  const int64_t entity_rows = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  std::mt19937_64 random(1);
  auto entity_keys = RandomInts(entity_rows, entity_rows / 10, random);
  std::vector<int64_t> entity_times(entity_rows);
  for (auto& t : entity_times) t = static_cast<int64_t>(random() % kSpan);
  for (auto _ : state) {
    auto join = PointInTimeJoin::Make({KeyColumn::Make(entity_keys).ValueOrDie()}, entity_times,
                                      Duration{0}, threads)
                    .ValueOrDie();
    benchmark::DoNotOptimize(join->Finish());
  }
  state.SetItemsProcessed(state.iterations() * entity_rows);
}
BENCHMARK(BM_EntitySide)
    ->Args({10'000'000, 1})
    ->Args({10'000'000, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The key index alone: N entity rows of N / 10 keys.
void BM_KeyIndexBuild(benchmark::State& state) {
  const int64_t rows = state.range(0);
  std::mt19937_64 random(1);
  auto keys = RandomInts(rows, rows / 10, random);
  for (auto _ : state) {
    benchmark::DoNotOptimize(KeyIndex::Build({KeyColumn::Make(keys).ValueOrDie()}, rows));
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_KeyIndexBuild)->Arg(10'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace headwater::engine

BENCHMARK_MAIN();
