#pragma once
// A test repository for the stream path: a push source of trades feeding one stream view of two
// windowed aggregations, its history one old trade; a manual clock an hour past kStart.
#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "headwater/core/clock.h"
#include "headwater/ingest/stream_pipeline.h"
#include "headwater/offline/table_file.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/source_schema.h"

namespace headwater::ingest {

namespace fs = std::filesystem;

constexpr int64_t kMinute = 60'000'000;
constexpr int64_t kStart = 1'772'442'000'000'000;  // 2026-03-02T09:00:00Z

inline std::shared_ptr<arrow::Schema> TradeSchema() {
  return arrow::schema(
      {arrow::field("ticker", arrow::utf8()), arrow::field("price", arrow::float64()),
       arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

// Trades of two tickers, one every 20 s from `first` for `minutes`.
inline std::shared_ptr<arrow::RecordBatch> Trades(int64_t first, int minutes) {
  arrow::StringBuilder tickers;
  arrow::DoubleBuilder prices;
  arrow::TimestampBuilder times(TradeSchema()->field(2)->type(), arrow::default_memory_pool());
  for (int i = 0; i < minutes * 3; ++i) {
    EXPECT_TRUE(tickers.Append(i % 2 ? "ETH" : "BTC").ok());
    EXPECT_TRUE(prices.Append(100.0 + i).ok());
    EXPECT_TRUE(times.Append(first + i * 20'000'000).ok());
  }
  return arrow::RecordBatch::Make(
      TradeSchema(), minutes * 3,
      {tickers.Finish().ValueOrDie(), prices.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

class TradeRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("hw_trades_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A repository with a push source feeding one stream view, its history one old trade.
  registry::RepoConfig MakeRepository(const fs::path& repo) {
    fs::create_directories(repo / "data" / "trades");
    auto history =
        arrow::Table::FromRecordBatches({Trades(kStart - 600 * kMinute, 1)}).ValueOrDie();
    EXPECT_TRUE(offline::WriteTableFile(*history, repo / "data" / "trades" / "0.parquet").ok());
    auto config = registry::ParseRepoConfig("project: crash\n", repo).ValueOrDie();
    config.registry_path = repo / "data" / "registry.json";
    registry::Definitions definitions;
    EXPECT_TRUE(registry::ParseDefinitions(
                    "entities: [{name: ticker, join_keys: [ticker], value_type: STRING}]\n"
                    "sources:\n"
                    "  - {name: trades, path: data/trades, timestamp_field: timestamp}\n"
                    "  - {name: trades_push, type: push, batch_source: trades}\n"
                    "feature_views:\n"
                    "  - name: windows\n    entities: [ticker]\n    source: trades_push\n"
                    "    aggregations:\n"
                    "      - {column: price, function: sum, time_window: 2m, slide_interval: 1m}\n"
                    "      - {column: price, function: count, time_window: 1m}\n",
                    "defs.yaml", &definitions)
                    .ok());
    Status valid = registry::Validate(config, &definitions);
    EXPECT_TRUE(valid.ok()) << valid.message();
    definitions_ = definitions;
    return config;
  }

  // What a repository holds after a run: every offline window row, in file order, and the
  // online values.
  struct State {
    std::string offline;
    std::string online;
    bool operator==(const State&) const = default;
  };
  State Read(const registry::RepoConfig& config) {
    State state;
    auto files = registry::ListSourceFiles(config.Resolve("data/offline/windows"));
    if (files.ok()) {
      std::vector<std::shared_ptr<arrow::Table>> tables;
      for (const auto& file : *files) tables.push_back(offline::ReadTableFile(file).ValueOrDie());
      if (!tables.empty()) {
        auto all = arrow::ConcatenateTables(tables).ValueOrDie();
        state.offline = all->ToString();
      }
    }
    auto store = online::OpenOnlineStore(config, online::OpenMode::kReadOnly).ValueOrDie();
    EXPECT_TRUE(store
                    ->Scan("windows",
                           [&](std::string_view key, std::string_view value) {
                             state.online += std::string(key) + "=" + std::string(value) + ";";
                           })
                    .ok());
    return state;
  }

  Result<std::unique_ptr<SourcePipeline>> Open(const registry::RepoConfig& config,
                                               online::OnlineStore* store) {
    return SourcePipeline::Open(config, definitions_, *definitions_.FindSource("trades_push"),
                                store, clock_);
  }

  fs::path root_;
  registry::Definitions definitions_;
  ManualClock clock_{Timestamp{kStart + 60 * kMinute}};
};

}  // namespace headwater::ingest
