// init: a new feature repository with Feast's driver example, ready to apply and query.

#include <arrow/api.h>

#include <fstream>
#include <iostream>
#include <random>

#include "commands.h"
#include "headwater/core/clock.h"
#include "headwater/core/file.h"
#include "headwater/offline/table_file.h"
#include "headwater/registry/definitions.h"

namespace headwater::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFeatureStoreYaml = R"(project: {project}
# Where `headwater apply` stores the registry, relative to this file.
registry: data/registry.json
provider: local
online_store:
  type: rocksdb
  path: data/online
offline_store:
  type: file
)";

constexpr const char* kDefinitionsYaml =
    R"(# Feature definitions. Every *.yaml file here other than feature_store.yaml is read by
# `headwater apply`. See docs/definitions.md for every field.
entities:
  - name: driver
    join_keys: [driver_id]
    value_type: INT64
    description: A driver of the ride-hailing service

sources:
  - name: driver_stats_source
    type: file
    path: data/driver_stats.parquet
    timestamp_field: event_timestamp
    created_timestamp_column: created

feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    ttl: 1d
    source: driver_stats_source
    online: true
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: acc_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}
    tags: {team: driver_performance}
    owner: ml-platform@example.com
    description: Hourly conversion and acceptance rates per driver

feature_services:
  - name: driver_activity
    features:
      - driver_hourly_stats
)";

std::string Substitute(std::string text, const std::string& project) {
  const std::string marker = "{project}";
  for (size_t at; (at = text.find(marker)) != std::string::npos;)
    text.replace(at, marker.size(), project);
  return text;
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return Status::IOError("cannot write ", path.string());
  return Status::OK();
}

// Hourly stats for drivers 1001-1005 over the 15 days up to `end` (Feast's driver example).
Result<std::shared_ptr<arrow::Table>> DriverStats(int64_t end_micros) {
  constexpr int64_t kHour = 3600 * kMicrosPerSecond;
  constexpr int kHours = 15 * 24;
  std::mt19937_64 random(42);
  std::uniform_real_distribution<float> rate(0.0f, 1.0f);
  std::uniform_int_distribution<int64_t> trips(0, 1000);
  auto timestamp_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  arrow::TimestampBuilder event(timestamp_type, arrow::default_memory_pool());
  arrow::TimestampBuilder created(timestamp_type, arrow::default_memory_pool());
  arrow::Int64Builder driver, daily_trips;
  arrow::FloatBuilder conv, acc;
  for (int64_t id = 1001; id <= 1005; ++id) {
    for (int h = kHours; h > 0; --h) {
      int64_t t = end_micros - h * kHour;
      ARROW_RETURN_NOT_OK(event.Append(t));
      ARROW_RETURN_NOT_OK(created.Append(t + 60 * kMicrosPerSecond));
      ARROW_RETURN_NOT_OK(driver.Append(id));
      ARROW_RETURN_NOT_OK(conv.Append(rate(random)));
      ARROW_RETURN_NOT_OK(acc.Append(rate(random)));
      ARROW_RETURN_NOT_OK(daily_trips.Append(trips(random)));
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> columns(6);
  ARROW_RETURN_NOT_OK(event.Finish(&columns[0]));
  ARROW_RETURN_NOT_OK(driver.Finish(&columns[1]));
  ARROW_RETURN_NOT_OK(conv.Finish(&columns[2]));
  ARROW_RETURN_NOT_OK(acc.Finish(&columns[3]));
  ARROW_RETURN_NOT_OK(daily_trips.Finish(&columns[4]));
  ARROW_RETURN_NOT_OK(created.Finish(&columns[5]));
  auto schema = arrow::schema(
      {arrow::field("event_timestamp", timestamp_type), arrow::field("driver_id", arrow::int64()),
       arrow::field("conv_rate", arrow::float32()), arrow::field("acc_rate", arrow::float32()),
       arrow::field("avg_daily_trips", arrow::int64()), arrow::field("created", timestamp_type)});
  return arrow::Table::Make(schema, columns);
}

// Entity rows to try retrieval with: a few drivers at a few recent times, and a label.
std::string DriverEntityRows(int64_t end_micros) {
  constexpr int64_t kHour = 3600 * kMicrosPerSecond;
  std::string csv = "driver_id,event_timestamp,label_driver_reported_satisfaction\n";
  const struct {
    int64_t driver;
    int64_t hours_ago;
    int label;
  } rows[] = {
      {1001, 1, 1}, {1002, 5, 5},  {1003, 30, 3}, {1001, 48, 2},
      {1004, 2, 4}, {1005, 400, 1}};  // the last is before the data starts: its features are null
  for (const auto& row : rows) {
    csv +=
        std::to_string(row.driver) + "," +
        FormatTimestamp(Timestamp{end_micros - row.hours_ago * kHour - 1800 * kMicrosPerSecond}) +
        "," + std::to_string(row.label) + "\n";
  }
  return csv;
}

}  // namespace

Status RunInit(const std::string& name, const fs::path& parent) {
  // The directory's name is the project's, so it follows the one name rule (which also makes
  // it a single path component).
  Status named = registry::CheckName(name);
  if (!named.ok())
    return Status::Invalid("repository ", named.message(), " (it is the project name)");
  ARROW_ASSIGN_OR_RAISE(fs::path repo, ChildPath(parent, name));
  std::error_code error;
  if (fs::exists(repo, error)) return Status::Invalid("'", repo.string(), "' already exists");
  fs::create_directories(repo / "data", error);
  if (error) return Status::IOError("cannot create ", repo.string(), ": ", error.message());

  // Data ends at the last full hour, so the example is "fresh" whenever it is created.
  constexpr int64_t kHour = 3600 * kMicrosPerSecond;
  int64_t end = SystemClock::Instance().Now().micros / kHour * kHour;
  ARROW_RETURN_NOT_OK(WriteText(repo / "feature_store.yaml", Substitute(kFeatureStoreYaml, name)));
  ARROW_RETURN_NOT_OK(WriteText(repo / "definitions.yaml", kDefinitionsYaml));
  ARROW_ASSIGN_OR_RAISE(auto stats, DriverStats(end));
  ARROW_RETURN_NOT_OK(offline::WriteTableFile(*stats, repo / "data" / "driver_stats.parquet"));
  ARROW_RETURN_NOT_OK(WriteText(repo / "data" / "driver_entities.csv", DriverEntityRows(end)));
  std::cout << "Created feature repository " << repo.string() << "\n"
            << "  feature_store.yaml         configuration\n"
            << "  definitions.yaml           entity, source, feature view, feature service\n"
            << "  data/driver_stats.parquet  " << stats->num_rows() << " hourly driver stats\n"
            << "  data/driver_entities.csv   entity rows to retrieve training data for\n"
            << "Next: cd " << repo.string() << " && headwater apply\n";
  return Status::OK();
}

}  // namespace headwater::cli
