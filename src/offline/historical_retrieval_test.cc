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

// One row group and few columns: pass 1 feeds the group in slices, one per thread, and pass 2
// reads its columns in batches. Null event times (skipped) fall inside slices at odd offsets.
TEST_F(HistoricalRetrievalTest, OneRowGroupReadOnManyThreadsEqualsTheRuleRowByRow) {
  constexpr int64_t kRows = 1001;
  arrow::Int64Builder drivers, values, values_with_nulls;
  arrow::StringBuilder texts;
  arrow::TimestampBuilder times(Micros(), arrow::default_memory_pool());
  std::vector<int64_t> time_of(kRows);
  for (int64_t i = 0; i < kRows; ++i) {
    ASSERT_TRUE(drivers.Append(i % 10).ok());
    ASSERT_TRUE(values.Append(i).ok());
    ASSERT_TRUE((i % 5 == 1 ? values_with_nulls.AppendNull() : values_with_nulls.Append(i)).ok());
    ASSERT_TRUE(texts.Append("s" + std::to_string(i)).ok());
    time_of[i] = i % 7 == 3 ? -1 : kT0 + (i % 50) * kHour + i * 1000;
    ASSERT_TRUE((time_of[i] < 0 ? times.AppendNull() : times.Append(time_of[i])).ok());
  }
  // v and w: two direct columns, w with nulls in its source
  auto rows = arrow::Table::Make(
      arrow::schema({arrow::field("driver_id", arrow::int64()), arrow::field("v", arrow::int64()),
                     arrow::field("w", arrow::int64()), arrow::field("s", arrow::utf8()),
                     arrow::field("ts", Micros())}),
      {drivers.Finish().ValueOrDie(), values.Finish().ValueOrDie(),
       values_with_nulls.Finish().ValueOrDie(), texts.Finish().ValueOrDie(),
       times.Finish().ValueOrDie()});
  fs::create_directories(repo_ / "data" / "many");
  ASSERT_TRUE(WriteTableFile(*rows, repo_ / "data" / "many" / "0.parquet").ok());
  registry::Definitions definitions;
  ASSERT_TRUE(registry::ParseDefinitions(R"(
entities: [{name: driver, join_keys: [driver_id], value_type: INT64}]
sources: [{name: m, path: data/many, timestamp_field: ts}]
feature_views:
  - name: many
    entities: [driver]
    source: m
    ttl: 3h
    schema: [{name: v, dtype: Int64}, {name: w, dtype: Int64}, {name: s, dtype: String}]
)",
                                         "defs.yaml", &definitions)
                  .ok());
  std::vector<int64_t> entity_drivers, entity_hours;
  for (int64_t r = 0; r < 300; ++r) {
    entity_drivers.push_back(r % 12);  // drivers 10 and 11 have no rows
    entity_hours.push_back(r % 60);
  }
  std::vector<std::string> expected;
  for (size_t r = 0; r < entity_drivers.size(); ++r) {
    const int64_t at = kT0 + entity_hours[r] * kHour;
    int64_t best = -1;
    for (int64_t i = 0; i < kRows; ++i) {
      if (i % 10 != entity_drivers[r] || time_of[i] < 0 || time_of[i] > at) continue;
      if (time_of[i] < at - 3 * kHour) continue;
      if (best < 0 || time_of[i] > time_of[best]) best = i;
    }
    expected.push_back(best < 0 ? "null" : std::to_string(best));
  }
  auto entities = arrow::Table::Make(arrow::schema({arrow::field("driver_id", arrow::int64()),
                                                    arrow::field("event_timestamp", Micros())}),
                                     {Ints(entity_drivers), Times(entity_hours)});
  auto projections =
      registry::ResolveFeatureSelection(definitions, {"many:v", "many:w", "many:s"}, "")
          .ValueOrDie();
  for (int threads : {1, 2, 3, 8}) {
    HistoricalRetrievalOptions options;
    options.threads = threads;
    auto joined = GetHistoricalFeatures(config_, definitions, entities, projections, options);
    ASSERT_TRUE(joined.ok()) << joined.status().message();
    for (const char* column : {"v", "w", "s"}) {
      auto got = (*joined)->GetColumnByName(column);
      for (size_t r = 0; r < expected.size(); ++r) {
        auto scalar = got->GetScalar(static_cast<int64_t>(r)).ValueOrDie();
        std::string text = scalar->is_valid ? scalar->ToString() : "null";
        if (text[0] == 's') text = text.substr(1);
        const bool source_null = expected[r] != "null" && std::stoll(expected[r]) % 5 == 1;
        ASSERT_EQ(text, column[0] == 'w' && source_null ? "null" : expected[r])
            << column << " row " << r << " on " << threads << " threads";
      }
    }
    // The value slots of null rows are zeroed: the same output on every run.
    auto w = std::static_pointer_cast<arrow::Int64Array>((*joined)->GetColumnByName("w")->chunk(0));
    int64_t source_nulls = 0;
    for (int64_t r = 0; r < w->length(); ++r) {
      if (w->IsNull(r)) {
        ASSERT_EQ(w->Value(r), 0) << "row " << r;
        source_nulls += expected[static_cast<size_t>(r)] != "null";
      }
    }
    EXPECT_GT(source_nulls, 0);  // the test reaches matched rows whose value is null
  }
}

}  // namespace
}  // namespace headwater::offline
