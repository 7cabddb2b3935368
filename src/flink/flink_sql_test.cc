#include "headwater/flink/flink_sql.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "headwater/offline/table_file.h"
#include "headwater/registry/loader.h"

namespace headwater::flink {
namespace {

namespace fs = std::filesystem;

// A repository whose Kafka source of trades feeds stream views given by the test.
class FlinkSqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("hw_flink_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "data" / "trades");
    auto schema = arrow::schema(
        {arrow::field("ticker", arrow::utf8()), arrow::field("price", arrow::float64()),
         arrow::field("size", arrow::int64()), arrow::field("venue", arrow::utf8()),
         arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
    auto empty = arrow::Table::MakeEmpty(schema).ValueOrDie();
    ASSERT_TRUE(offline::WriteTableFile(*empty, root_ / "data" / "trades" / "0.parquet").ok());
  }
  void TearDown() override { fs::remove_all(root_); }

  Result<FlinkPipeline> Compile(const std::string& views, const std::string& config_text = "") {
    auto config =
        registry::ParseRepoConfig(
            "project: ticker\nstream_engine: {type: flink, parallelism: 2}\n" + config_text, root_)
            .ValueOrDie();
    registry::Definitions definitions;
    std::string text =
        "entities: [{name: ticker, join_keys: [ticker], value_type: STRING}]\n"
        "sources:\n"
        "  - {name: trades, path: data/trades, timestamp_field: timestamp}\n"
        "  - {name: trades_kafka, type: kafka, batch_source: trades, watermark_delay: 5s,\n"
        "     bootstrap_servers: '127.0.0.1:9092', topic: trades}\n"
        "  - {name: trades_push, type: push, batch_source: trades}\n"
        "feature_views:\n" +
        views;
    ARROW_RETURN_NOT_OK(registry::ParseDefinitions(text, "defs.yaml", &definitions));
    ARROW_RETURN_NOT_OK(registry::Validate(config, &definitions));
    return CompileFlink(config, definitions);
  }

  fs::path root_;
};

constexpr const char* kWindows =
    "  - name: windows\n    entities: [ticker]\n    source: trades_kafka\n"
    "    allowed_lateness: 2s\n"
    "    aggregations:\n"
    "      - {column: price, function: mean, time_window: 5m, slide_interval: 1m}\n"
    "      - {column: price, function: last, time_window: 1m}\n"
    "      - {column: size, function: sum, time_window: 1h, slide_interval: 2m}\n";

TEST_F(FlinkSqlTest, OneTileJobPerKafkaStreamView) {
  auto pipeline = Compile(kWindows);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  ASSERT_EQ(pipeline->jobs.size(), 1u);
  const FlinkJob& job = pipeline->jobs[0];
  EXPECT_EQ(job.job_name, "headwater-ticker-windows");
  EXPECT_EQ(job.tile_topic, "headwater-ticker-windows-tiles");
  const std::string& sql = job.sql;
  auto has = [&](const std::string& text) {
    EXPECT_NE(sql.find(text), std::string::npos) << text << "\n" << sql;
  };
  has("SET 'parallelism.default' = '2';");
  has("SET 'pipeline.name' = 'headwater-ticker-windows';");
  has("'topic' = 'trades'");
  // The watermark trails by delay + lateness + 1 ms, emitted after every event.
  has("headwater_rowtime - INTERVAL '0 00:00:07.001' DAY TO SECOND(3)");
  has("'scan.watermark.emit.strategy' = 'on-event'");
  // Tiles of one grid step (gcd of 1m and 2m), one tile per distinct column.
  has("TUMBLE(TABLE `windows__valid`, DESCRIPTOR(headwater_rowtime), "
      "INTERVAL '0 00:01:00.000' DAY TO SECOND(3))");
  has("headwater_tile(`price__value`, headwater_us, headwater_offset)");
  has("headwater_tile(`size__value`, headwater_us, headwater_offset)");
  has("`size__last_bits` BIGINT");
  has("'sink.delivery-guarantee' = 'exactly-once'");
  // Messages are read as the embedded engine reads them: every column checked (venue too),
  // the keys and the time required, the time bounded; the aggregated ones kept.
  has("'format' = 'raw'");
  has("headwater_event(headwater_payload, "
      "'rk:str:ticker;v:f64:price;v:i64:size;-:str:venue;rbt:ts_us:timestamp', 86400000)");
  // Refused and late messages go, in the same statement set, to the tile topic as rejects.
  has("EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO `windows__tiles`");
  has("INSERT INTO `windows__rejects`");
  has("<= CURRENT_WATERMARK(headwater_rowtime);\nEND;");
  has("'sink.transactional-id-prefix' = 'headwater-ticker-windows-rejects'");
}

TEST_F(FlinkSqlTest, CompilingIsDeterministic) {
  auto a = Compile(kWindows);
  auto b = Compile(kWindows);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->Script(), b->Script());
  EXPECT_EQ(a->jobs[0].fingerprint, b->jobs[0].fingerprint);
  // Tiles depend on the grid, not on window sizes: a longer window keeps the Flink job.
  std::string longer = kWindows;
  longer.replace(longer.find("5m"), 2, "6m");
  auto same = Compile(longer);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->jobs[0].fingerprint, a->jobs[0].fingerprint);
  std::string finer = kWindows;
  finer.replace(finer.find("time_window: 1m"), 15, "time_window: 30s");
  auto changed = Compile(finer);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_NE(changed->jobs[0].fingerprint, a->jobs[0].fingerprint);
}

TEST_F(FlinkSqlTest, TableConfigIsPassedThroughQuoted) {
  auto config = registry::ParseRepoConfig(
                    "project: ticker\nstream_engine:\n  type: flink\n"
                    "  table_config: {pipeline.name: \"it's mine\", state.backend.type: rocksdb}\n",
                    root_)
                    .ValueOrDie();
  registry::Definitions definitions;
  ASSERT_TRUE(registry::ParseDefinitions(
                  "entities: [{name: ticker, join_keys: [ticker], value_type: STRING}]\n"
                  "sources:\n  - {name: trades, path: data/trades, timestamp_field: timestamp}\n"
                  "  - {name: k, type: kafka, batch_source: trades, bootstrap_servers: 'h:1', "
                  "topic: t}\nfeature_views:\n  - name: v\n    entities: [ticker]\n    source: k\n"
                  "    aggregations: [{column: price, function: count, time_window: 1m}]\n",
                  "defs.yaml", &definitions)
                  .ok());
  ASSERT_TRUE(registry::Validate(config, &definitions).ok());
  auto pipeline = CompileFlink(config, definitions);
  ASSERT_TRUE(pipeline.ok());
  const std::string& sql = pipeline->jobs[0].sql;
  EXPECT_NE(sql.find("SET 'state.backend.type' = 'rocksdb';"), std::string::npos) << sql;
  // The job's own name comes last, so that Headwater can find its job.
  EXPECT_LT(sql.find("'it''s mine'"), sql.find("SET 'pipeline.name' = 'headwater-ticker-v'"));
}

TEST_F(FlinkSqlTest, PushSourcesStayEmbedded) {
  auto pipeline = Compile(
      "  - name: pushed\n    entities: [ticker]\n    source: trades_push\n"
      "    aggregations: [{column: price, function: count, time_window: 1m}]\n");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  EXPECT_TRUE(pipeline->jobs.empty());
  ASSERT_EQ(pipeline->embedded.size(), 1u);
  EXPECT_NE(pipeline->Script().find("'pushed' stays on the embedded engine"), std::string::npos);
}

TEST_F(FlinkSqlTest, RefusalsNameTheViewFeatureAndReason) {
  struct Case {
    std::string aggregations;
    std::string message;
  };
  const Case cases[] = {
      {"[{column: price, function: sum, time_window: 4m, slide_interval: 4m},"
       " {column: price, function: sum, time_window: 6m, slide_interval: 6m}]",
       "stream feature view 'v': cannot run on Flink: the slides' greatest common divisor (2m)"},
      {"[{column: price, function: sum, time_window: 1500us, slide_interval: 1500us, name: f}]",
       "stream feature view 'v', feature 'f': cannot run on Flink: its windows must be whole "
       "milliseconds"},
      {"[{column: price, function: sum, time_window: 2400h, name: g}]",
       "feature 'g': cannot run on Flink: windows of 100 days or more"},
  };
  for (const Case& c : cases) {
    auto pipeline = Compile(
        "  - name: v\n    entities: [ticker]\n    source: trades_kafka\n"
        "    aggregations: " +
        c.aggregations + "\n");
    ASSERT_FALSE(pipeline.ok()) << c.aggregations;
    EXPECT_NE(pipeline.status().message().find(c.message), std::string::npos)
        << pipeline.status().message();
  }
}

}  // namespace
}  // namespace headwater::flink
