// Power loss at every step of the durable writes of a stream checkpoint and of an offline
// append (core/fault_injection.h): the reopened state is always a committed one — never a
// checkpoint naming a part file that is gone, never a partial Parquet file — and the run then
// ends where an uninterrupted one ends.
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/fault_injection.h"
#include "headwater/ingest/stream_pipeline.h"
#include "headwater/ingest/writes.h"
#include "headwater/offline/table_file.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/source_schema.h"

namespace headwater::ingest {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMinute = 60'000'000;
constexpr int64_t kStart = 1'772'442'000'000'000;  // 2026-03-02T09:00:00Z

std::shared_ptr<arrow::Schema> TradeSchema() {
  return arrow::schema(
      {arrow::field("ticker", arrow::utf8()), arrow::field("price", arrow::float64()),
       arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
}

// Trades of two tickers, one every 20 s from `first` for `minutes`.
std::shared_ptr<arrow::RecordBatch> Trades(int64_t first, int minutes) {
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

class CheckpointCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("hw_crash_" + std::to_string(::getpid()) + "_" +
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

TEST_F(CheckpointCrashTest, PowerLossAtAnyStepOfACheckpointLeavesACommittedState) {
  // The uninterrupted run: two pushes, each followed by a checkpoint.
  const auto reference_config = MakeRepository(root_ / "reference");
  int64_t checkpoint_steps = 0;
  {
    auto store =
        online::OpenOnlineStore(reference_config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(reference_config, store.get()).ValueOrDie();
    ASSERT_TRUE(pipeline->Push(*Trades(kStart, 5)).ok());
    ASSERT_TRUE(pipeline->Checkpoint().ok());
    ASSERT_TRUE(pipeline->Push(*Trades(kStart + 5 * kMinute, 5)).ok());
    PowerLossAtStep counting(INT64_MAX);
    ASSERT_TRUE(pipeline->Checkpoint().ok());
    checkpoint_steps = counting.steps();
  }
  const State reference = Read(reference_config);
  ASSERT_FALSE(reference.offline.empty());
  // A part file, a checkpoint: two writes of four steps each, at least.
  ASSERT_GE(checkpoint_steps, 8);

  for (int64_t crash_at = 0; crash_at <= checkpoint_steps; ++crash_at) {
    SCOPED_TRACE("crash at step " + std::to_string(crash_at));
    const auto config = MakeRepository(root_ / ("crash_" + std::to_string(crash_at)));
    {
      auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
      auto pipeline = Open(config, store.get()).ValueOrDie();
      ASSERT_TRUE(pipeline->Push(*Trades(kStart, 5)).ok());
      ASSERT_TRUE(pipeline->Checkpoint().ok());
      ASSERT_TRUE(pipeline->Push(*Trades(kStart + 5 * kMinute, 5)).ok());
      PowerLossAtStep power(crash_at);
      Status checkpointed = pipeline->Checkpoint();
      EXPECT_EQ(checkpointed.ok(), crash_at == checkpoint_steps);
      pipeline.reset();  // the process dies here: nothing more is written
      power.CutPower();
    }
    // What survived names no part file that is gone: every part the checkpoint commits exists.
    {
      auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
      auto pipeline = Open(config, store.get());
      ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
      auto files = registry::ListSourceFiles(config.Resolve("data/offline/windows")).ValueOrDie();
      for (const auto& file : files) {
        auto table = offline::ReadTableFile(file);
        ASSERT_TRUE(table.ok()) << file << ": " << table.status().message();
      }
      // The reopened pipeline replays the write-ahead log past its checkpoint and ends where
      // the uninterrupted run ended.
      ASSERT_TRUE((*pipeline)->Checkpoint().ok());
    }
    EXPECT_EQ(Read(config), reference);
  }
}

TEST_F(CheckpointCrashTest, PowerLossDuringAnOfflineAppendLeavesTheFileWholeOrAbsent) {
  const auto config = MakeRepository(root_ / "append");
  const registry::DataSource& batch = *definitions_.FindSource("trades");
  auto rows = arrow::Table::FromRecordBatches({Trades(kStart, 2)}).ValueOrDie();
  for (int64_t crash_at = 0; crash_at <= 4; ++crash_at) {
    SCOPED_TRACE("crash at step " + std::to_string(crash_at));
    const auto before = registry::ListSourceFiles(config.Resolve(batch.path)).ValueOrDie();
    PushResult pushed;
    {
      PowerLossAtStep power(crash_at);
      auto result =
          Push(config, definitions_, "trades_push", *rows, {false, true}, nullptr, nullptr, clock_);
      EXPECT_EQ(result.ok(), crash_at == 4);
      if (result.ok()) pushed = *result;
      power.CutPower();
    }
    const auto after = registry::ListSourceFiles(config.Resolve(batch.path)).ValueOrDie();
    // Either nothing was appended, or one whole file that reads back as the pushed rows.
    if (crash_at < 4) {
      EXPECT_EQ(after, before);
    } else {
      ASSERT_EQ(after.size(), before.size() + 1);
      auto read = offline::ReadTableFile(config.Resolve(batch.path) / pushed.offline_file);
      ASSERT_TRUE(read.ok()) << read.status().message();
      EXPECT_EQ((*read)->num_rows(), rows->num_rows());
    }
    // The source still reads: no partial file is listed.
    EXPECT_TRUE(registry::ReadSourceSchema(config.Resolve(batch.path)).ok());
  }
}

}  // namespace
}  // namespace headwater::ingest
