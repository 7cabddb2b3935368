#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>

#include <filesystem>
#include <fstream>

#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"

namespace headwater::registry {
namespace {

namespace fs = std::filesystem;

class ValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = fs::temp_directory_path() /
            ("hw_validator_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(repo_);
    fs::create_directories(repo_ / "data");
    Write("feature_store.yaml", "project: test\n");
    WriteParquet();
  }
  void TearDown() override { fs::remove_all(repo_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(repo_ / name) << text;
  }

  void WriteParquet() {
    auto schema = arrow::schema(
        {arrow::field("driver_id", arrow::int64()),
         arrow::field("event_timestamp", arrow::timestamp(arrow::TimeUnit::MICRO)),
         arrow::field("conv_rate", arrow::float32()), arrow::field("trips", arrow::int64())});
    arrow::Int64Builder ids, trips;
    arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO),
                                  arrow::default_memory_pool());
    arrow::FloatBuilder rates;
    ASSERT_TRUE(ids.Append(1).ok() && trips.Append(2).ok() && times.Append(0).ok() &&
                rates.Append(0.5f).ok());
    auto table =
        arrow::Table::Make(schema, {ids.Finish().ValueOrDie(), times.Finish().ValueOrDie(),
                                    rates.Finish().ValueOrDie(), trips.Finish().ValueOrDie()});
    auto out =
        arrow::io::FileOutputStream::Open((repo_ / "data" / "stats.parquet").string()).ValueOrDie();
    ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out).ok());
    ASSERT_TRUE(out->Close().ok());
  }

  std::string Definitions(const std::string& view_extra, const std::string& source_extra = "") {
    return "entities: [{name: driver, join_keys: [driver_id]}]\n"
           "sources:\n  - name: src\n    path: data/stats.parquet\n    timestamp_field: "
           "event_timestamp\n" +
           source_extra +
           "feature_views:\n  - name: stats\n    entities: [driver]\n    source: src\n" +
           view_extra;
  }

  Result<registry::Definitions> Load() {
    ARROW_ASSIGN_OR_RAISE(auto config, LoadRepoConfig(repo_));
    return LoadDefinitions(config);
  }

  std::string LoadError() {
    auto result = Load();
    EXPECT_FALSE(result.ok());
    return result.status().message();
  }

  fs::path repo_;
};

TEST_F(ValidatorTest, InfersSchemaFromParquetWhenAbsent) {
  Write("defs.yaml", Definitions(""));
  auto definitions = Load();
  ASSERT_TRUE(definitions.ok()) << definitions.status().message();
  const auto& features = definitions->feature_views[0].features;
  ASSERT_EQ(features.size(), 2u);
  EXPECT_EQ(features[0], (Field{"conv_rate", {ScalarKind::kFloat32, false}}));
  EXPECT_EQ(features[1], (Field{"trips", {ScalarKind::kInt64, false}}));
  EXPECT_TRUE(definitions->feature_views[0].schema_inferred);
}

TEST_F(ValidatorTest, FieldMappingRenamesColumns) {
  Write("defs.yaml", Definitions("    schema: [{name: avg_daily_trips, dtype: Int64}]\n",
                                 "    field_mapping: {trips: avg_daily_trips}\n"));
  auto definitions = Load();
  ASSERT_TRUE(definitions.ok()) << definitions.status().message();
}

TEST_F(ValidatorTest, SchemaTypeNoCastReadsIsAnError) {
  Write("defs.yaml", Definitions("    schema: [{name: conv_rate, dtype: String}]\n"));
  std::string error = LoadError();
  EXPECT_NE(error.find("defs.yaml:7"), std::string::npos) << error;
  EXPECT_NE(error.find("declared String but column 'conv_rate' of data/stats.parquet is Float32"),
            std::string::npos)
      << error;
}

TEST_F(ValidatorTest, NumbersOfAnotherWidthAreCastOnRead) {
  EXPECT_TRUE(CastsOnRead({ScalarKind::kFloat64}, {ScalarKind::kFloat32}));
  EXPECT_TRUE(CastsOnRead({ScalarKind::kInt64}, {ScalarKind::kInt32}));
  EXPECT_TRUE(CastsOnRead({ScalarKind::kInt64, true}, {ScalarKind::kFloat64, true}));
  EXPECT_FALSE(CastsOnRead({ScalarKind::kString}, {ScalarKind::kFloat64}));
  EXPECT_FALSE(CastsOnRead({ScalarKind::kInt64, true}, {ScalarKind::kInt64}));
  EXPECT_FALSE(CastsOnRead({ScalarKind::kUnixTimestamp}, {ScalarKind::kInt64}));
}

TEST_F(ValidatorTest, MissingColumnsAreErrors) {
  Write("defs.yaml", Definitions("    schema: [{name: nope, dtype: Float64}]\n"));
  EXPECT_NE(LoadError().find("feature 'nope' is not a column"), std::string::npos);
  Write("defs.yaml",
        "entities: [{name: driver, join_keys: [driver_id]}]\n"
        "sources: [{name: src, path: data/stats.parquet, timestamp_field: ts}]\n");
  EXPECT_NE(LoadError().find("timestamp_field 'ts' is not a column"), std::string::npos);
  Write("defs.yaml",
        "entities: [{name: rider, join_keys: [rider_id]}]\n"
        "sources: [{name: src, path: data/stats.parquet, timestamp_field: event_timestamp}]\n"
        "feature_views: [{name: v, entities: [rider], source: src}]\n");
  EXPECT_NE(LoadError().find("join key 'rider_id' of entity 'rider' is not a column"),
            std::string::npos);
}

TEST_F(ValidatorTest, JoinKeyTypeMustMatchEntity) {
  Write("defs.yaml",
        "entities: [{name: driver, join_keys: [driver_id], value_type: STRING}]\n"
        "sources: [{name: src, path: data/stats.parquet, timestamp_field: event_timestamp}]\n"
        "feature_views: [{name: v, entities: [driver], source: src}]\n");
  EXPECT_NE(LoadError().find("entity 'driver' declares String"), std::string::npos);
}

TEST_F(ValidatorTest, UnknownAndDuplicateNamesAreErrors) {
  Write("defs.yaml", Definitions("") + "  - name: stats\n    source: src\n");
  std::string error = LoadError();
  EXPECT_NE(error.find("defs.yaml:10: feature_view 'stats': defined twice (first at defs.yaml:7)"),
            std::string::npos)
      << error;
  Write("defs.yaml", Definitions("") + "feature_services: [{name: s, features: [nothing]}]\n");
  EXPECT_NE(LoadError().find("unknown feature view 'nothing'"), std::string::npos);
  Write("defs.yaml", Definitions("") + "feature_services: [{name: s, features: [{stats: [x]}]}]\n");
  EXPECT_NE(LoadError().find("has no feature 'x'"), std::string::npos);
  Write("defs.yaml", "feature_views: [{name: v, source: nothing}]\n");
  EXPECT_NE(LoadError().find("unknown source 'nothing'"), std::string::npos);
  Write("defs.yaml", Definitions("").replace(Definitions("").find("[driver]"), 8, "[drivr]"));
  EXPECT_NE(LoadError().find("unknown entity 'drivr'"), std::string::npos);
}

TEST_F(ValidatorTest, DuplicatesAcrossFilesNameBothPlaces) {
  Write("a.yaml", "entities: [{name: driver}]\n");
  Write("b.yaml", "entities:\n  - name: driver\n");
  std::string error = LoadError();
  EXPECT_NE(error.find("b.yaml:2: entity 'driver': defined twice (first at a.yaml:1)"),
            std::string::npos)
      << error;
}

TEST_F(ValidatorTest, CorruptParquetIsAnError) {
  std::ofstream(repo_ / "data" / "stats.parquet") << "PAR1 this is not parquet";
  Write("defs.yaml", Definitions(""));
  EXPECT_NE(LoadError().find("stats.parquet"), std::string::npos);
  Write("defs.yaml", "sources: [{name: s, path: data/missing.parquet, timestamp_field: t}]\n");
  EXPECT_NE(LoadError().find("does not exist"), std::string::npos);
}

TEST_F(ValidatorTest, RepoConfigRejectsUnknownKeysAndSubstitutesEnvironment) {
  Write("feature_store.yaml", "project: test\nonline_stor: {}\n");
  auto config = LoadRepoConfig(repo_);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("feature_store.yaml:2: unknown field 'online_stor'"),
            std::string::npos)
      << config.status().message();

  ::setenv("HW_TEST_REGISTRY", "custom/registry.json", 1);
  Write("feature_store.yaml", "project: test\nregistry: ${HW_TEST_REGISTRY}\n");
  config = LoadRepoConfig(repo_);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->registry_path, repo_ / "custom" / "registry.json");

  Write("feature_store.yaml", "project: test\nregistry: ${HW_TEST_UNSET_VARIABLE}\n");
  config = LoadRepoConfig(repo_);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("'HW_TEST_UNSET_VARIABLE' is not set"),
            std::string::npos);

  for (const char* bad : {"bad name", "../x", "-x", "\"a\\nb\""}) {  // CheckName's rule
    Write("feature_store.yaml", std::string("project: ") + bad + "\n");
    auto refused = LoadRepoConfig(repo_);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("feature_store.yaml:1:"), std::string::npos);
  }
  Write("feature_store.yaml", "project: ok-name_2\n");
  EXPECT_TRUE(LoadRepoConfig(repo_).ok());
  Write("feature_store.yaml", "project: p\nmax_event_time_skew: 2h\n");
  EXPECT_EQ(LoadRepoConfig(repo_)->max_event_time_skew.micros, 2 * 3'600'000'000LL);
  Write("feature_store.yaml", "project: p\nmax_event_time_skew: soon\n");
  EXPECT_NE(LoadRepoConfig(repo_).status().message().find("max_event_time_skew"),
            std::string::npos);
  Write("feature_store.yaml", "project: p\nprovider: local\nprovider: local\n");
  EXPECT_NE(LoadRepoConfig(repo_).status().message().find(
                "feature_store.yaml:3: duplicate key 'provider'"),
            std::string::npos);
  Write("feature_store.yaml", "project: p\nonline_store: {type: cassandra}\n");
  EXPECT_NE(LoadRepoConfig(repo_).status().message().find("unknown type 'cassandra'"),
            std::string::npos);
  fs::remove(repo_ / "feature_store.yaml");
  EXPECT_NE(LoadRepoConfig(repo_).status().message().find("headwater init"), std::string::npos);
}

}  // namespace
}  // namespace headwater::registry

namespace headwater::registry {
namespace {

TEST_F(ValidatorTest, StreamViewFeaturesAreItsAggregations) {
  Write("defs.yaml",
        Definitions("    aggregations:\n"
                    "      - {column: conv_rate, function: mean, time_window: 10m, "
                    "slide_interval: 1m}\n"
                    "      - {column: trips, function: count, time_window: 1h}\n"
                    "      - {column: trips, function: avg, time_window: 1h, name: trips_avg}\n"
                    "    allowed_lateness: 30s\n"));
  auto definitions = Load();
  ASSERT_TRUE(definitions.ok()) << definitions.status().message();
  const FeatureView& view = definitions->feature_views[0];
  ASSERT_TRUE(view.is_stream());
  ASSERT_EQ(view.features.size(), 3u);
  EXPECT_EQ(view.features[0], (Field{"mean_conv_rate_10m", {ScalarKind::kFloat64, false}}));
  EXPECT_EQ(view.features[1], (Field{"count_trips_1h", {ScalarKind::kInt64, false}}));
  EXPECT_EQ(view.features[2], (Field{"trips_avg", {ScalarKind::kFloat64, false}}));
  EXPECT_EQ(view.aggregations[1].slide_interval, view.aggregations[1].time_window);  // tumbling
  EXPECT_EQ(view.aggregations[2].function, "mean");
  EXPECT_EQ(view.allowed_lateness.micros, 30'000'000);
  EXPECT_EQ(definitions->BatchSourceOf(view)->path, "data/offline/stats");
  EXPECT_EQ(definitions->EventSourceOf(view)->name, "src");

  // The registry keeps all of it.
  Registry registry;
  registry.project = "test";
  registry.definitions = *definitions;
  auto text = RegistryToJson(registry);
  auto back = RegistryFromJson(text, "registry.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  const FeatureView& read = back->definitions.feature_views[0];
  EXPECT_EQ(read.aggregations, view.aggregations);
  EXPECT_EQ(read.allowed_lateness, view.allowed_lateness);
  EXPECT_EQ(read.windows.path, view.windows.path);
  EXPECT_EQ(read.features, view.features);
  EXPECT_TRUE(read.offline);
}

TEST_F(ValidatorTest, BadAggregationsAreErrorsThatSayWhere) {
  auto error_for = [&](const std::string& aggregation) {
    Write("defs.yaml", Definitions("    aggregations:\n      - " + aggregation + "\n"));
    return LoadError();
  };
  EXPECT_NE(error_for("{column: trips, function: median, time_window: 1h}")
                .find("feature_view 'stats': unknown aggregation function 'median'"),
            std::string::npos);
  EXPECT_NE(error_for("{column: trips, function: sum, time_window: 10m, slide_interval: 3m}")
                .find("time_window 10m is not a multiple of slide_interval 3m"),
            std::string::npos);
  EXPECT_NE(error_for("{column: trips, function: sum, time_window: soon}").find("time_window"),
            std::string::npos);
  EXPECT_NE(error_for("{column: trips, function: sum}").find("missing 'time_window'"),
            std::string::npos);
  EXPECT_NE(error_for("{column: nope, function: sum, time_window: 1h}")
                .find("reads column 'nope', which is not a column of data/stats.parquet"),
            std::string::npos);
  EXPECT_NE(error_for("{column: event_timestamp, function: sum, time_window: 1h}")
                .find("aggregations take Int32, Int64, Float32 or Float64 columns"),
            std::string::npos);
  Write("defs.yaml", Definitions("    allowed_lateness: 5s\n"));
  EXPECT_NE(LoadError().find("allowed_lateness applies to views with aggregations"),
            std::string::npos);
  Write("defs.yaml", Definitions("    offline: false\n"));
  EXPECT_NE(LoadError().find("offline applies to views with aggregations"), std::string::npos);
}

TEST_F(ValidatorTest, KafkaSourcesNeedBrokersTopicAndABatchSource) {
  auto defs = [](const std::string& kafka) {
    return "entities: [{name: driver, join_keys: [driver_id]}]\n"
           "sources:\n"
           "  - {name: history, path: data/stats.parquet, timestamp_field: event_timestamp}\n"
           "  - " +
           kafka +
           "\nfeature_views:\n"
           "  - name: stats\n    entities: [driver]\n    source: trips\n"
           "    aggregations: [{column: trips, function: sum, time_window: 1h}]\n";
  };
  Write("defs.yaml", defs("{name: trips, type: kafka, bootstrap_servers: 'localhost:9092', "
                          "topic: t, batch_source: history, watermark_delay: 5s}"));
  auto definitions = Load();
  ASSERT_TRUE(definitions.ok()) << definitions.status().message();
  const DataSource* kafka = definitions->FindSource("trips");
  EXPECT_EQ(kafka->type, SourceType::kKafka);
  EXPECT_EQ(kafka->watermark_delay.micros, 5'000'000);
  EXPECT_EQ(definitions->EventSourceOf(definitions->feature_views[0])->name, "history");

  Write("defs.yaml", defs("{name: trips, type: kafka, topic: t, batch_source: history}"));
  EXPECT_NE(LoadError().find("bootstrap_servers"), std::string::npos);
  Write("defs.yaml", defs("{name: trips, type: kafka, bootstrap_servers: b, topic: t, "
                          "batch_source: history, format: avro}"));
  EXPECT_NE(LoadError().find("unknown message format 'avro' (supported: json)"), std::string::npos);
  Write("defs.yaml", defs("{name: trips, type: kafka, bootstrap_servers: b, topic: t, "
                          "batch_source: nowhere}"));
  EXPECT_NE(LoadError().find("batch_source 'nowhere' is not a file source"), std::string::npos);
}

}  // namespace
}  // namespace headwater::registry
