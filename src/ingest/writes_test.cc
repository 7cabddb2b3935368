#include "headwater/ingest/writes.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <limits>

namespace headwater::ingest {
namespace {

// One view over a push-like source: key driver_id, time ts, Float32 rate, Array(Float32) rates.
registry::Definitions Definitions() {
  registry::Definitions d;
  d.entities.push_back({"driver", "driver_id", ScalarKind::kInt64, "", "", {}, {}});
  registry::DataSource source;
  source.name = "s";
  source.timestamp_field = "ts";
  source.created_timestamp_column = "created";
  d.sources.push_back(source);
  registry::FeatureView view;
  view.name = "v";
  view.entities = {"driver"};
  view.source = "s";
  view.features = {{"rate", {ScalarKind::kFloat32, false}},
                   {"rates", {ScalarKind::kFloat32, true}}};
  d.feature_views.push_back(view);
  return d;
}

std::shared_ptr<arrow::Table> Table(std::vector<int64_t> times, double rate, double list_rate,
                                    std::optional<int64_t> created = std::nullopt) {
  arrow::Int64Builder ids;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO),
                             arrow::default_memory_pool());
  arrow::TimestampBuilder created_times(arrow::timestamp(arrow::TimeUnit::MICRO),
                                        arrow::default_memory_pool());
  arrow::DoubleBuilder rates;
  arrow::ListBuilder lists(arrow::default_memory_pool(), std::make_shared<arrow::DoubleBuilder>());
  for (size_t i = 0; i < times.size(); ++i) {
    EXPECT_TRUE(ids.Append(static_cast<int64_t>(i)).ok());
    EXPECT_TRUE(ts.Append(times[i]).ok());
    EXPECT_TRUE((created ? created_times.Append(*created) : created_times.AppendNull()).ok());
    EXPECT_TRUE(rates.Append(i == times.size() - 1 ? rate : 0.5).ok());
    EXPECT_TRUE(lists.Append().ok());
    auto* values = static_cast<arrow::DoubleBuilder*>(lists.value_builder());
    EXPECT_TRUE(values->Append(0.25).ok());
    EXPECT_TRUE(values->Append(i == times.size() - 1 ? list_rate : 0.25).ok());
  }
  return arrow::Table::Make(
      arrow::schema({arrow::field("driver_id", arrow::int64()), arrow::field("ts", ts.type()),
                     arrow::field("created", created_times.type()),
                     arrow::field("rate", arrow::float64()),
                     arrow::field("rates", arrow::list(arrow::float64()))}),
      {ids.Finish().ValueOrDie(), ts.Finish().ValueOrDie(), created_times.Finish().ValueOrDie(),
       rates.Finish().ValueOrDie(), lists.Finish().ValueOrDie()});
}

constexpr int64_t kNow = 1'772'442'000'000'000;  // 2026-03-02T09:00:00Z
constexpr int64_t kHour = 3'600'000'000;

class EncodeRowsTest : public ::testing::Test {
 protected:
  std::string Refusal(const arrow::Table& table) {
    registry::RepoConfig config;
    auto encoded = EncodeRows(definitions_, definitions_.feature_views[0], table,
                              EventTimeBounds::At(config, Timestamp{kNow}));
    return encoded.ok() ? "" : encoded.status().message();
  }
  registry::Definitions definitions_ = Definitions();
};

TEST_F(EncodeRowsTest, RowsWithinBoundsAndRangesEncode) {
  EXPECT_EQ(Refusal(*Table({kNow - kHour, kNow + 23 * kHour}, 3.4e38, -3.4e38)), "");
}

TEST_F(EncodeRowsTest, EventTimesOutsideTheBoundsAreRefusedNamingTheRow) {
  EXPECT_EQ(Refusal(*Table({kNow, kNow + 25 * kHour}, 1, 1)),
            "df.ts[1]: 2026-03-03T10:00:00Z is later than now + 1d (max_event_time_skew in "
            "feature_store.yaml)");
  EXPECT_NE(Refusal(*Table({kNow, -3'000'000'000'000'000}, 1, 1)).find("df.ts[1]: "),
            std::string::npos);
  EXPECT_NE(Refusal(*Table({kNow}, 1, 1, kNow + 48 * kHour)).find("df.created[0]: "),
            std::string::npos);
}

TEST_F(EncodeRowsTest, DoublesBeyondFloat32AreRefusedNamingTheRow) {
  EXPECT_EQ(Refusal(*Table({kNow, kNow, kNow}, 1e300, 1)),
            "df.rate[2]: 1e+300 is out of range for Float32");
  EXPECT_EQ(Refusal(*Table({kNow, kNow, kNow}, 1, -1e39)),
            "df.rates[2]: -1e+39 is out of range for Float32");
  // Infinities and NaN are values a float can hold: stored, then read as null (online reads).
  EXPECT_EQ(Refusal(*Table({kNow}, std::numeric_limits<double>::infinity(), 1)), "");
}

}  // namespace
}  // namespace headwater::ingest
