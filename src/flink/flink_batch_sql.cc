// The batch engine's compilers: Flink SQL text for each batch job (flink_batch.h); running
// them is flink_batch.cc.

#include <arrow/api.h>
#include <fmt/format.h>

#include <algorithm>

#include "headwater/core/object_store.h"
#include "headwater/flink/flink_batch.h"
#include "headwater/ingest/window_job.h"
#include "headwater/registry/source_schema.h"
#include "sql_text.h"
#include "view_columns.h"

namespace headwater::flink {
namespace {

namespace fs = std::filesystem;
using registry::DataSource;
using registry::FeatureView;

// The Flink type of a Parquet column Arrow reads as `type`. Timestamps of every unit are read
// at microseconds, which Flink's Parquet reader does by truncating, as the embedded engine does.
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
    case arrow::Type::BOOL:
      return "BOOLEAN";
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
      return "STRING";
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
      return "BYTES";
    case arrow::Type::TIMESTAMP:
      return "TIMESTAMP_LTZ(6)";
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: {
      ARROW_ASSIGN_OR_RAISE(std::string element, FlinkType(*type.field(0)->type()));
      return "ARRAY<" + element + ">";
    }
    default:
      return Status::NotImplemented("Flink's Parquet reader has no type for ", type.ToString());
  }
}

// Flink's filesystem source reads every file of a directory that is not hidden; the embedded
// engine reads its *.parquet files (registry::ListSourceFiles) in name order, which is Flink's
// `file.path` order only for names that compare alike as bytes and as Java strings.
Status CheckSourceFiles(const fs::path& path, const DataSource& source) {
  if (storage::IsObjectUri(path)) {
    // Flink reads s3:// only through its S3 file-system plugin, which the cluster scripts here
    // do not install: say so before a job is submitted, rather than let the job fail.
    return Status::NotImplemented("source '", source.name, "' (", path.string(),
                                  "): the batch engine on Flink reads local paths only; run this "
                                  "with --engine embedded, which reads S3");
  }
  std::error_code error;
  if (!fs::is_directory(path, error)) return Status::OK();
  for (const auto& entry : fs::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || name[0] == '_') continue;
    const bool parquet = entry.is_regular_file() && entry.path().extension() == ".parquet";
    if (!parquet) {
      return Status::Invalid("source '", source.name, "' (", path.string(), "): '", name,
                             "' is not one of its Parquet files, but Flink would read it; move it "
                             "out or hide it (a name starting with '.' or '_')");
    }
    if (std::any_of(name.begin(), name.end(), [](char c) { return (c & 0x80) != 0; })) {
      return Status::Invalid("source '", source.name, "' (", path.string(), "): the file name '",
                             name,
                             "' is not ASCII; the batch engine on Flink orders files by name as "
                             "the embedded engine does only for ASCII names");
    }
  }
  if (error) return Status::IOError("cannot list ", path.string(), ": ", error.message());
  return Status::OK();
}

std::string Uri(const fs::path& path) { return "file://" + path.string(); }

std::string ParquetTable(const std::string& table, const std::vector<std::string>& columns,
                         const fs::path& path) {
  std::string ddl = "CREATE TEMPORARY TABLE " + Name(table) + " (";
  for (size_t c = 0; c < columns.size(); ++c) ddl += (c ? ", " : "") + columns[c];
  return ddl + ") WITH ('connector' = 'filesystem', 'path' = " + Text(Uri(path)) +
         ", 'format' = 'parquet')";
}

// The batch job's settings: batch mode, UTC, the parallelism, then table_config.
std::vector<std::string> Settings(const registry::RepoConfig& config, const std::string& name) {
  const registry::BatchEngineConfig& engine = config.batch_engine;
  std::vector<std::string> sets = {
      "SET 'execution.runtime-mode' = 'batch'",
      "SET 'table.local-time-zone' = 'UTC'",
      "SET 'pipeline.name' = " + Text(name),
      "SET 'parallelism.default' = " + Text(std::to_string(engine.parallelism)),
  };
  for (const auto& [key, value] : engine.table_config) {
    sets.push_back("SET " + Text(key) + " = " + Text(value));
  }
  return sets;
}

// A source as one job reads it: its table, and the Flink type of each column declared.
struct SourceTable {
  const DataSource* source = nullptr;
  std::string table;
  std::shared_ptr<arrow::Schema> schema;
  std::vector<std::string> columns;  // declared, in order

  Result<std::string> Declare(const std::string& column) {
    if (std::find(columns.begin(), columns.end(), column) != columns.end()) return Name(column);
    auto field = schema->GetFieldByName(column);
    if (field == nullptr) {
      return Status::Invalid("source '", source->name, "' (", source->path, ") has no column '",
                             column, "' any more; fix the data or run `headwater apply`");
    }
    auto type = FlinkType(*field->type());
    if (!type.ok()) {
      return Status::NotImplemented("source '", source->name, "', column '", column,
                                    "': cannot run on Flink: ", type.status().message());
    }
    columns.push_back(column);
    return Name(column);
  }

  Result<std::string> TypeOf(const std::string& column) const {
    return FlinkType(*schema->GetFieldByName(column)->type());
  }

  // Nanosecond timestamps are declared as such: Flink's reader keeps the nanoseconds whatever
  // the declared precision, and casts keep them too; the queries compare them at microseconds.
  bool Nanos(const std::string& column) const {
    const auto& type = *schema->GetFieldByName(column)->type();
    return type.id() == arrow::Type::TIMESTAMP &&
           static_cast<const arrow::TimestampType&>(type).unit() == arrow::TimeUnit::NANO;
  }

  // The keys that order `expression` (of `column`'s values) as the embedded engine does: at
  // microseconds.
  std::vector<std::string> Micros(const std::string& column, const std::string& expression) const {
    if (!Nanos(column)) return {expression};
    return {"FLOOR(" + expression + " TO SECOND)",
            "EXTRACT(NANOSECOND FROM " + expression + ") / 1000"};
  }

  Result<std::string> Ddl(const registry::RepoConfig& config) const {
    std::vector<std::string> declared;
    for (const std::string& column : columns) {
      ARROW_ASSIGN_OR_RAISE(std::string type, TypeOf(column));
      declared.push_back(Name(column) + " " + (Nanos(column) ? "TIMESTAMP_LTZ(9)" : type));
    }
    declared.push_back("`__file` STRING NOT NULL METADATA FROM 'file.path' VIRTUAL");
    return ParquetTable(table, declared, config.Resolve(source->path));
  }
};

Result<SourceTable> OpenSource(const registry::RepoConfig& config, const DataSource* source,
                               const FeatureView& view, std::string table) {
  if (source == nullptr) {
    return Status::Invalid("feature view '", view.name, "' names unknown source '", view.source,
                           "'; run `headwater apply`");
  }
  const fs::path path = config.Resolve(source->path);
  ARROW_RETURN_NOT_OK(CheckSourceFiles(path, *source));
  SourceTable out;
  out.source = source;
  out.table = std::move(table);
  ARROW_ASSIGN_OR_RAISE(out.schema, registry::ReadSourceSchema(path));
  return out;
}

// The source columns of a view's join keys.
Result<std::vector<std::string>> KeyColumns(const registry::Definitions& definitions,
                                            const FeatureView& view, const DataSource& source) {
  std::vector<std::string> keys;
  for (const std::string& entity_name : view.entities) {
    const registry::Entity* entity = definitions.FindEntity(entity_name);
    if (entity == nullptr) {
      return Status::Invalid("feature view '", view.name, "' names unknown entity '", entity_name,
                             "'; run `headwater apply`");
    }
    keys.push_back(source.ColumnFor(entity->join_key));
  }
  return keys;
}

// The order that picks "the latest row": event time, then created time (null as 0, as the
// embedded engine reads it), then the file read last; times at microseconds.
std::string LatestFirst(const std::string& alias, const SourceTable& table) {
  const DataSource& source = *table.source;
  std::vector<std::string> keys =
      table.Micros(source.timestamp_field, alias + Name(source.timestamp_field));
  if (!source.created_timestamp_column.empty()) {
    for (std::string& key :
         table.Micros(source.created_timestamp_column, "COALESCE(" + alias +
                                                           Name(source.created_timestamp_column) +
                                                           ", TO_TIMESTAMP_LTZ(0, 3))")) {
      keys.push_back(std::move(key));
    }
  }
  keys.push_back(alias + "`__file`");
  std::string order;
  for (const std::string& key : keys) order += (order.empty() ? "" : ", ") + key + " DESC";
  return order;
}

// Groups of rows of `table` with one key, event time, created time and file, among the rows
// `where` selects: Flink cannot tell which of such rows the file holds last.
std::string TiesQuery(const SourceTable& table, const std::vector<std::string>& keys,
                      const std::string& where) {
  std::vector<std::string> group;
  for (const std::string& key : keys) group.push_back(Name(key));
  for (std::string& key :
       table.Micros(table.source->timestamp_field, Name(table.source->timestamp_field))) {
    group.push_back(std::move(key));
  }
  const std::string& created = table.source->created_timestamp_column;
  if (!created.empty()) {
    for (std::string& key :
         table.Micros(created, "COALESCE(" + Name(created) + ", TO_TIMESTAMP_LTZ(0, 3))")) {
      group.push_back(std::move(key));
    }
  }
  group.push_back("`__file`");
  std::string by;
  for (const std::string& key : group) by += (by.empty() ? "" : ", ") + key;
  return "SELECT COUNT(*) FROM (SELECT COUNT(*) AS `n` FROM " + Name(table.table) + " WHERE " +
         where + " GROUP BY " + by + " HAVING COUNT(*) > 1)";
}

std::string NotNull(const std::vector<std::string>& columns) {
  std::string where;
  for (const std::string& column : columns) {
    where += (where.empty() ? "" : " AND ") + Name(column) + " IS NOT NULL";
  }
  return where;
}

std::string StatementSet(const std::vector<std::string>& inserts) {
  std::string set = "EXECUTE STATEMENT SET BEGIN\n";
  for (const std::string& insert : inserts) set += insert + ";\n";
  return set + "END";
}

std::string Microseconds(Timestamp time) {
  return fmt::format("TO_TIMESTAMP_LTZ({}, 6)", time.micros);
}

}  // namespace

std::string BatchJob::Script() const {
  std::string script;
  for (const std::string& statement : statements) script += statement + ";\n";
  return script;
}

Result<BatchJob> CompileRetrievalJob(const registry::RepoConfig& config,
                                     const registry::Definitions& definitions,
                                     const std::vector<offline::ViewJoin>& joins,
                                     const std::vector<std::string>& key_names,
                                     const std::vector<std::shared_ptr<arrow::DataType>>& key_types,
                                     const fs::path& staging) {
  BatchJob job;
  job.name = "headwater-" + config.project + "-training-data";
  job.statements = Settings(config, job.name);
  // The staged entity rows: __row, the keys as k0, k1, ..., __ts, and per join with a TTL the
  // earliest event time it may match (__from<j>, computed by Headwater to the microsecond).
  std::vector<std::string> entity = {"`__row` BIGINT"};
  for (size_t k = 0; k < key_names.size(); ++k) {
    ARROW_ASSIGN_OR_RAISE(std::string type, FlinkType(*key_types[k]));
    entity.push_back(Name("k" + std::to_string(k)) + " " + type);
  }
  entity.push_back("`__ts` TIMESTAMP_LTZ(6)");
  entity.push_back("`__next` TIMESTAMP_LTZ(6)");
  for (size_t j = 0; j < joins.size(); ++j) {
    if (joins[j].view->ttl.micros > 0)
      entity.push_back(Name(fmt::format("__from{}", j)) + " TIMESTAMP_LTZ(6)");
  }
  std::vector<std::string> tables = {ParquetTable("__entities", entity, staging / "entities")};
  std::vector<SourceTable> sources;
  std::vector<std::string> inserts;
  for (size_t j = 0; j < joins.size(); ++j) {
    const FeatureView& view = *joins[j].view;
    const DataSource* source = definitions.BatchSourceOf(view);
    auto shared = std::find_if(sources.begin(), sources.end(),
                               [&](const SourceTable& t) { return t.source == source; });
    if (shared == sources.end()) {
      ARROW_ASSIGN_OR_RAISE(
          auto opened, OpenSource(config, source, view, fmt::format("source{}", sources.size())));
      sources.push_back(std::move(opened));
      shared = sources.end() - 1;
    }
    SourceTable& table = *shared;
    ARROW_ASSIGN_OR_RAISE(auto keys, KeyColumns(definitions, view, *source));
    std::string on;
    for (size_t k = 0; k < keys.size(); ++k) {
      const std::string& join_key = definitions.FindEntity(view.entities[k])->join_key;
      const auto at = std::find(key_names.begin(), key_names.end(), join_key) - key_names.begin();
      ARROW_ASSIGN_OR_RAISE(std::string column, table.Declare(keys[k]));
      on += fmt::format("e.`k{}` = f.{} AND ", at, column);
    }
    ARROW_ASSIGN_OR_RAISE(std::string ts, table.Declare(source->timestamp_field));
    if (!source->created_timestamp_column.empty()) {
      ARROW_RETURN_NOT_OK(table.Declare(source->created_timestamp_column).status());
    }
    on += "f." + ts + " < e.`__next`";  // ts <= e.ts at microseconds, whatever ts's unit
    if (view.ttl.micros > 0) on += fmt::format(" AND f.{} >= e.`__from{}`", ts, j);
    std::vector<std::string> out = {"`__row` BIGINT"};
    std::string select = "e.`__row`", columns = "`__row`";
    for (size_t f = 0; f < joins[j].features.size(); ++f) {
      const std::string column = source->ColumnFor(joins[j].features[f]);
      ARROW_ASSIGN_OR_RAISE(std::string name, table.Declare(column));
      ARROW_ASSIGN_OR_RAISE(std::string type, table.TypeOf(column));
      out.push_back(fmt::format("`f{}` {}", f, type));
      select += fmt::format(", f.{} AS `f{}`", name, f);
      columns += fmt::format(", `f{}`", f);
    }
    if (joins[j].event_time) {
      out.push_back("`__ts` TIMESTAMP_LTZ(6)");
      select += ", f." + ts + " AS `__ts`";
      columns += ", `__ts`";
    }
    tables.push_back(
        ParquetTable(fmt::format("join{}", j), out, staging / fmt::format("join-{}", j)));
    inserts.push_back(fmt::format(
        "INSERT INTO `join{}` SELECT {} FROM (SELECT {}, ROW_NUMBER() OVER (PARTITION BY "
        "e.`__row` ORDER BY {}) AS `__rn` FROM `__entities` e JOIN {} f ON {}) WHERE `__rn` = 1",
        j, columns, select, LatestFirst("f.", table), Name(table.table), on));
  }
  for (size_t s = 0; s < sources.size(); ++s) {
    ARROW_ASSIGN_OR_RAISE(std::string ddl, sources[s].Ddl(config));
    tables.push_back(std::move(ddl));
    tables.push_back(ParquetTable(fmt::format("ties{}", s), {"`ties` BIGINT"},
                                  staging / fmt::format("ties-{}", s)));
    // The keys of the first view reading the source (every view's keys are among its columns).
    const FeatureView* view = nullptr;
    for (const auto& join : joins) {
      if (definitions.BatchSourceOf(*join.view) == sources[s].source) view = join.view;
    }
    ARROW_ASSIGN_OR_RAISE(auto keys, KeyColumns(definitions, *view, *sources[s].source));
    std::vector<std::string> present = keys;
    present.push_back(sources[s].source->timestamp_field);
    inserts.push_back(
        fmt::format("INSERT INTO `ties{}` {}", s, TiesQuery(sources[s], keys, NotNull(present))));
  }
  for (auto& table : tables) job.statements.push_back(std::move(table));
  job.statements.push_back(StatementSet(inserts));
  return job;
}

Result<BatchJob> CompileMaterializeJob(const registry::RepoConfig& config,
                                       const registry::Definitions& definitions,
                                       const FeatureView& view, Timestamp start, Timestamp end,
                                       const fs::path& staging) {
  BatchJob job;
  job.name = "headwater-" + config.project + "-materialize-" + view.name;
  job.statements = Settings(config, job.name);
  const DataSource* source = definitions.BatchSourceOf(view);
  ARROW_ASSIGN_OR_RAISE(SourceTable table, OpenSource(config, source, view, "source"));
  ARROW_ASSIGN_OR_RAISE(auto keys, KeyColumns(definitions, view, *source));
  std::vector<std::string> out, select;
  std::string partition;
  for (size_t k = 0; k < keys.size(); ++k) {
    ARROW_ASSIGN_OR_RAISE(std::string name, table.Declare(keys[k]));
    ARROW_ASSIGN_OR_RAISE(std::string type, table.TypeOf(keys[k]));
    out.push_back(fmt::format("`k{}` {}", k, type));
    select.push_back(fmt::format("{} AS `k{}`", name, k));
    partition += (k ? ", " : "") + name;
  }
  ARROW_ASSIGN_OR_RAISE(std::string ts, table.Declare(source->timestamp_field));
  out.push_back("`__ts` TIMESTAMP_LTZ(6)");
  select.push_back(ts + " AS `__ts`");
  out.push_back("`__created` TIMESTAMP_LTZ(6)");
  if (source->created_timestamp_column.empty()) {
    select.push_back("CAST(NULL AS TIMESTAMP_LTZ(6)) AS `__created`");
  } else {
    ARROW_ASSIGN_OR_RAISE(std::string created, table.Declare(source->created_timestamp_column));
    select.push_back(created + " AS `__created`");
  }
  for (size_t f = 0; f < view.features.size(); ++f) {
    const std::string column = source->ColumnFor(view.features[f].name);
    ARROW_ASSIGN_OR_RAISE(std::string name, table.Declare(column));
    ARROW_ASSIGN_OR_RAISE(std::string type, table.TypeOf(column));
    out.push_back(fmt::format("`f{}` {}", f, type));
    select.push_back(fmt::format("{} AS `f{}`", name, f));
  }
  std::vector<std::string> present = keys;
  present.push_back(source->timestamp_field);
  const std::string in_range = fmt::format("{} AND {} >= {} AND {} < {}", NotNull(present), ts,
                                           Microseconds(start), ts, Microseconds(end));
  std::string columns, list;
  for (size_t c = 0; c < out.size(); ++c) {
    columns += (c ? ", " : "") + out[c].substr(0, out[c].find(' '));
    list += (c ? ", " : "") + select[c];
  }
  ARROW_ASSIGN_OR_RAISE(std::string ddl, table.Ddl(config));
  job.statements.push_back(std::move(ddl));
  job.statements.push_back(ParquetTable("latest", out, staging / "latest"));
  job.statements.push_back(
      ParquetTable("counts", {"`rows_read` BIGINT", "`rows_in_range` BIGINT"}, staging / "counts"));
  job.statements.push_back(ParquetTable("ties", {"`ties` BIGINT"}, staging / "ties"));
  job.statements.push_back(StatementSet({
      fmt::format("INSERT INTO `latest` SELECT {} FROM (SELECT {}, ROW_NUMBER() OVER (PARTITION "
                  "BY {} ORDER BY {}) AS `__rn` FROM `source` WHERE {}) WHERE `__rn` = 1",
                  columns, list, partition, LatestFirst("", table), in_range),
      fmt::format("INSERT INTO `counts` SELECT COUNT(*), COUNT(CASE WHEN {} THEN 1 END) FROM "
                  "`source`",
                  in_range),
      "INSERT INTO `ties` " + TiesQuery(table, keys, in_range),
  }));
  return job;
}

Result<BatchJob> CompileBackfillJob(const registry::RepoConfig& config,
                                    const registry::Definitions& definitions,
                                    const FeatureView& view, Timestamp first, Timestamp end,
                                    const fs::path& staging) {
  BatchJob job;
  job.name = "headwater-" + config.project + "-backfill-" + view.name;
  job.statements = Settings(config, job.name);
  // headwater_tile has no merge: one phase, as the stream jobs fold.
  job.statements.push_back("SET 'table.optimizer.agg-phase-strategy' = 'ONE_PHASE'");
  job.statements.push_back(
      "CREATE TEMPORARY SYSTEM FUNCTION IF NOT EXISTS headwater_tile AS "
      "'dev.headwater.flink.Tile' LANGUAGE JAVA");
  ARROW_ASSIGN_OR_RAISE(ViewColumns columns, ReadColumns(config, definitions, view));
  const DataSource* events = definitions.EventSourceOf(view);
  ARROW_ASSIGN_OR_RAISE(SourceTable table, OpenSource(config, events, view, "source"));
  std::vector<std::string> keys;
  for (const auto& key : columns.keys) {
    ARROW_RETURN_NOT_OK(table.Declare(key.first).status());
    keys.push_back(key.first);
  }
  ARROW_ASSIGN_OR_RAISE(std::string ts, table.Declare(events->timestamp_field));
  for (const std::string& value : columns.values) {
    ARROW_RETURN_NOT_OK(table.Declare(value).status());
  }
  // The embedded engine folds events in file order (a running sequence); Flink knows the file
  // of each row, not its place in the file: the file's rank is the sequence.
  ARROW_ASSIGN_OR_RAISE(auto files, registry::ListSourceFiles(config.Resolve(events->path)));
  std::string sequence = "CASE `__file`";
  for (size_t f = 0; f < files.size(); ++f) {
    sequence += fmt::format(" WHEN {} THEN CAST({} AS BIGINT)", Text(files[f].string()), f);
  }
  sequence += " END";
  // Epoch microseconds of the event time (Flink casts no timestamp to a number).
  const std::string micros = fmt::format(
      "CAST(TIMESTAMPDIFF(DAY, TO_TIMESTAMP_LTZ(0, 3), FLOOR({0} TO DAY)) AS BIGINT) * "
      "86400000000 + CAST(TIMESTAMPDIFF(SECOND, FLOOR({0} TO DAY), {0}) AS BIGINT) * 1000000 + "
      "EXTRACT(NANOSECOND FROM {0}) / 1000",
      ts);
  const int64_t grid = columns.grid_ms * 1000;
  std::string key_list, sink = "", select = "";
  for (const auto& [name, type] : columns.keys) {
    key_list += Name(name) + ", ";
    sink += Name(name) + " " + type + ", ";
  }
  sink += Name(ingest::kTileTimeColumn) + " BIGINT";
  std::string fields;
  for (const std::string& value : columns.values) {
    for (const char* field : ingest::kTileFields) {
      sink += ", " + Name(value + "__" + field) + " BIGINT";
      fields += fmt::format(", {}.{}", Name(value + "__tile"), Name(field));
    }
    select += fmt::format(", headwater_tile(CAST({} AS DOUBLE), `__us`, `__sequence`) AS {}",
                          Name(value), Name(value + "__tile"));
  }
  std::vector<std::string> present = keys;
  present.push_back(events->timestamp_field);
  ARROW_ASSIGN_OR_RAISE(std::string ddl, table.Ddl(config));
  job.statements.push_back(std::move(ddl));
  job.statements.push_back("CREATE TEMPORARY TABLE `tiles` (" + sink +
                           ") WITH ('connector' = 'filesystem', 'path' = " +
                           Text(Uri(staging / "tiles")) + ", 'format' = 'parquet')");
  job.statements.push_back(ParquetTable("ties", {"`ties` BIGINT"}, staging / "ties"));
  job.statements.push_back(ParquetTable("incomplete", {"`rows` BIGINT"}, staging / "incomplete"));
  std::string values;
  for (const std::string& value : columns.values) values += ", " + Name(value);
  const std::string in_range = fmt::format("{} AND {} >= {} AND {} < {}", NotNull(present), ts,
                                           Microseconds(first), ts, Microseconds(end));
  job.statements.push_back(StatementSet({
      fmt::format(
          "INSERT INTO `tiles` SELECT {0}{1}{2} FROM (SELECT {0}MAX(`__us`) AS "
          "{1}{3} FROM (SELECT {0}{4} AS `__us`, {5} AS `__sequence`{6} FROM `source` WHERE {7}) "
          "GROUP BY {0}(`__us` - MOD(MOD(`__us`, {8}) + {8}, {8})) / {8})",
          key_list, Name(ingest::kTileTimeColumn), fields, select, micros, sequence, values,
          in_range, grid),
      "INSERT INTO `ties` " + TiesQuery(table, keys, in_range),
      // The embedded engine refuses events without a key or a time (ingest/window_job.h).
      fmt::format("INSERT INTO `incomplete` SELECT COUNT(*) FROM `source` WHERE NOT ({})",
                  NotNull(present)),
  }));
  return job;
}

std::string BatchScript(const registry::RepoConfig& config,
                        const registry::Definitions& definitions, Timestamp now) {
  const fs::path staging = config.Resolve(config.batch_engine.staging_location) / "<run>";
  std::string out = fmt::format(
      "-- Headwater's batch jobs on Flink (`headwater compile flink`), as `--engine flink` runs\n"
      "-- them: each run stages its inputs and answers in a fresh directory under\n"
      "-- {}/<run>; the bounds here are [1970-01-01, {}).\n",
      config.Resolve(config.batch_engine.staging_location).string(), FormatTimestamp(now));
  auto add = [&](const std::string& what, const Result<BatchJob>& job) {
    out += "\n-- " + what + "\n";
    if (!job.ok()) {
      out += "-- cannot run on Flink: " + job.status().message() + "\n";
      return;
    }
    out += job->Script();
  };
  for (const FeatureView& view : definitions.feature_views) {
    if (view.is_stream()) {
      const DataSource* events = definitions.EventSourceOf(view);
      if (events == nullptr) continue;
      add("materialize: the windowed backfill of stream feature view '" + view.name + "'",
          CompileBackfillJob(config, definitions, view, Timestamp{0}, now, staging));
      continue;
    }
    if (view.online) {
      add("materialize: the latest row per key of feature view '" + view.name + "'",
          CompileMaterializeJob(config, definitions, view, Timestamp{0}, now, staging));
    }
    offline::ViewJoin join{&view, {}, false};
    for (const registry::Field& feature : view.features) join.features.push_back(feature.name);
    std::vector<std::string> keys;
    std::vector<std::shared_ptr<arrow::DataType>> types;
    for (const std::string& entity_name : view.entities) {
      const registry::Entity* entity = definitions.FindEntity(entity_name);
      if (entity == nullptr) continue;
      keys.push_back(entity->join_key);
      const bool integer =
          entity->value_type == ScalarKind::kInt32 || entity->value_type == ScalarKind::kInt64;
      types.push_back(integer ? arrow::int64() : ToArrowType({entity->value_type, false}));
    }
    add("get-historical-features: the point-in-time join of feature view '" + view.name +
            "' (several views in one call: one INSERT each, one job)",
        CompileRetrievalJob(config, definitions, {join}, keys, types, staging));
  }
  return out;
}

BatchJob CompileEntityQueryJob(const registry::RepoConfig& config,
                               const registry::Definitions& definitions, const std::string& query,
                               const fs::path& staging) {
  BatchJob job;
  job.name = "headwater-" + config.project + "-entity-query";
  job.statements = Settings(config, job.name);
  // Every file source, by its name, with the columns Flink can read.
  for (const DataSource& source : definitions.sources) {
    if (source.type != registry::SourceType::kFile) continue;
    const fs::path path = config.Resolve(source.path);
    if (!CheckSourceFiles(path, source).ok()) continue;
    auto schema = registry::ReadSourceSchema(path);
    if (!schema.ok()) continue;
    std::vector<std::string> columns;
    for (const auto& field : (*schema)->fields()) {
      auto type = FlinkType(*field->type());
      if (type.ok()) columns.push_back(Name(field->name()) + " " + *type);
    }
    job.statements.push_back(ParquetTable(source.name, columns, path));
  }
  job.statements.push_back("CREATE TABLE `__entities` WITH ('connector' = 'filesystem', 'path' = " +
                           Text(Uri(staging / "entities")) + ", 'format' = 'parquet') AS " + query);
  return job;
}

}  // namespace headwater::flink
