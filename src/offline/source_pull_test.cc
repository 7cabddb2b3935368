// Feast's pulls over a file source: the range is inclusive at both ends, the latest row per key
// breaks event-time ties by created time and then by position, null keys are skipped.
#include "headwater/offline/source_pull.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "headwater/offline/table_file.h"

namespace headwater::offline {
namespace {

namespace fs = std::filesystem;

// Rows (id, ts seconds, created seconds, value); id -1 is null.
std::shared_ptr<arrow::Table> Rows(
    const std::vector<std::tuple<int64_t, int64_t, int64_t, double>>& rows) {
  arrow::Int64Builder ids;
  arrow::DoubleBuilder values;
  auto type = arrow::timestamp(arrow::TimeUnit::NANO, "UTC");
  arrow::TimestampBuilder times(type, arrow::default_memory_pool());
  arrow::TimestampBuilder created(type, arrow::default_memory_pool());
  for (const auto& [id, ts, made, value] : rows) {
    EXPECT_TRUE((id < 0 ? ids.AppendNull() : ids.Append(id)).ok());
    EXPECT_TRUE(times.Append(ts * 1'000'000'000).ok());
    EXPECT_TRUE(created.Append(made * 1'000'000'000).ok());
    EXPECT_TRUE(values.Append(value).ok());
  }
  return arrow::Table::Make(
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("ts", type),
                     arrow::field("created", type), arrow::field("value", arrow::float64())}),
      {ids.Finish().ValueOrDie(), times.Finish().ValueOrDie(), created.Finish().ValueOrDie(),
       values.Finish().ValueOrDie()});
}

std::vector<double> Values(const arrow::Table& table) {
  std::vector<double> out;
  auto column = table.GetColumnByName("value");
  for (const auto& chunk : column->chunks()) {
    const auto& values = static_cast<const arrow::DoubleArray&>(*chunk);
    for (int64_t i = 0; i < values.length(); ++i) out.push_back(values.Value(i));
  }
  return out;
}

class SourcePullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hw_pull_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "stats");
    config_.repo_path = dir_;
    source_.name = "stats";
    source_.path = "stats";
    request_.join_keys = {"id"};
    request_.features = {"value"};
    request_.timestamp_field = "ts";
    request_.created_timestamp_column = "created";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  registry::RepoConfig config_;
  registry::DataSource source_;
  PullRequest request_;
};

TEST_F(SourcePullTest, AllAndLatestRowsInAnInclusiveRange) {
  ASSERT_TRUE(WriteTableFile(*Rows({{1, 10, 0, 1.0}, {2, 20, 0, 2.0}, {1, 30, 0, 3.0}}),
                             dir_ / "stats" / "a.parquet")
                  .ok());
  ASSERT_TRUE(
      WriteTableFile(*Rows({{1, 30, 5, 4.0}, {1, 30, 5, 5.0}, {-1, 30, 9, 6.0}, {2, 40, 0, 7.0}}),
                     dir_ / "stats" / "b.parquet")
          .ok());
  request_.start = Timestamp{20 * kMicrosPerSecond};
  request_.end = Timestamp{30 * kMicrosPerSecond};
  auto all = PullAll(config_, source_, request_);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(Values(**all), (std::vector<double>{2.0, 3.0, 4.0, 5.0, 6.0}));
  EXPECT_EQ((*all)->schema()->field_names(),
            (std::vector<std::string>{"id", "value", "ts", "created"}));

  auto latest = PullLatest(config_, source_, request_);
  ASSERT_TRUE(latest.ok()) << latest.status().message();
  // id 2: its only row in range; id 1: created time breaks the tie at 30, then position.
  EXPECT_EQ(Values(**latest), (std::vector<double>{2.0, 5.0}));

  request_.start.reset();
  request_.end.reset();
  EXPECT_EQ(Values(*PullLatest(config_, source_, request_).ValueOrDie()),
            (std::vector<double>{5.0, 7.0}));
}

TEST_F(SourcePullTest, MissingColumnsAndEmptyRangesAreClear) {
  ASSERT_TRUE(WriteTableFile(*Rows({{1, 10, 0, 1.0}}), dir_ / "stats" / "a.parquet").ok());
  request_.features = {"nope"};
  auto missing = PullAll(config_, source_, request_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "data source 'stats' has no column 'nope'");
  request_.features = {"value"};
  request_.start = Timestamp{100 * kMicrosPerSecond};
  auto none = PullLatest(config_, source_, request_);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ((*none)->num_rows(), 0);
  EXPECT_EQ((*none)->num_columns(), 4);
  request_.timestamp_field = "value";
  request_.start.reset();
  auto not_time = PullAll(config_, source_, request_);
  ASSERT_FALSE(not_time.ok());
  EXPECT_EQ(not_time.status().message(), "column 'value' is double, not a timestamp");
}

}  // namespace
}  // namespace headwater::offline
