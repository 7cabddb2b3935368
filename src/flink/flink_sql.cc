#include "headwater/flink/flink_sql.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "headwater/ingest/event_time_bounds.h"
#include "headwater/registry/source_schema.h"

namespace headwater::flink {
namespace {

constexpr const char* kConnectorJar = "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2";
constexpr const char* kFunctionJar = "headwater-flink-udf.jar (built by scripts/build_flink_udf)";

// Flink SQL quoting: `name`, 'text'.
std::string Name(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  return out + "`";
}

std::string Text(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// A whole number of milliseconds as a Flink interval literal (days below 100).
std::string Interval(int64_t millis) {
  return fmt::format("INTERVAL '{} {:02}:{:02}:{:02}.{:03}' DAY TO SECOND(3)", millis / 86'400'000,
                     millis / 3'600'000 % 24, millis / 60'000 % 60, millis / 1000 % 60,
                     millis % 1000);
}

std::string Fingerprint(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", hash);
}

Result<std::string> FlinkType(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT8:
      return "TINYINT";
    case arrow::Type::INT16:
      return "SMALLINT";
    case arrow::Type::INT32:
      return "INT";
    case arrow::Type::INT64:
      return "BIGINT";
    case arrow::Type::FLOAT:
      return "FLOAT";
    case arrow::Type::DOUBLE:
      return "DOUBLE";
    default:
      return Status::Invalid(type.ToString());
  }
}

// One view's columns, as the compiler needs them.
struct ViewColumns {
  std::vector<std::pair<std::string, std::string>> keys;    // event column, Flink type
  std::vector<std::pair<std::string, std::string>> values;  // distinct aggregated columns
  std::string time;
  int64_t grid_ms = 0;
};

Result<ViewColumns> ReadColumns(const registry::RepoConfig& config,
                                const registry::Definitions& definitions,
                                const registry::FeatureView& view) {
  const std::string where = view.location.ToString();
  auto refuse = [&](std::string_view feature, std::string_view why) {
    return Status::Invalid(where, where.empty() ? "" : ": ", "stream feature view '", view.name,
                           "'", feature.empty() ? "" : ", feature '", feature,
                           feature.empty() ? "" : "'", ": cannot run on Flink: ", why);
  };
  const registry::DataSource* events = definitions.EventSourceOf(view);
  if (events == nullptr) return refuse("", "its source has no batch_source");
  ARROW_ASSIGN_OR_RAISE(auto schema, registry::ReadSourceSchema(config.Resolve(events->path)));
  ViewColumns columns;
  columns.time = events->timestamp_field;
  for (const std::string& name : view.entities) {
    const registry::Entity* entity = definitions.FindEntity(name);
    if (entity == nullptr) return refuse("", "unknown entity '" + name + "'");
    std::string type = entity->value_type == ScalarKind::kString  ? "STRING"
                       : entity->value_type == ScalarKind::kInt32 ? "INT"
                       : entity->value_type == ScalarKind::kInt64 ? "BIGINT"
                                                                  : "";
    if (type.empty()) {
      return refuse("", "entity '" + name + "' has " +
                            FormatFeatureType(FeatureType{entity->value_type}) +
                            " keys; Flink jobs take STRING, INT32 and INT64 keys");
    }
    columns.keys.emplace_back(events->ColumnFor(entity->join_key), type);
  }
  int64_t grid = 0;
  int64_t smallest_slide = INT64_MAX;
  for (const registry::AggregationDef& aggregation : view.aggregations) {
    for (int64_t micros : {aggregation.time_window.micros, aggregation.slide_interval.micros}) {
      if (micros % 1000 != 0) {
        return refuse(aggregation.name,
                      "its windows must be whole milliseconds (Flink's time unit)");
      }
      if (micros >= int64_t{100} * 86'400'000'000) {
        return refuse(aggregation.name, "windows of 100 days or more are not supported");
      }
    }
    grid = std::gcd(grid, aggregation.slide_interval.micros);
    smallest_slide = std::min(smallest_slide, aggregation.slide_interval.micros);
    const std::string column = events->ColumnFor(aggregation.column);
    if (std::any_of(columns.values.begin(), columns.values.end(),
                    [&](const auto& value) { return value.first == column; })) {
      continue;
    }
    auto field = schema->GetFieldByName(column);
    if (field == nullptr) return refuse(aggregation.name, "no column '" + column + "'");
    auto type = FlinkType(*field->type());
    if (!type.ok()) {
      return refuse(aggregation.name, "column '" + column + "' is " + field->type()->ToString() +
                                          "; Flink jobs aggregate integer and floating columns");
    }
    columns.values.emplace_back(column, *type);
  }
  if (grid != smallest_slide) {
    // Flink judges lateness per pane of the grid; the embedded engine per event's first
    // window end, which is later when no slide equals the grid.
    return refuse("", fmt::format("the slides' greatest common divisor ({}) must be one of its "
                                  "slides, so that Flink's per-pane lateness is the embedded "
                                  "engine's",
                                  FormatDuration(Duration{grid})));
  }
  columns.grid_ms = grid / 1000;
  for (Duration d : {definitions.FindSource(view.source)->watermark_delay, view.allowed_lateness}) {
    if (d.micros % 1000 != 0) {
      return refuse("", "watermark_delay and allowed_lateness must be whole milliseconds");
    }
  }
  return columns;
}

void AddSettings(const registry::RepoConfig& config, const std::string& job_name,
                 std::vector<std::string>* statements) {
  const registry::StreamEngineConfig& engine = config.stream_engine;
  std::vector<std::pair<std::string, std::string>> settings = {
      {"table.local-time-zone", "UTC"},
      // headwater_tile has no merge: one phase, in arrival order, as the embedded engine folds.
      {"table.optimizer.agg-phase-strategy", "ONE_PHASE"},
      {"execution.checkpointing.interval",
       fmt::format("{} ms", engine.checkpoint_interval.micros / 1000)},
      {"parallelism.default", std::to_string(engine.parallelism)},
      // Checkpoints outlive the job, so that apply can resume a job the cluster lost.
      {"execution.checkpointing.dir", CheckpointDirectory(config)},
      {"execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"},
  };
  for (const auto& option : engine.table_config) {
    auto same = std::find_if(settings.begin(), settings.end(),
                             [&](const auto& setting) { return setting.first == option.first; });
    if (same != settings.end()) {
      same->second = option.second;  // the user's choice wins, in place
    } else {
      settings.push_back(option);
    }
  }
  settings.emplace_back("pipeline.name", job_name);
  for (const auto& [key, value] : settings) {
    statements->push_back(fmt::format("SET {} = {}", Text(key), Text(value)));
  }
}

// The job's statements, each without its ';'.
std::vector<std::string> JobStatements(const registry::RepoConfig& config,
                                       const registry::FeatureView& view,
                                       const registry::DataSource& source,
                                       const ViewColumns& columns, const FlinkJob& job) {
  const std::string events = Name(view.name + "__events");
  const std::string tiles = Name(view.name + "__tiles");
  const int64_t trail_ms =
      (source.watermark_delay.micros + view.allowed_lateness.micros) / 1000 + 1;
  const int64_t skew_ms = config.max_event_time_skew.micros / 1000;
  const std::string time = Name(columns.time);
  std::vector<std::string> statements;
  AddSettings(config, job.job_name, &statements);
  statements.push_back(
      "CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS headwater_tile AS "
      "'dev.headwater.flink.Tile' LANGUAGE JAVA");
  std::string sql = fmt::format("CREATE TEMPORARY TABLE {} (\n", events);
  for (const auto& [name, type] : columns.keys) sql += fmt::format("  {} {},\n", Name(name), type);
  for (const auto& [name, type] : columns.values) {
    sql += fmt::format("  {} {},\n", Name(name), type);
  }
  // Event times are epoch milliseconds; one outside the accepted range (as on every write
  // path: ingest/event_time_bounds.h) has no rowtime, moves no watermark and is dropped.
  sql += fmt::format("  {} STRING,\n", time);
  sql += "  headwater_offset BIGINT METADATA FROM 'offset' VIRTUAL,\n";
  const std::string millis = fmt::format(
      "CASE WHEN TRY_CAST({0} AS BIGINT) BETWEEN {1} AND UNIX_TIMESTAMP() * 1000 + {2} THEN "
      "TRY_CAST({0} AS BIGINT) END",
      time, ingest::kEarliestEventTime.micros / 1000, skew_ms);
  sql += fmt::format("  headwater_ms AS {},\n", millis);
  sql += fmt::format("  headwater_rowtime AS TO_TIMESTAMP_LTZ({}, 3),\n", millis);
  sql += fmt::format("  WATERMARK FOR headwater_rowtime AS headwater_rowtime - {}\n",
                     Interval(trail_ms));
  sql += fmt::format(
      ") WITH (\n  'connector' = 'kafka',\n  'topic' = {},\n  'properties.bootstrap.servers' = "
      "{},\n  'properties.group.id' = {},\n"
      // From the offsets the job's consumer group committed at its checkpoints (a job started
      // afresh goes on where the old one was), at first from the earliest.
      "  'scan.startup.mode' = 'group-offsets',\n  'properties.auto.offset.reset' = 'earliest',\n"
      "  'scan.watermark.emit.strategy' = 'on-event',\n  'format' = 'json',\n"
      "  'json.ignore-parse-errors' = 'true'\n)",
      Text(source.topic), Text(source.bootstrap_servers), Text(job.job_name));
  statements.push_back(std::move(sql));
  sql = fmt::format("CREATE TEMPORARY TABLE {} (\n", tiles);
  for (const auto& [name, type] : columns.keys) sql += fmt::format("  {} {},\n", Name(name), type);
  sql += fmt::format("  {} BIGINT", Name(ingest::kTileTimeColumn));
  for (const auto& [name, type] : columns.values) {
    for (const char* field : ingest::kTileFields)
      sql += fmt::format(",\n  {} BIGINT", Name(name + "__" + field));
  }
  sql += fmt::format(
      "\n) WITH (\n  'connector' = 'kafka',\n  'topic' = {},\n  'properties.bootstrap.servers' = "
      "{},\n  'format' = 'json',\n  'sink.partitioner' = 'fixed',\n"
      "  'sink.delivery-guarantee' = 'exactly-once',\n  'sink.transactional-id-prefix' = {},\n"
      "  'properties.transaction.timeout.ms' = '900000'\n)",
      Text(job.tile_topic), Text(source.bootstrap_servers), Text(job.job_name));
  statements.push_back(std::move(sql));
  std::string keys;
  for (const auto& key : columns.keys) keys += Name(key.first) + ", ";
  sql = fmt::format("INSERT INTO {}\nSELECT {}{}", tiles, keys, Name(ingest::kTileTimeColumn));
  for (const auto& value : columns.values) {
    for (const char* field : ingest::kTileFields) {
      sql += fmt::format(", {}.{}", Name(value.first + "__tile"), Name(field));
    }
  }
  sql += fmt::format("\nFROM (\n  SELECT {}MAX(headwater_ms) AS {}", keys,
                     Name(ingest::kTileTimeColumn));
  for (const auto& value : columns.values) {
    sql += fmt::format(
        ",\n    headwater_tile(CAST({} AS DOUBLE), headwater_ms * 1000, "
        "headwater_offset) AS {}",
        Name(value.first), Name(value.first + "__tile"));
  }
  sql +=
      fmt::format("\n  FROM TABLE(TUMBLE(TABLE {}, DESCRIPTOR(headwater_rowtime), {}))\n  WHERE ",
                  events, Interval(columns.grid_ms));
  for (const auto& key : columns.keys) sql += Name(key.first) + " IS NOT NULL AND ";
  sql += fmt::format("headwater_ms IS NOT NULL\n  GROUP BY {}window_start, window_end\n)", keys);
  statements.push_back(std::move(sql));
  return statements;
}

}  // namespace

std::string CheckpointDirectory(const registry::RepoConfig& config) {
  auto set = config.stream_engine.table_config.find("execution.checkpointing.dir");
  if (set != config.stream_engine.table_config.end()) return set->second;
  return "file://" + (config.Resolve(config.stream.path) / "flink-checkpoints").string();
}

std::vector<std::string> RequiredJars() { return {kConnectorJar, kFunctionJar}; }

std::string FlinkPipeline::Script() const {
  std::string out =
      "-- Headwater's stream feature views as Flink SQL jobs (`headwater compile flink`).\n"
      "-- Each job writes its view's tiles to a Kafka topic that `headwater serve` merges into\n"
      "-- windows. Jars the cluster needs in lib/: jars.txt.\n";
  for (const auto& [view, reason] : embedded) {
    out +=
        fmt::format("-- stream feature view '{}' stays on the embedded engine: {}\n", view, reason);
  }
  for (const FlinkJob& job : jobs) {
    out += fmt::format("\n-- stream feature view '{}', from Kafka source '{}'\n", job.view,
                       job.source);
    out += job.sql;
  }
  return out;
}

Result<FlinkPipeline> CompileFlink(const registry::RepoConfig& config,
                                   const registry::Definitions& definitions) {
  FlinkPipeline pipeline;
  for (const registry::FeatureView& view : definitions.feature_views) {
    if (!view.is_stream()) continue;
    const registry::DataSource* source = definitions.FindSource(view.source);
    if (source == nullptr) return Status::Invalid("unknown source '", view.source, "'");
    if (source->type != registry::SourceType::kKafka) {
      pipeline.embedded.emplace_back(view.name, "its source '" + source->name +
                                                    "' is a push source, which only Headwater "
                                                    "receives");
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(ViewColumns columns, ReadColumns(config, definitions, view));
    FlinkJob job;
    job.view = view.name;
    job.source = source->name;
    job.bootstrap_servers = source->bootstrap_servers;
    job.job_name = "headwater-" + config.project + "-" + view.name;
    job.tile_topic = ingest::TileTopic(config.project, view.name);
    job.statements = JobStatements(config, view, *source, columns, job);
    for (const std::string& statement : job.statements) job.sql += statement + ";\n";
    job.fingerprint = Fingerprint(job.sql);
    std::string state =
        fmt::format("{}\n{}\n{}\n", source->bootstrap_servers, source->topic, columns.grid_ms);
    for (const auto& [name, type] : columns.keys) state += "key " + name + " " + type + "\n";
    for (const auto& [name, type] : columns.values) state += "value " + name + " " + type + "\n";
    job.state_fingerprint = Fingerprint(state);
    pipeline.jobs.push_back(std::move(job));
  }
  return pipeline;
}

}  // namespace headwater::flink
