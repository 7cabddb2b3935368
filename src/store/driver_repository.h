#pragma once
// A test repository for the core and its adapters: one entity `driver_id` (INT64), a Parquet
// source of hourly driver stats (drivers 1001-1003, one row an hour on 2026-03-02 from 00:00,
// conv_rate = driver + hour / 100), a view `driver_stats` (ttl 1d) and a push source into it, a
// feature service `driver_service`. The clock stands at 2026-03-02T12:00:00Z.
#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "headwater/core/clock.h"
#include "headwater/offline/table_file.h"
#include "headwater/registry/loader.h"
#include "headwater/store/feature_store.h"

namespace headwater::store {

namespace fs = std::filesystem;

constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kDay0 = 1'772'409'600'000'000;  // 2026-03-02T00:00:00Z

constexpr const char* kDriverDefinitions = R"(entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
sources:
  - {name: driver_hourly, path: data/driver_stats, timestamp_field: event_timestamp}
  - {name: driver_push, type: push, batch_source: driver_hourly}
feature_views:
  - name: driver_stats
    entities: [driver]
    source: driver_push
    ttl: 1d
    schema: [{name: conv_rate, dtype: Float64}, {name: trips, dtype: Int64}]
feature_services:
  - {name: driver_service, features: [driver_stats]}
)";

class DriverRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = fs::temp_directory_path() /
            ("hw_drivers_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(repo_);
    fs::create_directories(repo_ / "data" / "driver_stats");
    std::ofstream(repo_ / "feature_store.yaml") << "project: drivers\n";
    std::ofstream(repo_ / "definitions.yaml") << kDriverDefinitions;
    arrow::Int64Builder drivers, trips;
    arrow::DoubleBuilder rates;
    arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                  arrow::default_memory_pool());
    for (int hour = 0; hour < 12; ++hour) {
      for (int64_t driver = 1001; driver <= 1003; ++driver) {
        EXPECT_TRUE(drivers.Append(driver).ok());
        EXPECT_TRUE(rates.Append(static_cast<double>(driver) + hour / 100.0).ok());
        EXPECT_TRUE(trips.Append(hour).ok());
        EXPECT_TRUE(times.Append(kDay0 + hour * kHour).ok());
      }
    }
    auto table = arrow::Table::Make(
        arrow::schema(
            {arrow::field("driver_id", arrow::int64()), arrow::field("conv_rate", arrow::float64()),
             arrow::field("trips", arrow::int64()), arrow::field("event_timestamp", times.type())}),
        {drivers.Finish().ValueOrDie(), rates.Finish().ValueOrDie(), trips.Finish().ValueOrDie(),
         times.Finish().ValueOrDie()});
    ASSERT_TRUE(
        offline::WriteTableFile(*table, repo_ / "data" / "driver_stats" / "0.parquet").ok());
  }
  void TearDown() override { fs::remove_all(repo_); }

  // The repository's store, opened with `options` (the test's clock).
  std::unique_ptr<FeatureStore> OpenStore(OpenOptions options = {}) {
    options.clock = &clock_;
    auto store = FeatureStore::Open(repo_, std::move(options));
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Applies the repository's definitions file.
  void ApplyDefinitions(FeatureStore& store) {
    auto loaded = registry::LoadDefinitions(store.config());
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    auto applied = store.Apply(std::move(*loaded));
    ASSERT_TRUE(applied.ok()) << applied.status().message();
  }

  fs::path repo_;
  ManualClock clock_{Timestamp{kDay0 + 12 * kHour}};
};

}  // namespace headwater::store
