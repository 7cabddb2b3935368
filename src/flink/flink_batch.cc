#include "headwater/flink/flink_batch.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/io/file.h>
#include <fmt/format.h>
#include <parquet/arrow/reader.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>

#include "headwater/flink/flink_rest.h"
#include "headwater/ingest/window_job.h"
#include "headwater/offline/table_file.h"
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

// A fresh directory under the staging location, removed with the object.
class Staging {
 public:
  static Result<Staging> Make(const registry::RepoConfig& config) {
    static std::atomic<int64_t> counter{0};
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    Staging staging;
    staging.path_ =
        config.Resolve(config.batch_engine.staging_location) /
        fmt::format("{}-{}-{}-{}", config.project, getpid(),
                    std::chrono::duration_cast<std::chrono::microseconds>(now).count(), counter++);
    std::error_code error;
    fs::create_directories(staging.path_, error);
    if (error) {
      return Status::IOError("cannot create the Flink staging directory ", staging.path_.string(),
                             ": ", error.message());
    }
    return staging;
  }
  Staging() = default;
  Staging(Staging&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  Staging& operator=(Staging&&) = delete;
  ~Staging() {
    std::error_code error;
    if (!path_.empty()) fs::remove_all(path_, error);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Submits a job and waits for it to finish.
Status Run(const registry::RepoConfig& config, const BatchJob& job, const std::string& what) {
  const registry::BatchEngineConfig& engine = config.batch_engine;
  if (engine.rest_address.empty() || engine.sql_gateway.empty()) {
    return Status::Invalid(
        "feature_store.yaml: batch_engine type flink needs rest_address and sql_gateway (or "
        "stream_engine's)");
  }
  FlinkRest rest(engine.rest_address, engine.sql_gateway);
  auto failed = [&](const Status& status) {
    return Status(status.code(), what + " on Flink: " + status.message());
  };
  Status reachable = rest.Ping();
  if (!reachable.ok()) return failed(reachable);
  auto id = rest.Execute(job.statements);
  if (!id.ok()) return failed(id.status());
  if (id->empty()) return failed(Status::IOError("the SQL Gateway started no job"));
  Status done = rest.WaitForJob(*id);
  return done.ok() ? done : failed(done);
}

// What a job wrote to `directory` (Flink's part files), or null when it wrote nothing.
Result<std::shared_ptr<arrow::Table>> ReadOutput(const fs::path& directory) {
  std::vector<fs::path> files;
  std::error_code error;
  if (!fs::exists(directory, error)) return nullptr;
  for (const auto& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !name.empty() && name[0] != '.' && name[0] != '_') {
      files.push_back(entry.path());
    }
  }
  if (error) return Status::IOError("cannot list ", directory.string(), ": ", error.message());
  std::sort(files.begin(), files.end());
  std::vector<std::shared_ptr<arrow::Table>> tables;
  for (const fs::path& file : files) {  // Flink's part files have no extension
    ARROW_ASSIGN_OR_RAISE(auto input, arrow::io::ReadableFile::Open(file.string()));
    parquet::ArrowReaderProperties properties;
    properties.set_use_threads(true);
    parquet::arrow::FileReaderBuilder builder;
    ARROW_RETURN_NOT_OK(builder.Open(input));
    std::unique_ptr<parquet::arrow::FileReader> reader;
    ARROW_RETURN_NOT_OK(builder.properties(properties)->Build(&reader));
    ARROW_ASSIGN_OR_RAISE(auto table, reader->ReadTable());
    tables.push_back(std::move(table));
  }
  if (tables.empty()) return nullptr;
  return arrow::ConcatenateTables(tables);
}

Result<int64_t> ReadCount(const fs::path& directory, int column = 0) {
  ARROW_ASSIGN_OR_RAISE(auto table, ReadOutput(directory));
  int64_t total = 0;
  if (table == nullptr) return total;
  for (const auto& chunk : table->column(column)->chunks()) {
    const auto& counts = static_cast<const arrow::Int64Array&>(*chunk);
    for (int64_t i = 0; i < counts.length(); ++i) total += counts.IsValid(i) ? counts.Value(i) : 0;
  }
  return total;
}

Result<std::shared_ptr<arrow::Array>> Flat(const std::shared_ptr<arrow::ChunkedArray>& column) {
  if (column->num_chunks() == 1) return column->chunk(0);
  if (column->num_chunks() == 0) return arrow::MakeEmptyArray(column->type());
  return arrow::Concatenate(column->chunks());
}

// A column Flink wrote, as `type` (Flink writes timestamps without a zone, at nanoseconds).
Result<std::shared_ptr<arrow::Array>> As(const std::shared_ptr<arrow::Array>& array,
                                         const std::shared_ptr<arrow::DataType>& type) {
  if (array->type()->Equals(*type)) return array;
  return arrow::compute::Cast(*array, type);
}

const auto kMicrosUtc = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");

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

Result<offline::JoinedColumns> JoinOnFlink(const registry::RepoConfig& config,
                                           const registry::Definitions& definitions,
                                           const std::vector<offline::ViewJoin>& joins,
                                           const arrow::Table& entity_rows,
                                           const std::vector<int64_t>& entity_times,
                                           offline::RetrievalStats* stats) {
  const int64_t n = entity_rows.num_rows();
  // Stage the entity rows: ordinal, every join key once, time, and the TTLs' lower bounds.
  std::vector<std::string> key_names;
  std::vector<std::shared_ptr<arrow::DataType>> key_types;
  std::vector<std::shared_ptr<arrow::Field>> fields = {arrow::field("__row", arrow::int64())};
  std::vector<std::shared_ptr<arrow::Array>> columns;
  {
    arrow::Int64Builder rows;
    ARROW_RETURN_NOT_OK(rows.Reserve(n));
    for (int64_t i = 0; i < n; ++i) rows.UnsafeAppend(i);
    ARROW_ASSIGN_OR_RAISE(auto array, rows.Finish());
    columns.push_back(array);
  }
  for (const offline::ViewJoin& join : joins) {
    for (const std::string& entity_name : join.view->entities) {
      const std::string& key = definitions.FindEntity(entity_name)->join_key;
      if (std::find(key_names.begin(), key_names.end(), key) != key_names.end()) continue;
      ARROW_ASSIGN_OR_RAISE(auto array, Flat(entity_rows.GetColumnByName(key)));
      fields.push_back(arrow::field(fmt::format("k{}", key_names.size()), array->type()));
      key_names.push_back(key);
      key_types.push_back(array->type());
      columns.push_back(array);
    }
  }
  auto times = [&](int64_t minus) -> Result<std::shared_ptr<arrow::Array>> {
    constexpr int64_t kYearOne = -62'135'596'800'000'000;  // Flink's earliest timestamp
    arrow::TimestampBuilder builder(kMicrosUtc, arrow::default_memory_pool());
    ARROW_RETURN_NOT_OK(builder.Reserve(n));
    for (int64_t t : entity_times) {
      builder.UnsafeAppend(t - minus < kYearOne || t < kYearOne + minus ? kYearOne : t - minus);
    }
    return builder.Finish();
  };
  fields.push_back(arrow::field("__ts", kMicrosUtc));
  ARROW_ASSIGN_OR_RAISE(auto entity_ts, times(0));
  columns.push_back(entity_ts);
  fields.push_back(arrow::field("__next", kMicrosUtc));
  ARROW_ASSIGN_OR_RAISE(auto next, times(-1));
  columns.push_back(next);
  for (size_t j = 0; j < joins.size(); ++j) {
    const int64_t ttl = joins[j].view->ttl.micros;
    if (ttl <= 0) continue;
    fields.push_back(arrow::field(fmt::format("__from{}", j), kMicrosUtc));
    ARROW_ASSIGN_OR_RAISE(auto from, times(ttl));
    columns.push_back(from);
  }
  ARROW_ASSIGN_OR_RAISE(Staging staging, Staging::Make(config));
  fs::create_directories(staging.path() / "entities");
  ARROW_RETURN_NOT_OK(
      offline::WriteTableFile(*arrow::Table::Make(arrow::schema(fields), columns, n),
                              staging.path() / "entities" / "rows.parquet"));
  ARROW_ASSIGN_OR_RAISE(BatchJob job, CompileRetrievalJob(config, definitions, joins, key_names,
                                                          key_types, staging.path()));
  std::string views;
  for (const auto& join : joins) views += (views.empty() ? "'" : ", '") + join.view->name + "'";
  ARROW_RETURN_NOT_OK(
      Run(config, job,
          "training data of feature view" + std::string(joins.size() > 1 ? "s " : " ") + views));

  // Each join's rows, placed at their entity rows, typed as the features.
  offline::JoinedColumns joined;
  for (size_t j = 0; j < joins.size(); ++j) {
    const FeatureView& view = *joins[j].view;
    std::vector<std::shared_ptr<arrow::DataType>> types;
    for (const std::string& feature : joins[j].features) {
      types.push_back(ToArrowType(view.FindFeature(feature)->dtype));
    }
    if (joins[j].event_time) types.push_back(kMicrosUtc);
    ARROW_ASSIGN_OR_RAISE(auto answer, ReadOutput(staging.path() / fmt::format("join-{}", j)));
    std::vector<std::shared_ptr<arrow::Array>> placed;
    if (answer == nullptr) {
      for (const auto& type : types) {
        ARROW_ASSIGN_OR_RAISE(auto nulls, arrow::MakeArrayOfNull(type, n));
        placed.push_back(nulls);
      }
      joined.push_back(std::move(placed));
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(auto rows, Flat(answer->GetColumnByName("__row")));
    const auto& row = static_cast<const arrow::Int64Array&>(*rows);
    std::vector<int64_t> position(n, -1);
    for (int64_t i = 0; i < row.length(); ++i) {
      if (row.IsNull(i) || row.Value(i) < 0 || row.Value(i) >= n || position[row.Value(i)] >= 0) {
        return Status::IOError("training data on Flink: the job's answer for feature view '",
                               view.name, "' does not have one row per entity row");
      }
      position[row.Value(i)] = i;
    }
    if (stats != nullptr) stats->rows_matched += row.length();
    arrow::Int64Builder take;
    ARROW_RETURN_NOT_OK(take.Reserve(n));
    for (int64_t p : position) p < 0 ? take.UnsafeAppendNull() : take.UnsafeAppend(p);
    ARROW_ASSIGN_OR_RAISE(auto indices, take.Finish());
    for (size_t c = 0; c < types.size(); ++c) {
      ARROW_ASSIGN_OR_RAISE(auto column, Flat(answer->column(static_cast<int>(c) + 1)));
      ARROW_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(*column, *indices));
      ARROW_ASSIGN_OR_RAISE(auto typed, As(taken, types[c]));
      placed.push_back(typed);
    }
    joined.push_back(std::move(placed));
  }
  for (size_t s = 0;; ++s) {
    const fs::path ties = staging.path() / fmt::format("ties-{}", s);
    std::error_code error;
    if (!fs::exists(ties, error)) break;
    ARROW_ASSIGN_OR_RAISE(int64_t count, ReadCount(ties));
    if (stats != nullptr) stats->ambiguous_ties += count;
  }
  return joined;
}

Result<ingest::LatestRows> LatestRowsOnFlink(const registry::RepoConfig& config,
                                             const registry::Definitions& definitions,
                                             const FeatureView& view, Timestamp start,
                                             Timestamp end) {
  ARROW_ASSIGN_OR_RAISE(Staging staging, Staging::Make(config));
  ARROW_ASSIGN_OR_RAISE(
      BatchJob job, CompileMaterializeJob(config, definitions, view, start, end, staging.path()));
  ARROW_RETURN_NOT_OK(Run(config, job, "materializing feature view '" + view.name + "'"));
  ingest::LatestRows out;
  ARROW_ASSIGN_OR_RAISE(out.rows_read, ReadCount(staging.path() / "counts", 0));
  ARROW_ASSIGN_OR_RAISE(out.rows_in_range, ReadCount(staging.path() / "counts", 1));
  ARROW_ASSIGN_OR_RAISE(out.ambiguous_ties, ReadCount(staging.path() / "ties"));
  ARROW_ASSIGN_OR_RAISE(auto answer, ReadOutput(staging.path() / "latest"));
  const size_t keys = view.entities.size();
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (int c = 0; answer != nullptr && c < answer->num_columns(); ++c) {
    ARROW_ASSIGN_OR_RAISE(auto column, Flat(answer->column(c)));
    const auto k = static_cast<size_t>(c);
    std::string name = answer->schema()->field(c)->name();
    if (k == keys || k == keys + 1) {  // __ts, __created: epoch microseconds
      ARROW_ASSIGN_OR_RAISE(auto micros, ToEpochMicros(arrow::ChunkedArray(column), name));
      if (k == keys + 1) {
        arrow::Int64Builder created;
        ARROW_RETURN_NOT_OK(created.Reserve(micros->length()));
        const bool none = definitions.BatchSourceOf(view)->created_timestamp_column.empty();
        for (int64_t i = 0; i < micros->length(); ++i) {
          created.UnsafeAppend(none ? INT64_MIN : micros->IsValid(i) ? micros->Value(i) : 0);
        }
        ARROW_ASSIGN_OR_RAISE(column, created.Finish());
      } else {
        column = micros;
      }
    } else if (k > keys + 1) {
      ARROW_ASSIGN_OR_RAISE(column, As(column, ToArrowType(view.features[k - keys - 2].dtype)));
    }
    fields.push_back(arrow::field(name, column->type()));
    columns.push_back(column);
  }
  if (answer != nullptr) out.table = arrow::Table::Make(arrow::schema(fields), columns);
  return out;
}

Result<std::shared_ptr<arrow::Table>> QueryOnFlink(const registry::RepoConfig& config,
                                                   const registry::Definitions& definitions,
                                                   const std::string& query) {
  if (config.batch_engine.rest_address.empty() || config.batch_engine.sql_gateway.empty()) {
    return Status::Invalid(
        "an entity query is Flink SQL, run on batch_engine's cluster, and feature_store.yaml "
        "names none (batch_engine or stream_engine: rest_address and sql_gateway); pass the "
        "entity rows as a file or a DataFrame instead");
  }
  ARROW_ASSIGN_OR_RAISE(Staging staging, Staging::Make(config));
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
                           Text(Uri(staging.path() / "entities")) + ", 'format' = 'parquet') AS " +
                           query);
  ARROW_RETURN_NOT_OK(Run(config, job, "the entity query"));
  ARROW_ASSIGN_OR_RAISE(auto rows, ReadOutput(staging.path() / "entities"));
  if (rows == nullptr) return Status::Invalid("the entity query selected no rows");
  return rows;
}

Result<ingest::FlinkTiles> BackfillTilesOnFlink(const registry::RepoConfig& config,
                                                const registry::Definitions& definitions,
                                                const FeatureView& view, Timestamp first,
                                                Timestamp end) {
  ARROW_ASSIGN_OR_RAISE(Staging staging, Staging::Make(config));
  ARROW_ASSIGN_OR_RAISE(BatchJob job,
                        CompileBackfillJob(config, definitions, view, first, end, staging.path()));
  ARROW_RETURN_NOT_OK(Run(config, job, "backfilling stream feature view '" + view.name + "'"));
  ARROW_ASSIGN_OR_RAISE(int64_t incomplete, ReadCount(staging.path() / "incomplete"));
  if (incomplete > 0) {
    const DataSource* events = definitions.EventSourceOf(view);
    return Status::Invalid("source '", events->name, "' (", events->path, "): ", incomplete,
                           " events have a null join key or event time");
  }
  ingest::FlinkTiles out;
  ARROW_ASSIGN_OR_RAISE(out.tiles, ReadOutput(staging.path() / "tiles"));
  if (out.tiles != nullptr) {  // the pane's greatest event time, as the tile message types it
    const int at = out.tiles->schema()->GetFieldIndex(ingest::kTileTimeColumn);
    ARROW_ASSIGN_OR_RAISE(auto times, Flat(out.tiles->column(at)));
    ARROW_ASSIGN_OR_RAISE(times, As(times, arrow::int64()));
    ARROW_ASSIGN_OR_RAISE(auto stamped, times->View(kMicrosUtc));
    ARROW_ASSIGN_OR_RAISE(
        out.tiles, out.tiles->SetColumn(at, arrow::field(ingest::kTileTimeColumn, kMicrosUtc),
                                        std::make_shared<arrow::ChunkedArray>(stamped)));
  }
  // Only `last` tells tied events apart.
  const bool last = std::any_of(view.aggregations.begin(), view.aggregations.end(),
                                [](const auto& a) { return a.function == "last"; });
  if (last) {
    ARROW_ASSIGN_OR_RAISE(out.ambiguous_ties, ReadCount(staging.path() / "ties"));
  }
  return out;
}

}  // namespace headwater::flink
