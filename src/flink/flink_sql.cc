#include "headwater/flink/flink_sql.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "headwater/ingest/stream_pipeline.h"
#include "headwater/registry/source_schema.h"
#include "sql_text.h"
#include "view_columns.h"

namespace headwater::flink {
namespace {

constexpr const char* kConnectorJar = "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2";
constexpr const char* kFunctionJar = "headwater-flink-udf.jar (built by scripts/build_flink_udf)";

std::string Fingerprint(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", hash);
}

// How headwater_event (flink/udf: Event.java) checks a column of a JSON message, as
// ingest/json_rows.cc ReadJsonValue does.
std::string JsonTypeCode(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT8:
      return "i8";
    case arrow::Type::INT16:
      return "i16";
    case arrow::Type::INT32:
      return "i32";
    case arrow::Type::INT64:
      return "i64";
    case arrow::Type::UINT8:
      return "u8";
    case arrow::Type::UINT16:
      return "u16";
    case arrow::Type::UINT32:
      return "u32";
    case arrow::Type::UINT64:
      return "u64";
    case arrow::Type::FLOAT:
      return "f32";
    case arrow::Type::DOUBLE:
      return "f64";
    case arrow::Type::BOOL:
      return "bool";
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
      return "str";
    case arrow::Type::TIMESTAMP:
      switch (static_cast<const arrow::TimestampType&>(type).unit()) {
        case arrow::TimeUnit::SECOND:
          return "ts_s";
        case arrow::TimeUnit::MILLI:
          return "ts_ms";
        case arrow::TimeUnit::MICRO:
          return "ts_us";
        case arrow::TimeUnit::NANO:
          return "ts_ns";
      }
      return "x";
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
      return "list<" + JsonTypeCode(*type.field(0)->type()) + ">";
    case arrow::Type::NA:
      return "na";
    default:
      return "x";  // no JSON value reads as it: any non-null member is refused
  }
}

std::string KeyType(const std::string& code) {
  if (code == "str") return "STRING";
  if (code == "i8") return "TINYINT";
  if (code == "i16") return "SMALLINT";
  if (code == "i32") return "INT";
  if (code == "i64") return "BIGINT";
  return "";
}

bool IsNumeric(const std::string& code) {
  return code.size() <= 3 && (code[0] == 'i' || code[0] == 'u' || code[0] == 'f');
}

}  // namespace

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
  // What the embedded engine requires of every message of the source: the event time and the
  // join keys of all its stream views (ingest/stream_runner.cc).
  std::vector<std::string> required = {events->timestamp_field};
  for (const registry::FeatureView* other : ingest::StreamViewsOf(definitions, view.source)) {
    for (const std::string& name : other->entities) {
      const registry::Entity* entity = definitions.FindEntity(name);
      if (entity != nullptr) required.push_back(events->ColumnFor(entity->join_key));
    }
  }
  auto code_of = [&](const std::string& column) -> std::string {
    auto field = schema->GetFieldByName(column);
    return field == nullptr ? "" : JsonTypeCode(*field->type());
  };
  for (const std::string& name : view.entities) {
    const registry::Entity* entity = definitions.FindEntity(name);
    if (entity == nullptr) return refuse("", "unknown entity '" + name + "'");
    const std::string column = events->ColumnFor(entity->join_key);
    const std::string type = KeyType(code_of(column));
    if (type.empty()) {
      return refuse("", "join key column '" + column +
                            "' is not a string or signed integer column of the events");
    }
    columns.keys.emplace_back(column, type);
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
    if (std::find(columns.values.begin(), columns.values.end(), column) != columns.values.end()) {
      continue;
    }
    auto field = schema->GetFieldByName(column);
    if (field == nullptr) return refuse(aggregation.name, "no column '" + column + "'");
    if (!IsNumeric(code_of(column))) {
      return refuse(aggregation.name, "column '" + column + "' is " + field->type()->ToString() +
                                          "; Flink jobs aggregate integer and floating columns");
    }
    columns.values.push_back(column);
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
  if (!code_of(events->timestamp_field).starts_with("ts_")) {
    return refuse("", "its event time column '" + events->timestamp_field + "' is not a timestamp");
  }
  // Every column, in the schema's order: `flags:type:name` (flink/udf: Event.java).
  for (const auto& field : schema->fields()) {
    const std::string& name = field->name();
    if (name.find(';') != std::string::npos) {
      return refuse("", "column name '" + name + "' has a ';'");
    }
    const bool bounded =
        name == events->timestamp_field ||
        (name == events->created_timestamp_column && field->type()->id() == arrow::Type::TIMESTAMP);
    std::string flags;
    if (std::find(required.begin(), required.end(), name) != required.end()) flags += 'r';
    if (bounded) flags += 'b';
    if (name == events->timestamp_field) flags += 't';
    if (std::any_of(columns.keys.begin(), columns.keys.end(),
                    [&](const auto& key) { return key.first == name; })) {
      flags += 'k';
    }
    if (std::find(columns.values.begin(), columns.values.end(), name) != columns.values.end()) {
      flags += 'v';
    }
    if (flags.empty()) flags = "-";
    if (!columns.spec.empty()) columns.spec += ';';
    columns.spec += flags + ":" + JsonTypeCode(*field->type()) + ":" + name;
  }
  return columns;
}

namespace {

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

// The Kafka table options shared by the job's sinks (both to the tile topic).
std::string SinkOptions(const FlinkJob& job, std::string_view transactional_id) {
  return fmt::format(
      "'connector' = 'kafka',\n  'topic' = {},\n  'properties.bootstrap.servers' = {},\n"
      "  'format' = 'json',\n  'sink.partitioner' = 'fixed',\n"
      "  'sink.delivery-guarantee' = 'exactly-once',\n  'sink.transactional-id-prefix' = {},\n"
      "  'properties.transaction.timeout.ms' = '900000'",
      Text(job.tile_topic), Text(job.bootstrap_servers), Text(transactional_id));
}

// The job's statements, each without its ';'.
std::vector<std::string> JobStatements(const registry::RepoConfig& config,
                                       const registry::FeatureView& view,
                                       const registry::DataSource& source,
                                       const ViewColumns& columns, const FlinkJob& job) {
  const std::string events = Name(view.name + "__events");
  const std::string valid = Name(view.name + "__valid");
  const std::string tiles = Name(view.name + "__tiles");
  const std::string rejects = Name(view.name + "__rejects");
  const int64_t trail_ms =
      (source.watermark_delay.micros + view.allowed_lateness.micros) / 1000 + 1;
  std::vector<std::string> statements;
  AddSettings(config, job.job_name, &statements);
  for (const char* function : {"headwater_event", "headwater_tile"}) {
    statements.push_back(
        fmt::format("CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS {} AS 'dev.headwater.flink.{}' "
                    "LANGUAGE JAVA",
                    function, function == std::string_view("headwater_event") ? "Event" : "Tile"));
  }
  // Each message is read as the embedded engine reads it (headwater_event); one it refuses has
  // no rowtime, so moves no watermark, and becomes a dead letter.
  const std::string event =
      fmt::format("headwater_event(headwater_payload, {}, {})", Text(columns.spec),
                  config.max_event_time_skew.micros / 1000);
  statements.push_back(fmt::format(
      "CREATE TEMPORARY TABLE {} (\n  headwater_payload BYTES,\n"
      "  headwater_partition INT METADATA FROM 'partition' VIRTUAL,\n"
      "  headwater_offset BIGINT METADATA FROM 'offset' VIRTUAL,\n"
      "  headwater_event AS {},\n"
      "  headwater_rowtime AS TO_TIMESTAMP_LTZ(({}).headwater_ms, 3),\n"
      "  WATERMARK FOR headwater_rowtime AS headwater_rowtime - {}\n"
      ") WITH (\n  'connector' = 'kafka',\n  'topic' = {},\n  'properties.bootstrap.servers' = "
      "{},\n  'properties.group.id' = {},\n"
      // From the offsets the job's consumer group committed at its checkpoints (a job started
      // afresh goes on where the old one was), at first from the earliest.
      "  'scan.startup.mode' = 'group-offsets',\n  'properties.auto.offset.reset' = 'earliest',\n"
      "  'scan.watermark.emit.strategy' = 'on-event',\n  'format' = 'raw'\n)",
      events, event, event, Interval(trail_ms), Text(source.topic), Text(source.bootstrap_servers),
      Text(job.job_name)));
  std::string sql = fmt::format("CREATE TEMPORARY VIEW {} AS\nSELECT ", valid);
  for (const auto& key : columns.keys) {
    sql += fmt::format("headwater_event.{0} AS {0}, ", Name(key.first));
  }
  for (const std::string& value : columns.values) {
    sql +=
        fmt::format("headwater_event.{} AS {}, ", Name(value + "__value"), Name(value + "__value"));
  }
  sql += fmt::format(
      "headwater_event.headwater_us AS headwater_us,\n  headwater_event.headwater_ms AS "
      "headwater_ms, headwater_offset, headwater_rowtime\nFROM {}\nWHERE "
      "headwater_event.headwater_reason IS NULL",
      events);
  statements.push_back(std::move(sql));
  sql = fmt::format("CREATE TEMPORARY TABLE {} (\n", tiles);
  for (const auto& [name, type] : columns.keys) sql += fmt::format("  {} {},\n", Name(name), type);
  sql += fmt::format("  {} BIGINT", Name(ingest::kTileTimeColumn));
  for (const std::string& value : columns.values) {
    for (const char* field : ingest::kTileFields)
      sql += fmt::format(",\n  {} BIGINT", Name(value + "__" + field));
  }
  sql += fmt::format("\n) WITH (\n  {}\n)", SinkOptions(job, job.job_name));
  statements.push_back(std::move(sql));
  // Refused messages and late events, for Headwater's dead letters. Flink drops an event whose
  // pane fired (end - 1 ms <= the watermark); at parallelism 1 this watermark is the window
  // operator's, event for event.
  statements.push_back(fmt::format(
      "CREATE TEMPORARY TABLE {} (\n  headwater_reject STRING,\n  headwater_partition INT,\n"
      "  headwater_offset BIGINT,\n  headwater_payload BYTES\n) WITH (\n  {}\n)",
      rejects, SinkOptions(job, job.job_name + "-rejects")));
  std::string keys;
  for (const auto& key : columns.keys) keys += Name(key.first) + ", ";
  sql = fmt::format("EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO {}\nSELECT {}{}", tiles, keys,
                    Name(ingest::kTileTimeColumn));
  for (const std::string& value : columns.values) {
    for (const char* field : ingest::kTileFields) {
      sql += fmt::format(", {}.{}", Name(value + "__tile"), Name(field));
    }
  }
  sql += fmt::format("\nFROM (\n  SELECT {}MAX(headwater_ms) AS {}", keys,
                     Name(ingest::kTileTimeColumn));
  for (const std::string& value : columns.values) {
    sql += fmt::format(",\n    headwater_tile({}, headwater_us, headwater_offset) AS {}",
                       Name(value + "__value"), Name(value + "__tile"));
  }
  sql += fmt::format(
      "\n  FROM TABLE(TUMBLE(TABLE {}, DESCRIPTOR(headwater_rowtime), {}))\n  GROUP BY "
      "{}window_start, window_end\n);\n",
      valid, Interval(columns.grid_ms), keys);
  sql += fmt::format(
      "INSERT INTO {0}\nSELECT COALESCE(headwater_event.headwater_reason, 'late: its window was "
      "final'),\n  headwater_partition, headwater_offset, headwater_payload\nFROM {1}\n"
      "WHERE headwater_event.headwater_reason IS NOT NULL\n  OR TO_TIMESTAMP_LTZ({2} - "
      "MOD(MOD({2}, {3}) + {3}, {3}) + {4}, 3) <= CURRENT_WATERMARK(headwater_rowtime);\nEND",
      rejects, events, "headwater_event.headwater_ms", columns.grid_ms, columns.grid_ms - 1);
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
    // "layout 2": the jobs read raw messages with headwater_event and write rejects.
    std::string state = fmt::format("layout 2\n{}\n{}\n{}\n", source->bootstrap_servers,
                                    source->topic, columns.grid_ms);
    for (const auto& [name, type] : columns.keys) state += "key " + name + " " + type + "\n";
    for (const std::string& name : columns.values) state += "value " + name + "\n";
    job.state_fingerprint = Fingerprint(state);
    pipeline.jobs.push_back(std::move(job));
  }
  return pipeline;
}

}  // namespace headwater::flink
