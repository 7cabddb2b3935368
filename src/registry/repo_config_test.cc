#include "headwater/registry/repo_config.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace headwater::registry {
namespace {

Result<RepoConfig> Parse(const std::string& text) { return ParseRepoConfig(text, "/repo"); }

// Each configuration after "project: p" is refused with a message containing its text.
void ExpectRefused(const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [yaml, message] : cases) {
    auto config = Parse("project: p\n" + yaml);
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_NE(config.status().message().find(message), std::string::npos)
        << yaml << " -> " << config.status().message();
  }
}

TEST(RepoConfigTest, StreamEngineDefaultsToEmbedded) {
  auto config = Parse("project: p\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->stream_engine.flink());
  EXPECT_EQ(config->stream_engine.parallelism, 1);
}

TEST(RepoConfigTest, ReadsTheFlinkStreamEngine) {
  auto config = Parse(
      "project: p\n"
      "stream_engine:\n"
      "  type: flink\n"
      "  rest_address: http://127.0.0.1:8081\n"
      "  sql_gateway: http://127.0.0.1:8083\n"
      "  parallelism: 4\n"
      "  checkpoint_interval: 2s\n"
      "  table_config: {pipeline.name: headwater-ticker, state.backend.type: rocksdb}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const StreamEngineConfig& engine = config->stream_engine;
  EXPECT_TRUE(engine.flink());
  EXPECT_EQ(engine.rest_address, "http://127.0.0.1:8081");
  EXPECT_EQ(engine.sql_gateway, "http://127.0.0.1:8083");
  EXPECT_EQ(engine.parallelism, 4);
  EXPECT_EQ(engine.checkpoint_interval.micros, 2'000'000);
  ASSERT_EQ(engine.table_config.size(), 2u);
  EXPECT_EQ(engine.table_config.at("pipeline.name"), "headwater-ticker");
}

TEST(RepoConfigTest, ReadsFeastsBatchEngineSection) {
  auto config = Parse(
      "project: p\n"
      "stream_engine: {type: flink, rest_address: 'http://127.0.0.1:8081',\n"
      "                sql_gateway: 'http://127.0.0.1:8083'}\n"
      "batch_engine:\n"
      "  type: flink.engine\n"
      "  execution_mode: batch\n"
      "  parallelism: 2\n"
      "  pandas_split_num: 8\n"
      "  table_config: {pipeline.name: Headwater batch}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const BatchEngineConfig& engine = config->batch_engine;
  EXPECT_TRUE(engine.flink());
  EXPECT_EQ(engine.parallelism, 2);
  // The cluster named once serves both engines.
  EXPECT_EQ(engine.rest_address, "http://127.0.0.1:8081");
  EXPECT_EQ(engine.sql_gateway, "http://127.0.0.1:8083");
  EXPECT_EQ(engine.table_config.at("pipeline.name"), "Headwater batch");
  EXPECT_FALSE(Parse("project: p\n")->batch_engine.flink());
}

TEST(RepoConfigTest, BatchEngineErrorsNameTheKeyAndLine) {
  ExpectRefused({
      {"batch_engine:\n  type: dask.engine\n", "unknown type 'dask.engine'"},
      {"batch_engine:\n  execution_mode: streaming\n", "execution_mode 'streaming'"},
      {"batch_engine:\n  parallelism: 0\n", "parallelism must be between"},
      {"batch_engine:\n  type: flink\n  paralelism: 2\n", "feature_store.yaml:4"},
      {"batch_engine:\n  sql_gateway: localhost:8083\n", "sql_gateway must be an http://"},
  });
}

TEST(RepoConfigTest, MemoryBoundsOfTheRocksDbStore) {
  auto config = Parse("project: p\nonline_store:\n  type: rocksdb\n  memtable_mb: 8\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->online_store.memtable_mb, 8);
  EXPECT_EQ(Parse("project: p\n")->online_store.memtable_mb, 64);
  EXPECT_EQ(Parse("project: p\nonline_store: {row_cache_mb: 16}\n")->online_store.row_cache_mb, 16);
  ExpectRefused({
      {"online_store:\n  memtable_mb: 0\n", "feature_store.yaml:3"},
      {"online_store:\n  memtable_mb: 0\n", "memtable_mb must be between 1 and"},
      {"online_store:\n  memtable_mb: lots\n", "memtable_mb"},
      {"online_store:\n  type: redis\n  memtable_mb: 8\n", "a setting of the rocksdb store"},
      {"online_store:\n  block_cache_mb: -1\n", "block_cache_mb must be between"},
      {"online_store:\n  type: sqlite\n  row_cache_mb: 8\n", "row_cache_mb is a setting"},
  });
}

TEST(RepoConfigTest, StreamEngineErrorsNameTheKeyAndLine) {
  ExpectRefused({
      {"stream_engine:\n  type: flink\n  paralelism: 2\n", "feature_store.yaml:4"},
      {"stream_engine:\n  type: flink\n  paralelism: 2\n", "paralelism"},
      {"stream_engine:\n  type: spark\n", "unknown type 'spark'"},
      {"stream_engine:\n  parallelism: 0\n", "parallelism must be between"},
      {"stream_engine:\n  parallelism: many\n", "feature_store.yaml:3"},
      {"stream_engine:\n  checkpoint_interval: soon\n", "checkpoint_interval must be a positive"},
      {"stream_engine:\n  rest_address: 127.0.0.1:8081\n", "rest_address must be an http://"},
      {"stream_engine:\n  table_config: [a, b]\n", "'table_config' must be a mapping"},
  });
}

TEST(RepoConfigTest, FeastsSparkAndRayStoresReadTheirParquetFilesHere) {
  auto config = Parse(
      "project: p\n"
      "offline_store:\n"
      "  type: ray\n"
      "  storage_path: data/ray_storage\n"
      "batch_engine:\n"
      "  type: ray.engine\n"
      "  max_workers: 2\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->offline_store.type, "file");
  EXPECT_FALSE(config->batch_engine.flink());
  ASSERT_EQ(config->ignored.size(), 3u);
  EXPECT_EQ(config->ignored[0],
            "feature_store.yaml:4: offline_store 'storage_path' is Feast's and changes nothing in "
            "Headwater: ignored");
  EXPECT_EQ(config->ignored[1],
            "feature_store.yaml:6: batch_engine 'ray.engine' is Feast's: Headwater's embedded "
            "engine computes instead");
  EXPECT_NE(config->ignored[2].find("feature_store.yaml:7: batch_engine 'max_workers'"),
            std::string::npos);
  config = Parse("project: p\noffline_store: {type: spark, spark_conf: {spark.master: local}}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ignored.size(), 1u);
  ExpectRefused(
      {{"offline_store:\n  type: bigquery\n", "(supported: file, dask, duckdb, spark, ray)"}});
}

}  // namespace
}  // namespace headwater::registry
