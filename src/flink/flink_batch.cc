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

#include "headwater/flink/flink_rest.h"
#include "headwater/ingest/window_job.h"
#include "headwater/offline/table_file.h"

namespace headwater::flink {
namespace {

namespace fs = std::filesystem;
using registry::DataSource;
using registry::FeatureView;

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

Result<offline::JoinedColumns> JoinOnFlink(const registry::RepoConfig& config,
                                           const registry::Definitions& definitions,
                                           const std::vector<offline::ViewJoin>& joins,
                                           const arrow::Table& entity_rows,
                                           std::span<const int64_t> entity_times,
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
  const BatchJob job = CompileEntityQueryJob(config, definitions, query, staging.path());
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
