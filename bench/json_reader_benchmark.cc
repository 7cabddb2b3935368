// What bounding JSON input costs: ParseJson (the nesting and surrogate scan, then RapidJSON's
// parse) against RapidJSON's parse alone — the path every request body took before the bound —
// and the scan alone, on the bodies the server sees: a 1 x 10 and a 100 x 10 online read, and a
// 1,000-row push. Run: build/bench/json_reader_benchmark --benchmark_repetitions=9
// --benchmark_report_aggregates_only=true (the machine is noisy: read the medians).
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>

#include <string>

#include "headwater/core/json_reader.h"

namespace {

std::string OnlineRequest(int entities) {
  std::string body = R"({"features": [)";
  for (int f = 0; f < 10; ++f) body += (f ? ", " : "") + ("\"stats:f" + std::to_string(f) + "\"");
  body += R"(], "entities": {"driver_id": [)";
  for (int e = 0; e < entities; ++e) body += (e ? ", " : "") + std::to_string(1'000'000 + e * 7);
  return body + "]}}";
}

std::string PushRequest(int rows) {
  std::string ids, times, values;
  for (int r = 0; r < rows; ++r) {
    const char* comma = r ? ", " : "";
    ids += comma + std::to_string(1000 + r);
    times += std::string(comma) + "\"2026-03-02T09:00:00.123456Z\"";
    values += comma + std::to_string(r * 0.25);
  }
  return R"({"push_source_name": "stats_push", "to": "online", "df": {"driver_id": [)" + ids +
         R"(], "ts": [)" + times + R"(], "rate": [)" + values + "]}}";
}

const std::string& Body(int which) {
  static const std::string bodies[] = {OnlineRequest(1), OnlineRequest(100), PushRequest(1000)};
  return bodies[which];
}

void BM_RapidJsonParseOnly(benchmark::State& state) {
  const std::string& body = Body(static_cast<int>(state.range(0)));
  rapidjson::Document document;
  for (auto _ : state) {
    document.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
    benchmark::DoNotOptimize(document.HasParseError());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_ParseJsonBounded(benchmark::State& state) {
  const std::string& body = Body(static_cast<int>(state.range(0)));
  rapidjson::Document document;
  for (auto _ : state) {
    benchmark::DoNotOptimize(headwater::ParseJson(body, "the body", &document).ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void BM_CheckJsonTextOnly(benchmark::State& state) {
  const std::string& body = Body(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(headwater::CheckJsonText(body, "the body").ok());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// Arg: 0 = online 1 x 10, 1 = online 100 x 10, 2 = push of 1,000 rows.
BENCHMARK(BM_RapidJsonParseOnly)->Arg(0)->Arg(1)->Arg(2);
BENCHMARK(BM_ParseJsonBounded)->Arg(0)->Arg(1)->Arg(2);
BENCHMARK(BM_CheckJsonTextOnly)->Arg(0)->Arg(1)->Arg(2);

}  // namespace

BENCHMARK_MAIN();
