// Feature statistics over a view's files: counts, nulls, min/max/mean over numbers only, and
// histograms whose bins hold every value, computed the same on one thread as on several.
#include "headwater/offline/feature_statistics.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "headwater/offline/table_file.h"

namespace headwater::offline {
namespace {

namespace fs = std::filesystem;

// Rows (value or null as NaN-free optional, name); a ts column of zeros.
std::shared_ptr<arrow::Table> Rows(const std::vector<std::optional<double>>& values,
                                   const std::vector<std::optional<std::string>>& names) {
  arrow::DoubleBuilder value_builder;
  arrow::StringBuilder name_builder;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                arrow::default_memory_pool());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_TRUE((values[i] ? value_builder.Append(*values[i]) : value_builder.AppendNull()).ok());
    EXPECT_TRUE((names[i] ? name_builder.Append(*names[i]) : name_builder.AppendNull()).ok());
    EXPECT_TRUE(times.Append(0).ok());
  }
  return arrow::Table::Make(
      arrow::schema({arrow::field("raw_value", arrow::float64()),
                     arrow::field("name", arrow::utf8()),
                     arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))}),
      {value_builder.Finish().ValueOrDie(), name_builder.Finish().ValueOrDie(),
       times.Finish().ValueOrDie()});
}

class FeatureStatisticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hw_stats_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "rows");
    config_.repo_path = dir_;
    registry::DataSource source;
    source.name = "rows";
    source.path = "rows";
    source.timestamp_field = "ts";
    source.field_mapping = {{"raw_value", "value"}};
    definitions_.sources.push_back(source);
    view_.name = "v";
    view_.source = "rows";
    view_.features = {{"value", {ScalarKind::kFloat64, false}},
                      {"name", {ScalarKind::kString, false}}};
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  registry::RepoConfig config_;
  registry::Definitions definitions_;
  registry::FeatureView view_;
};

TEST_F(FeatureStatisticsTest, CountsNullsRangeMeanAndHistogramOverEveryFile) {
  ASSERT_TRUE(WriteTableFile(*Rows({1.0, std::nullopt, 3.0}, {"a", "b", std::nullopt}),
                             dir_ / "rows" / "a.parquet")
                  .ok());
  ASSERT_TRUE(WriteTableFile(*Rows({5.0, 11.0}, {"c", "d"}), dir_ / "rows" / "b.parquet").ok());
  for (int threads : {1, 2}) {
    StatisticsOptions options;
    options.bins = 5;
    options.threads = threads;
    double last_progress = 0;
    options.progress = [&](double done) { last_progress = std::max(last_progress, done); };
    auto stats = ComputeFeatureStatistics(config_, definitions_, view_, options);
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    EXPECT_EQ(stats->rows, 5);
    EXPECT_DOUBLE_EQ(last_progress, 1.0);
    const FeatureStatistics& value = stats->features[0];
    EXPECT_EQ(value.count, 4);
    EXPECT_EQ(value.nulls, 1);
    EXPECT_DOUBLE_EQ(*value.min, 1.0);
    EXPECT_DOUBLE_EQ(*value.max, 11.0);
    EXPECT_DOUBLE_EQ(*value.mean, 5.0);
    // Bins of width 2 over [1, 11]: 1 | 3 | 5 | - | 11 (the last bin is closed).
    EXPECT_EQ(value.histogram, (std::vector<int64_t>{1, 1, 1, 0, 1}));
    const FeatureStatistics& name = stats->features[1];
    EXPECT_EQ(name.count, 4);
    EXPECT_EQ(name.nulls, 1);
    EXPECT_FALSE(name.min.has_value());
    EXPECT_TRUE(name.histogram.empty());
  }
}

TEST_F(FeatureStatisticsTest, NoFilesYetIsZeroRowsAndAMissingColumnIsNamed) {
  fs::remove_all(dir_ / "rows");
  auto empty = ComputeFeatureStatistics(config_, definitions_, view_);
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_EQ(empty->rows, 0);
  EXPECT_EQ(empty->features.size(), 2u);

  fs::create_directories(dir_ / "rows");
  ASSERT_TRUE(WriteTableFile(*Rows({1.0}, {"a"}), dir_ / "rows" / "a.parquet").ok());
  view_.features.push_back({"missing", {ScalarKind::kInt64, false}});
  auto missing = ComputeFeatureStatistics(config_, definitions_, view_);
  ASSERT_TRUE(missing.status().IsKeyError());
  EXPECT_NE(missing.status().message().find("no column 'missing'"), std::string::npos)
      << missing.status().message();
}

}  // namespace
}  // namespace headwater::offline
