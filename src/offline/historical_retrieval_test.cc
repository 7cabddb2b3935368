#include "headwater/offline/historical_retrieval.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "headwater/offline/table_file.h"
#include "headwater/registry/feature_reference.h"
#include "headwater/registry/loader.h"

namespace headwater::offline {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kT0 = 1'772'409'600'000'000;  // 2026-03-02T00:00:00Z

std::shared_ptr<arrow::DataType> Micros() {
  return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
}

std::shared_ptr<arrow::Array> Ints(const std::vector<int64_t>& values) {
  arrow::Int64Builder builder;
  EXPECT_TRUE(builder.AppendValues(values).ok());
  return builder.Finish().ValueOrDie();
}

std::shared_ptr<arrow::Array> Times(const std::vector<int64_t>& hours) {
  arrow::TimestampBuilder builder(Micros(), arrow::default_memory_pool());
  for (int64_t hour : hours) EXPECT_TRUE(builder.Append(kT0 + hour * kHour).ok());
  return builder.Finish().ValueOrDie();
}

class HistoricalRetrievalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = fs::temp_directory_path() /
            ("hw_pit_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(repo_);
    fs::create_directories(repo_ / "data" / "stats");
    // Driver 1 at hours 0, 2, 2 (the second hour-2 row created later), 5; driver 2 at hour 1.
    auto rows = arrow::Table::Make(
        arrow::schema({arrow::field("driver_id", arrow::int64()), arrow::field("v", arrow::int64()),
                       arrow::field("ts", Micros()), arrow::field("created", Micros())}),
        {Ints({1, 1, 1, 1, 2}), Ints({10, 20, 21, 50, 99}), Times({0, 2, 2, 5, 1}),
         Times({0, 3, 4, 5, 1})});
    ASSERT_TRUE(WriteTableFile(*rows, repo_ / "data" / "stats" / "0.parquet").ok());
    config_ = registry::ParseRepoConfig("project: pit\n", repo_).ValueOrDie();
    ASSERT_TRUE(registry::ParseDefinitions(R"(
entities: [{name: driver, join_keys: [driver_id], value_type: INT64}]
sources:
  - {name: s, path: data/stats, timestamp_field: ts, created_timestamp_column: created}
feature_views:
  - {name: stats, entities: [driver], source: s, ttl: 3h, schema: [{name: v, dtype: Int64}]}
)",
                                           "defs.yaml", &definitions_)
                    .ok());
  }
  void TearDown() override { fs::remove_all(repo_); }

  // The joined values for entity rows (driver, hour), as text ("null" when none).
  std::vector<std::string> Join(const std::vector<int64_t>& drivers,
                                const std::vector<int64_t>& hours, int threads = 1) {
    auto entities = arrow::Table::Make(arrow::schema({arrow::field("driver_id", arrow::int64()),
                                                      arrow::field("event_timestamp", Micros())}),
                                       {Ints(drivers), Times(hours)});
    auto projections = registry::ResolveFeatureSelection(definitions_, {"stats:v"}, "");
    EXPECT_TRUE(projections.ok()) << projections.status().message();
    HistoricalRetrievalOptions options;
    options.threads = threads;
    RetrievalStats stats;
    auto joined =
        GetHistoricalFeatures(config_, definitions_, entities, *projections, options, &stats);
    EXPECT_TRUE(joined.ok()) << joined.status().message();
    std::vector<std::string> out;
    if (!joined.ok()) return out;
    EXPECT_EQ((*joined)->num_rows(), static_cast<int64_t>(drivers.size()));
    auto values = (*joined)->GetColumnByName("v");
    for (int64_t row = 0; row < values->length(); ++row) {
      auto scalar = values->GetScalar(row).ValueOrDie();
      out.push_back(scalar->is_valid ? scalar->ToString() : "null");
    }
    return out;
  }

  fs::path repo_;
  registry::RepoConfig config_;
  registry::Definitions definitions_;
};

TEST_F(HistoricalRetrievalTest, TakesTheLatestRowAtOrBeforeEachEntityRowWithinTheTtl) {
  EXPECT_EQ(
      Join({1, 1, 1, 1, 1, 2, 2, 3}, {0, 1, 2, 4, 9, 0, 3, 5}),
      (std::vector<std::string>{"10",    // the row at the same instant counts
                                "10",    // the latest before
                                "21",    // two rows at hour 2: the later created wins
                                "21",    // hour 5's row is in the future of hour 4
                                "null",  // hour 5's row is 4 h old at hour 9: past the 3 h ttl
                                "null",  // driver 2's only row comes later
                                "99", "null"}));
}

TEST_F(HistoricalRetrievalTest, KeepsTheEntityRowsOrderAndAnswersAlikeOnManyThreads) {
  const std::vector<int64_t> drivers = {2, 1, 1, 2, 1}, hours = {2, 5, 3, 1, 2};
  const auto one = Join(drivers, hours, 1);
  EXPECT_EQ(one, (std::vector<std::string>{"99", "50", "21", "99", "21"}));
  EXPECT_EQ(Join(drivers, hours, 4), one);
}

TEST_F(HistoricalRetrievalTest, NoEntityRowsIsAnEmptyResult) { EXPECT_TRUE(Join({}, {}).empty()); }

TEST_F(HistoricalRetrievalTest, AnEntityRowWithoutItsKeyIsRefused) {
  arrow::Int64Builder drivers;
  ASSERT_TRUE(drivers.AppendNull().ok());
  auto entities = arrow::Table::Make(arrow::schema({arrow::field("driver_id", arrow::int64()),
                                                    arrow::field("event_timestamp", Micros())}),
                                     {drivers.Finish().ValueOrDie(), Times({1})});
  auto projections = registry::ResolveFeatureSelection(definitions_, {"stats:v"}, "").ValueOrDie();
  auto joined = GetHistoricalFeatures(config_, definitions_, entities, projections, {});
  ASSERT_FALSE(joined.ok());
  EXPECT_EQ(joined.status().message(),
            "entity column 'driver_id' is null in row 1; every entity row needs its full key");
}

}  // namespace
}  // namespace headwater::offline
