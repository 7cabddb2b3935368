#include "headwater/store/feature_store.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "driver_repository.h"

namespace headwater::store {
namespace {

// The online value of `feature` (index among the selection) for each driver, as text:
// "1001.11@11h" (value, hours after kDay0 of its row) or the status when not PRESENT.
std::vector<std::string> OnlineValues(FeatureStore& store, const std::vector<int64_t>& drivers,
                                      const FeatureSelection& selection, size_t feature = 0) {
  arrow::Int64Builder builder;
  EXPECT_TRUE(builder.AppendValues(drivers).ok());
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("driver_id", arrow::int64())}),
                                        static_cast<int64_t>(drivers.size()),
                                        {builder.Finish().ValueOrDie()});
  auto online = store.SelectOnline(selection);
  EXPECT_TRUE(online.ok()) << online.status().message();
  const online::EntityRows rows = online::EntityRowsFromArrow(*batch);
  auto read = store.GetOnlineFeatures(rows, std::move(*online), false);
  EXPECT_TRUE(read.ok()) << read.status().message();
  std::vector<std::string> out;
  for (int64_t row = 0; row < read->num_rows(); ++row) {
    const auto status = read->status(feature, row);
    if (status != online::FeatureStatus::kPresent) {
      out.emplace_back(online::FeatureStatusName(status));
      continue;
    }
    struct Text final : online::ValueVisitor {
      std::string text;
      void Null() override { text = "null"; }
      void Int(int64_t v) override { text = std::to_string(v); }
      void Float(float v) override { text = std::to_string(v); }
      void Double(double v) override { text = fmt::format("{}", v); }
      void Bool(bool v) override { text = v ? "true" : "false"; }
      void Time(Timestamp v) override { text = FormatTimestamp(v); }
      void String(std::string_view v) override { text = v; }
      void Bytes(std::string_view v) override { text = v; }
      void BeginList(uint32_t) override {}
      void EndList() override {}
    } value;
    read->Visit(feature, row, &value);
    out.push_back(value.text + "@" +
                  std::to_string((read->event_time(feature, row).micros - kDay0) / kHour) + "h");
  }
  return out;
}

const FeatureSelection kConvRate{{"driver_stats:conv_rate"}, ""};

TEST_F(DriverRepositoryTest, NothingIsReadBeforeAnApply) {
  auto store = OpenStore();
  auto applied = store->Applied();
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.status().message().find("apply definitions first (`headwater apply`)"),
            std::string::npos)
      << applied.status().message();
  EXPECT_FALSE(store->SelectOnline(kConvRate).ok());
}

TEST_F(DriverRepositoryTest, MaterializedValuesAreReadOnlineWithFeastsStatuses) {
  auto store = OpenStore();
  ApplyDefinitions(*store);
  MaterializeRequest request;
  request.start = Timestamp{kDay0};
  request.end = Timestamp{kDay0 + 6 * kHour};  // rows of hours 0-5
  auto done = store->Materialize(request);
  ASSERT_TRUE(done.ok()) << done.status().message();
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].stats.keys_written, 3);
  EXPECT_EQ(OnlineValues(*store, {1002, 4242, 1001}, kConvRate),
            (std::vector<std::string>{"1002.05@5h", "NOT_FOUND", "1001.05@5h"}));
  // Through the service, the second feature; past the ttl, the row is OUTSIDE_MAX_AGE.
  EXPECT_EQ(OnlineValues(*store, {1003}, {{}, "driver_service"}, 1),
            (std::vector<std::string>{"5@5h"}));
  clock_.Advance(Duration{30 * kHour});
  EXPECT_EQ(OnlineValues(*store, {1003}, kConvRate), (std::vector<std::string>{"OUTSIDE_MAX_AGE"}));
}

TEST_F(DriverRepositoryTest, ASelectionIsResolvedAgainstTheRegistryOfTheRead) {
  auto store = OpenStore();
  ApplyDefinitions(*store);
  const FeatureSelection trips{{"driver_stats:trips"}, ""};
  auto before = store->SelectOnline(trips);
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_EQ(before->features.at(0).index, 1u);
  ASSERT_TRUE(store->SelectOnline(trips).ok());  // the same selection again: reused
  // The view loses conv_rate: the same references now resolve to trips' new position, and
  // conv_rate is unknown.
  auto next = registry::LoadDefinitions(store->config()).ValueOrDie();
  auto& features = next.feature_views.at(0).features;
  features.erase(features.begin());
  ASSERT_TRUE(store->Apply(std::move(next)).ok());
  auto after = store->SelectOnline(trips);
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->features.at(0).index, 0u);
  EXPECT_NE(after->snapshot, before->snapshot);
  EXPECT_FALSE(store->SelectOnline(kConvRate).ok());
}

TEST_F(DriverRepositoryTest, TheTimeBoundsOfMaterializeAreOneRule) {
  auto store = OpenStore();
  ApplyDefinitions(*store);
  const Timestamp now = store->clock().Now();
  MaterializeRequest future;
  future.start = Timestamp{kDay0};
  future.end = Timestamp{now.micros + kHour};  // an hour past the clock: clamped to now
  auto clamped = store->Materialize(future).ValueOrDie();
  ASSERT_EQ(clamped.size(), 1u);
  EXPECT_EQ(clamped[0].end.micros, now.micros);
  ASSERT_TRUE(clamped[0].requested_end.has_value());
  EXPECT_EQ(clamped[0].requested_end->micros, now.micros + kHour);
  EXPECT_NE(
      ingest::DescribeMaterialization(clamped[0]).find("is in the future: materialized up to now"),
      std::string::npos);
  MaterializeRequest all_future;
  all_future.start = Timestamp{now.micros + kHour};
  all_future.end = Timestamp{now.micros + 2 * kHour};
  auto refused = store->Materialize(all_future);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("is not before now"), std::string::npos)
      << refused.status().message();
  MaterializeRequest backwards;
  backwards.start = Timestamp{kDay0 + 2 * kHour};
  backwards.end = Timestamp{kDay0 + kHour};
  auto reversed = store->Materialize(backwards);
  ASSERT_FALSE(reversed.ok());
  EXPECT_NE(reversed.status().message().find("must be before the end"), std::string::npos)
      << reversed.status().message();
}

TEST_F(DriverRepositoryTest, IncrementalRunsStartWhereTheLastEnded) {
  auto store = OpenStore();
  ApplyDefinitions(*store);
  MaterializeRequest first;
  first.end = Timestamp{kDay0 + 4 * kHour};
  auto one = store->Materialize(first).ValueOrDie();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].start->micros, kDay0);  // the oldest row
  EXPECT_EQ(one[0].stats.rows_in_range, 12);
  MaterializeRequest second;
  second.end = Timestamp{kDay0 + 10 * kHour};
  auto two = store->Materialize(second).ValueOrDie();
  EXPECT_EQ(two[0].start->micros, kDay0 + 4 * kHour);  // the marker the first run left
  EXPECT_EQ(two[0].stats.rows_in_range, 18);
  EXPECT_EQ(OnlineValues(*store, {1001}, kConvRate), (std::vector<std::string>{"1001.09@9h"}));
  // The next session on the repository (the online store has one writer: this one closes
  // first) starts from the marker too.
  store.reset();
  auto other = OpenStore();
  MaterializeRequest again;
  again.end = Timestamp{kDay0 + 10 * kHour};
  auto three = other->Materialize(again).ValueOrDie();
  EXPECT_TRUE(three[0].up_to_date);
}

TEST_F(DriverRepositoryTest, PushedRowsAreReadOnlineAndFutureOnesRefused) {
  auto store = OpenStore();
  ApplyDefinitions(*store);
  auto push = [&](int64_t driver, double rate, int64_t micros) {
    arrow::Int64Builder drivers, trips;
    arrow::DoubleBuilder rates;
    arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                  arrow::default_memory_pool());
    EXPECT_TRUE(drivers.Append(driver).ok() && rates.Append(rate).ok() && trips.Append(1).ok() &&
                times.Append(micros).ok());
    auto df = arrow::Table::Make(
        arrow::schema(
            {arrow::field("driver_id", arrow::int64()), arrow::field("conv_rate", arrow::float64()),
             arrow::field("trips", arrow::int64()), arrow::field("event_timestamp", times.type())}),
        {drivers.Finish().ValueOrDie(), rates.Finish().ValueOrDie(), trips.Finish().ValueOrDie(),
         times.Finish().ValueOrDie()});
    return store->Push("driver_push", *df, {true, false});
  };
  auto pushed = push(1001, 0.5, kDay0 + 11 * kHour);
  ASSERT_TRUE(pushed.ok()) << pushed.status().message();
  EXPECT_EQ(pushed->written, 1);
  EXPECT_EQ(OnlineValues(*store, {1001}, kConvRate), (std::vector<std::string>{"0.5@11h"}));
  auto future = push(1001, 0.7, kDay0 + 60 * kHour);  // past now + max_event_time_skew (1d)
  EXPECT_FALSE(future.ok());
  EXPECT_EQ(OnlineValues(*store, {1001}, kConvRate), (std::vector<std::string>{"0.5@11h"}));
}

TEST_F(DriverRepositoryTest, TrainingDataIsPointInTime) {
  auto store = OpenStore();
  ApplyDefinitions(*store);
  arrow::Int64Builder drivers;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                arrow::default_memory_pool());
  ASSERT_TRUE(drivers.AppendValues({1001, 1002}).ok());
  ASSERT_TRUE(times.AppendValues({kDay0 + 3 * kHour + 1, kDay0 + 7 * kHour}).ok());
  auto entity_rows =
      arrow::Table::Make(arrow::schema({arrow::field("driver_id", arrow::int64()),
                                        arrow::field("event_timestamp", times.type())}),
                         {drivers.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
  auto result = store->GetHistoricalFeatures(entity_rows, kConvRate);
  ASSERT_TRUE(result.ok()) << result.status().message();
  auto rates = std::static_pointer_cast<arrow::DoubleArray>(
      (*result)->GetColumnByName("conv_rate")->chunk(0));
  EXPECT_DOUBLE_EQ(rates->Value(0), 1001.03);  // the row at 03:00, not the later ones
  EXPECT_DOUBLE_EQ(rates->Value(1), 1002.07);
}

TEST_F(DriverRepositoryTest, TeardownForgetsTheDefinitions) {
  auto store = OpenStore();
  ApplyDefinitions(*store);
  ASSERT_TRUE(store->Applied().ok());
  auto removed = store->Teardown();
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_FALSE(store->Applied().ok());
  EXPECT_FALSE(fs::exists(store->config().registry_path));
}

}  // namespace
}  // namespace headwater::store
