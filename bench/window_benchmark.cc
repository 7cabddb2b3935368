// Stream engine throughput on pre-decoded batches: the ticker job (min, max, mean of price over
// 5, 10 and 60 minute windows sliding by 1 minute) with KEYS tickers, one thread, events in
// Arrow record batches of BATCH rows, the watermark advancing after every batch (delay 5 s) and
// every finalised row encoded for the online store and built as an Arrow table for the offline
// one — everything SourcePipeline does except the store writes and the write-ahead log.
// Usage: window_benchmark [EVENTS] [KEYS] [BATCH]; prints one JSON line.
#include <arrow/api.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "headwater/ingest/window_job.h"
#include "headwater/online/overlay_store.h"

using namespace headwater;

int main(int argc, char** argv) {
  const int64_t events = argc > 1 ? std::stoll(argv[1]) : 10'000'000;
  const int64_t keys = argc > 2 ? std::stoll(argv[2]) : 10'000;
  const int64_t batch_rows = argc > 3 ? std::stoll(argv[3]) : 65'536;
  const bool premerge = argc > 4 ? std::string(argv[4]) != "0" : true;

  registry::Definitions definitions;
  definitions.entities.push_back({"ticker", "ticker", ScalarKind::kString});
  registry::DataSource source;
  source.name = "trades";
  source.path = "trades";
  source.timestamp_field = "timestamp";
  source.watermark_delay = Duration{5'000'000};
  definitions.sources.push_back(source);
  registry::FeatureView view;
  view.name = "ticker_windows";
  view.entities = {"ticker"};
  view.source = "trades";
  for (const char* function : {"min", "max", "mean"}) {
    for (int minutes : {5, 10, 60}) {
      registry::AggregationDef aggregation{"price", function, Duration{minutes * 60'000'000LL},
                                           Duration{60'000'000}, ""};
      aggregation.name = std::string("price_") + function + "_" + std::to_string(minutes) + "m";
      view.aggregations.push_back(aggregation);
      view.features.push_back({aggregation.name, {ScalarKind::kFloat64, false}});
    }
  }
  definitions.feature_views.push_back(view);
  auto job = ingest::WindowJob::Make(definitions, definitions.feature_views[0]).ValueOrDie();

  // The input, built before the clock starts: one event per key per second of event time, in
  // time order with up to 2 s of disorder.
  std::mt19937_64 random(42);
  std::vector<std::shared_ptr<arrow::RecordBatch>> batches;
  auto schema =
      arrow::schema({arrow::field("ticker", arrow::utf8()), arrow::field("price", arrow::float64()),
                     arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO))});
  const int64_t start = 1'770'000'000'000'000;
  const double per_event_micros = 1e6 / static_cast<double>(keys);
  for (int64_t first = 0; first < events; first += batch_rows) {
    arrow::StringBuilder tickers;
    arrow::DoubleBuilder prices;
    arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO),
                                  arrow::default_memory_pool());
    for (int64_t i = first; i < std::min(events, first + batch_rows); ++i) {
      (void)tickers.Append("T" + std::to_string(random() % keys));
      (void)prices.Append(100 + static_cast<double>(random() % 10000) / 100);
      (void)times.Append(start + static_cast<int64_t>(i * per_event_micros) -
                         static_cast<int64_t>(random() % 2'000'000));
    }
    batches.push_back(
        arrow::RecordBatch::Make(schema, std::min(batch_rows, events - first),
                                 {tickers.Finish().ValueOrDie(), prices.Finish().ValueOrDie(),
                                  times.Finish().ValueOrDie()}));
  }

  // With a directory: rows are published to a RocksDB store under the server's in-memory
  // overlay, timed apart.
  std::unique_ptr<online::OnlineStore> online;
  if (argc > 5) {
    registry::RepoConfig config;
    config.repo_path = argv[5];
    auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
    online = std::make_unique<online::OverlayOnlineStore>(std::move(store));
    (void)online->CreateViews({view.name});
  }
  std::vector<int64_t> late;
  std::vector<double> finalize_ms, overlay_ms;
  int64_t rows = 0;
  Status status;
  auto started = std::chrono::steady_clock::now();
  for (const auto& batch : batches) {
    status = job.Consume(*batch, &late);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.ToString().c_str());
      return 1;
    }
    const auto finalizing = std::chrono::steady_clock::now();
    auto out =
        job.Finalize(job.op().max_event_time() - 5'000'000, /*with_table=*/false).ValueOrDie();
    if (out.rows() > 0) {  // a window end: every key's rows, merged and encoded
      const auto finalized = std::chrono::steady_clock::now();
      finalize_ms.push_back(
          std::chrono::duration<double, std::milli>(finalized - finalizing).count());
      if (online != nullptr) {  // and readable, as a stream's server publishes them
        status = online->WriteNewer(view.name, out.keys, out.values);
        if (!status.ok()) {
          std::fprintf(stderr, "%s\n", status.ToString().c_str());
          return 1;
        }
        overlay_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - finalized)
                .count());
      }
      status = job.BuildTable(&out);
    }
    rows += out.rows();
    if (premerge && out.rows() > 0) job.op().Premerge();  // as a stream does after publishing
  }
  auto quantile = [](std::vector<double> ms, double q) {
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0.0 : ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1))];
  };
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"events\": %lld, \"keys\": %lld, \"batch\": %lld, \"seconds\": %.3f, "
      "\"events_per_second\": %.0f, \"rows\": %lld, \"late\": %zu, \"peak_rss_mib\": %.0f, "
      "\"window_ends\": %zu, \"finalize_p50_ms\": %.2f, \"finalize_p99_ms\": %.2f, "
      "\"overlay_p50_ms\": %.2f, \"overlay_p99_ms\": %.2f}\n",
      static_cast<long long>(events), static_cast<long long>(keys),
      static_cast<long long>(batch_rows), seconds, static_cast<double>(events) / seconds,
      static_cast<long long>(rows), late.size(), usage.ru_maxrss / 1024.0, finalize_ms.size(),
      quantile(finalize_ms, 0.5), quantile(finalize_ms, 0.99), quantile(overlay_ms, 0.5),
      quantile(overlay_ms, 0.99));
  return 0;
}
