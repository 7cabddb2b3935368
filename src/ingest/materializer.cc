#include "headwater/ingest/materializer.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "headwater/core/object_store.h"
#include "headwater/engine/feature_columns.h"
#include "headwater/engine/latest_row_by_key.h"
#include "headwater/engine/parallel_for.h"
#include "headwater/ingest/window_job.h"
#include "headwater/offline/parquet_dataset.h"
#include "headwater/offline/table_file.h"
#include "headwater/online/feature_row_codec.h"
#include "headwater/registry/registry_lock.h"
#include "headwater/registry/registry_store.h"
#include "headwater/registry/source_schema.h"

namespace headwater::ingest {
namespace {

using registry::DataSource;
using registry::FeatureView;

struct ViewSource {
  const DataSource* source = nullptr;
  offline::ParquetDataset dataset;
  std::vector<std::string> key_columns;  // source column names, in the view's entity order
};

Result<ViewSource> OpenViewSource(const registry::RepoConfig& config,
                                  const registry::Definitions& definitions,
                                  const FeatureView& view) {
  ViewSource out;
  out.source = definitions.EventSourceOf(view);  // a stream view's input events
  if (out.source == nullptr) {
    return Status::Invalid("feature view '", view.name, "' names unknown source '", view.source,
                           "'; run `headwater apply`");
  }
  ARROW_ASSIGN_OR_RAISE(auto files, registry::ListSourceFiles(config.Resolve(out.source->path)));
  ARROW_ASSIGN_OR_RAISE(out.dataset, offline::ParquetDataset::Open(std::move(files)));
  for (const std::string& entity_name : view.entities) {
    const registry::Entity* entity = definitions.FindEntity(entity_name);
    if (entity == nullptr) {
      return Status::Invalid("feature view '", view.name, "' names unknown entity '", entity_name,
                             "'; run `headwater apply`");
    }
    out.key_columns.push_back(out.source->ColumnFor(entity->join_key));
  }
  return out;
}

Result<std::vector<std::shared_ptr<arrow::Array>>> Columns(const arrow::Table& table, size_t first,
                                                           size_t count) {
  std::vector<std::shared_ptr<arrow::Array>> out;
  for (size_t c = first; c < first + count; ++c) {
    auto column = table.column(static_cast<int>(c));
    if (column->num_chunks() == 1) {
      out.push_back(column->chunk(0));
    } else {
      ARROW_ASSIGN_OR_RAISE(auto flat, column->num_chunks() == 0
                                           ? arrow::MakeEmptyArray(column->type())
                                           : arrow::Concatenate(column->chunks()));
      out.push_back(flat);
    }
  }
  return out;
}

// A stream view: the same window operator as the live pipeline, over the event history. Rows
// with window ends in [start, end] are written online and to `backfill-<start>-<end>.parquet`
// in the view's offline dataset.
Result<MaterializeStats> BackfillWindows(const registry::RepoConfig& config,
                                         const registry::Definitions& definitions,
                                         const FeatureView& view, const ViewSource& input,
                                         online::OnlineStore* store,
                                         const MaterializeOptions& options) {
  ARROW_ASSIGN_OR_RAISE(WindowJob job, WindowJob::Make(definitions, view));
  job.op().set_event_watermark(Duration{0}, Duration{0}, /*on=*/false);  // history: none late
  job.op().set_emit_from(options.start.micros);
  int64_t reach = 0;
  for (const registry::AggregationDef& aggregation : view.aggregations) {
    reach = std::max(reach, aggregation.time_window.micros + aggregation.slide_interval.micros);
  }
  const int64_t first_needed = options.start.micros - reach, end = options.end.micros;
  const std::string& time_column = input.source->timestamp_field;
  MaterializeStats stats;
  int64_t rows_to_scan = 0;
  std::vector<offline::RowGroup> row_groups;
  for (const offline::RowGroup& group : input.dataset.row_groups()) {
    auto range = input.dataset.TimeRange(group, time_column);
    if (range && (range->first >= end || range->second < first_needed)) continue;
    row_groups.push_back(group);
    rows_to_scan += group.num_rows;
  }
  std::vector<int64_t> late;
  if (options.tiles_elsewhere) {  // folded elsewhere; merged here
    ARROW_ASSIGN_OR_RAISE(FlinkTiles computed,
                          options.tiles_elsewhere(view, Timestamp{first_needed}, options.end));
    stats.ambiguous_ties = computed.ambiguous_ties;
    row_groups.clear();
    if (computed.tiles != nullptr) {  // in time order, as a stream would bring them
      ARROW_ASSIGN_OR_RAISE(auto batch, computed.tiles->CombineChunksToBatch());
      ARROW_ASSIGN_OR_RAISE(auto order,
                            arrow::compute::SortIndices(*batch->GetColumnByName(kTileTimeColumn)));
      ARROW_ASSIGN_OR_RAISE(auto sorted, arrow::compute::Take(batch, order));
      ARROW_RETURN_NOT_OK(job.ConsumeTiles(*sorted.record_batch(), &late));
      stats.rows_read = batch->num_rows();
    }
  }
  // In file order, one row group at a time: the order a live stream would have seen.
  for (const offline::RowGroup& group : row_groups) {
    ARROW_ASSIGN_OR_RAISE(auto table, input.dataset.Read(group, job.input_columns()));
    ARROW_ASSIGN_OR_RAISE(auto batch, table->CombineChunksToBatch());
    Status consumed = job.Consume(*batch, &late);
    if (!consumed.ok()) {
      return Status::Invalid("source '", input.source->name, "' (", input.source->path,
                             "): ", consumed.message());
    }
    stats.rows_read += group.num_rows;
    if (options.progress) options.progress({"scanning", stats.rows_read, rows_to_scan});
  }
  stats.rows_in_range = stats.rows_read;
  stats.keys = job.op().num_keys();
  ARROW_ASSIGN_OR_RAISE(auto rows, job.Finalize(end));
  if (view.online && rows.rows() > 0) {
    ARROW_ASSIGN_OR_RAISE(auto result, store->Write(view.name, rows.keys, rows.values));
    stats.keys_written = result.written;
    stats.keys_skipped_older = result.skipped_older;
  }
  const std::filesystem::path directory = config.Resolve(view.windows.path);
  ARROW_RETURN_NOT_OK(storage::MakeDirectories(directory));
  if (view.offline && rows.rows() > 0) {
    ARROW_RETURN_NOT_OK(offline::WriteTableFile(
        *rows.table, directory / fmt::format("backfill-{:020d}-{:020d}.parquet",
                                             options.start.micros, options.end.micros)));
  }
  if (options.progress) options.progress({"writing", rows.rows(), rows.rows()});
  return stats;
}

// Pass 1 of a plain view: the latest row per key among rows in [start, end) of `row_groups`,
// counted into `stats`.
Result<engine::LatestRowByKey> LatestRowsInRange(const ViewSource& input,
                                                 const std::vector<offline::RowGroup>& row_groups,
                                                 int64_t rows_to_scan, int threads,
                                                 const MaterializeOptions& options,
                                                 MaterializeStats* stats) {
  const DataSource& source = *input.source;
  const int64_t start = options.start.micros, end = options.end.micros;
  std::vector<std::string> pass1_columns = input.key_columns;
  pass1_columns.push_back(source.timestamp_field);
  if (!source.created_timestamp_column.empty()) {
    pass1_columns.push_back(source.created_timestamp_column);
  }
  std::vector<engine::LatestRowByKey> partials(threads);
  std::atomic<int64_t> rows_read{0}, rows_in_range{0};
  ARROW_RETURN_NOT_OK(engine::ParallelFor(
      static_cast<int64_t>(row_groups.size()), threads, [&](int64_t task, int worker) -> Status {
        const offline::RowGroup& group = row_groups[task];
        ARROW_ASSIGN_OR_RAISE(auto table, input.dataset.Read(group, pass1_columns));
        ARROW_ASSIGN_OR_RAISE(auto keys, Columns(*table, 0, input.key_columns.size()));
        ByteRows encoded;
        std::vector<uint8_t> selected;
        ARROW_RETURN_NOT_OK(EncodeEntityKeys(keys, group.num_rows, &encoded, &selected));
        ARROW_ASSIGN_OR_RAISE(
            auto event_times,
            ToEpochMicros(*table->GetColumnByName(source.timestamp_field),
                          "column '" + source.timestamp_field + "' of " + source.path));
        std::shared_ptr<arrow::Int64Array> created_times;
        if (!source.created_timestamp_column.empty()) {
          ARROW_ASSIGN_OR_RAISE(
              created_times,
              ToEpochMicros(*table->GetColumnByName(source.created_timestamp_column),
                            "column '" + source.created_timestamp_column + "' of " + source.path));
        }
        const int64_t* times = event_times->raw_values();
        int64_t in_range = 0;
        for (int64_t i = 0; i < group.num_rows; ++i) {
          selected[i] &= event_times->IsValid(i) && times[i] >= start && times[i] < end;
          in_range += selected[i];
        }
        partials[worker].Consume(encoded, selected.data(), times,
                                 created_times ? created_times->raw_values() : nullptr,
                                 group.first_row_number);
        rows_in_range += in_range;
        int64_t done = rows_read += group.num_rows;
        if (options.progress) options.progress({"scanning", done, rows_to_scan});
        return Status::OK();
      }));
  engine::LatestRowByKey& latest = partials[0];
  for (int worker = 1; worker < threads; ++worker) latest.Merge(partials[worker]);
  stats->rows_read = rows_read;
  stats->rows_in_range = rows_in_range;
  stats->keys = static_cast<int64_t>(latest.size());
  return std::move(latest);
}

// Pass 2 of a plain view: the winners' features, encoded and written row group by row group.
Status WriteLatestRows(const FeatureView& view, const ViewSource& input,
                       const engine::LatestRowByKey& latest, int threads,
                       online::OnlineStore* store, const MaterializeOptions& options,
                       MaterializeStats* stats) {
  const DataSource& source = *input.source;
  std::vector<int64_t> order(latest.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return latest.candidate(a).row_number < latest.candidate(b).row_number;
  });
  std::vector<int64_t> row_numbers(order.size());
  for (size_t k = 0; k < order.size(); ++k) row_numbers[k] = latest.candidate(order[k]).row_number;
  std::vector<std::string> feature_columns;
  std::vector<FeatureType> schema;
  for (const registry::Field& feature : view.features) {
    feature_columns.push_back(source.ColumnFor(feature.name));
    schema.push_back(feature.dtype);
  }
  std::mutex stats_mutex;
  std::atomic<int64_t> written_rows{0};
  ARROW_RETURN_NOT_OK(input.dataset.TakeRows(
      feature_columns, row_numbers, threads,
      [&](size_t begin, std::shared_ptr<arrow::Table> rows) -> Status {
        const int64_t n = rows->num_rows();
        ARROW_ASSIGN_OR_RAISE(auto columns, Columns(*rows, 0, schema.size()));
        for (size_t f = 0; f < columns.size(); ++f) {
          // Returns the column itself when it already has the declared type (Json aside).
          auto cast = engine::ReadAsFeature(columns[f], schema[f]);
          if (!cast.ok()) {
            return Status::Invalid("source '", source.name, "': column '", feature_columns[f],
                                   "' does not fit feature type ", FormatFeatureType(schema[f]),
                                   ": ", cast.status().message(), "; run `headwater apply`");
          }
          columns[f] = *cast;
        }
        std::vector<int64_t> event_times(n), created_times(n);
        ByteRows keys;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t index = order[begin + i];
          event_times[i] = latest.candidate(index).event_time;
          created_times[i] = latest.candidate(index).created_time;
          keys.data.append(latest.key(index));
          keys.FinishRow();
        }
        ByteRows values;
        ARROW_RETURN_NOT_OK(online::EncodeFeatureRows(columns, schema, event_times.data(),
                                                      created_times.data(), n, &values));
        ARROW_ASSIGN_OR_RAISE(auto result, store->Write(view.name, keys, values));
        {
          std::lock_guard lock(stats_mutex);
          stats->keys_written += result.written;
          stats->keys_skipped_older += result.skipped_older;
        }
        int64_t done = written_rows += n;
        if (options.progress) options.progress({"writing", done, stats->keys});
        return Status::OK();
      }));
  return Status::OK();
}

// A plain view's latest rows computed elsewhere, encoded and written.
Result<MaterializeStats> WriteComputedRows(const FeatureView& view, online::OnlineStore* store,
                                           const MaterializeOptions& options) {
  ARROW_ASSIGN_OR_RAISE(LatestRows latest,
                        options.latest_elsewhere(view, options.start, options.end));
  MaterializeStats stats;
  stats.rows_read = latest.rows_read;
  stats.rows_in_range = latest.rows_in_range;
  stats.ambiguous_ties = latest.ambiguous_ties;
  if (latest.table == nullptr || latest.table->num_rows() == 0) return stats;
  const size_t num_keys = view.entities.size();
  std::vector<FeatureType> schema;
  for (const registry::Field& feature : view.features) schema.push_back(feature.dtype);
  stats.keys = latest.table->num_rows();
  constexpr int64_t kBatch = 65'536;
  for (int64_t first = 0; first < latest.table->num_rows(); first += kBatch) {
    const auto slice = latest.table->Slice(first, kBatch);
    const int64_t n = slice->num_rows();
    ARROW_ASSIGN_OR_RAISE(auto keys, Columns(*slice, 0, num_keys));
    ARROW_ASSIGN_OR_RAISE(auto times, Columns(*slice, num_keys, 2));
    ARROW_ASSIGN_OR_RAISE(auto features, Columns(*slice, num_keys + 2, schema.size()));
    ByteRows encoded_keys, values;
    std::vector<uint8_t> selected;
    ARROW_RETURN_NOT_OK(EncodeEntityKeys(keys, n, &encoded_keys, &selected));
    ARROW_RETURN_NOT_OK(online::EncodeFeatureRows(
        features, schema, static_cast<const arrow::Int64Array&>(*times[0]).raw_values(),
        static_cast<const arrow::Int64Array&>(*times[1]).raw_values(), n, &values));
    ARROW_ASSIGN_OR_RAISE(auto result, store->Write(view.name, encoded_keys, values));
    stats.keys_written += result.written;
    stats.keys_skipped_older += result.skipped_older;
    if (options.progress) options.progress({"writing", first + n, stats.keys});
  }
  return stats;
}

}  // namespace

Result<MaterializeStats> MaterializeView(const registry::RepoConfig& config,
                                         const registry::Definitions& definitions,
                                         const FeatureView& view, online::OnlineStore* store,
                                         const MaterializeOptions& options) {
  ARROW_RETURN_NOT_OK(arrow::compute::Initialize());
  if (options.latest_elsewhere && !view.is_stream()) {
    return WriteComputedRows(view, store, options);
  }
  ARROW_ASSIGN_OR_RAISE(ViewSource input, OpenViewSource(config, definitions, view));
  if (view.is_stream()) {
    return BackfillWindows(config, definitions, view, input, store, options);
  }
  const int threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  // Row groups wholly outside [start, end) are not read.
  std::vector<offline::RowGroup> row_groups;
  int64_t rows_to_scan = 0;
  for (const offline::RowGroup& group : input.dataset.row_groups()) {
    auto range = input.dataset.TimeRange(group, input.source->timestamp_field);
    if (range && (range->first >= options.end.micros || range->second < options.start.micros)) {
      continue;
    }
    row_groups.push_back(group);
    rows_to_scan += group.num_rows;
  }
  MaterializeStats stats;
  ARROW_ASSIGN_OR_RAISE(
      auto latest, LatestRowsInRange(input, row_groups, rows_to_scan, threads, options, &stats));
  ARROW_RETURN_NOT_OK(WriteLatestRows(view, input, latest, threads, store, options, &stats));
  return stats;
}

Result<std::optional<Timestamp>> OldestEventTime(const registry::RepoConfig& config,
                                                 const registry::Definitions& definitions,
                                                 const FeatureView& view) {
  ARROW_ASSIGN_OR_RAISE(ViewSource input, OpenViewSource(config, definitions, view));
  const std::string& column = input.source->timestamp_field;
  std::optional<Timestamp> oldest;
  for (const offline::RowGroup& group : input.dataset.row_groups()) {
    if (group.num_rows == 0) continue;
    auto range = input.dataset.TimeRange(group, column);
    int64_t group_min = INT64_MAX;
    if (range) {
      group_min = range->first;
    } else {  // no statistics: read the column
      ARROW_ASSIGN_OR_RAISE(auto table, input.dataset.Read(group, {column}));
      ARROW_ASSIGN_OR_RAISE(auto times,
                            ToEpochMicros(*table->column(0), "column '" + column + "'"));
      for (int64_t i = 0; i < times->length(); ++i) {
        if (times->IsValid(i)) group_min = std::min(group_min, times->Value(i));
      }
    }
    if (group_min != INT64_MAX && (!oldest || group_min < oldest->micros))
      oldest = Timestamp{group_min};
  }
  return oldest;
}

Timestamp ClampMaterializeEnd(Timestamp end, Timestamp now) {
  return end.micros <= now.micros ? end : now;
}

StartOf IncrementalStart(const registry::RepoConfig& config, const registry::Registry& registry) {
  return [&config, &registry](const FeatureView& view) -> Result<std::optional<Timestamp>> {
    if (auto marker = IncrementalMarker(registry, view.name)) return marker;
    return OldestEventTime(config, registry.definitions, view);
  };
}

std::optional<Timestamp> IncrementalMarker(const registry::Registry& registry,
                                           const std::string& view) {
  auto done = registry.materializations.find(view);
  if (done == registry.materializations.end() || done->second.empty()) return std::nullopt;
  Timestamp latest = done->second.front().end;
  for (const auto& interval : done->second) latest = std::max(latest, interval.end);
  return latest;
}

Result<std::vector<ViewMaterialization>> MaterializeViews(
    const registry::RepoConfig& config, const registry::Registry& registry,
    const std::vector<const FeatureView*>& views, online::OnlineStore* store,
    const MaterializeViewsOptions& options) {
  std::vector<ViewMaterialization> outcomes;
  for (const FeatureView* view : views) {
    ViewMaterialization outcome;
    outcome.view = view->name;
    outcome.end = options.end;
    outcome.requested_end = options.requested_end;
    ARROW_ASSIGN_OR_RAISE(outcome.start, options.start_of(*view));
    outcome.up_to_date = outcome.start && outcome.start->micros >= options.end.micros;
    if (outcome.start && !outcome.up_to_date) {
      auto started = std::chrono::steady_clock::now();
      MaterializeOptions view_options;
      view_options.start = *outcome.start;
      view_options.end = options.end;
      view_options.threads = options.threads;
      view_options.latest_elsewhere = options.latest_elsewhere;
      view_options.tiles_elsewhere = options.tiles_elsewhere;
      if (options.progress) {
        view_options.progress = [&](const MaterializeProgress& p) {
          options.progress(view->name, p);
        };
      }
      ARROW_ASSIGN_OR_RAISE(
          outcome.stats, MaterializeView(config, registry.definitions, *view, store, view_options));
      ARROW_RETURN_NOT_OK(store->Sync());
      ARROW_ASSIGN_OR_RAISE(auto lock, registry::RegistryLock::Acquire(config.registry_path));
      // On S3 the write is a compare-and-swap: another command's write in between is read
      // again and the interval added to it.
      Status marked;
      for (int attempt = 0; attempt < 20; ++attempt) {
        ARROW_ASSIGN_OR_RAISE(auto current, registry::ReadRegistry(config));
        current.materializations[view->name].push_back(
            {*outcome.start, options.end, options.clock->Now(), outcome.stats.keys_written});
        marked = registry::WriteRegistry(config.registry_path, current);
        if (!marked.IsAlreadyExists()) break;
      }
      ARROW_RETURN_NOT_OK(marked);
      outcome.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }
    if (options.on_view) options.on_view(outcome);
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

Result<std::vector<const FeatureView*>> SelectOnlineViews(const registry::Definitions& definitions,
                                                          const std::vector<std::string>& names) {
  std::vector<const FeatureView*> views;
  if (names.empty()) {
    for (const auto& view : definitions.feature_views) {
      if (view.online) views.push_back(&view);
    }
    return views;
  }
  for (const std::string& name : names) {
    const FeatureView* view = definitions.FindFeatureView(name);
    if (view == nullptr) return Status::KeyError("unknown feature view '", name, "'");
    if (!view->online) return Status::Invalid("feature view '", name, "' has online: false");
    views.push_back(view);
  }
  return views;
}

std::string DescribeMaterialization(const ViewMaterialization& done) {
  const std::string clamped = done.requested_end
                                  ? "; the end asked for, " + FormatTimestamp(*done.requested_end) +
                                        ", is in the future: materialized up to now"
                                  : "";
  if (!done.start) return done.view + ": its source has no rows" + clamped;
  if (done.up_to_date) {
    return done.view + ": up to date (materialized up to " + FormatTimestamp(*done.start) + ")" +
           clamped;
  }
  const MaterializeStats& stats = done.stats;
  const std::string ties =
      stats.ambiguous_ties == 0
          ? ""
          : fmt::format(
                "; warning: {} groups of rows tie on key, event and created time within "
                "one file, and Flink may have written another row of a group than the "
                "embedded engine (the last)",
                stats.ambiguous_ties);
  return fmt::format(
      "{}: [{}, {}) {} rows read, {} in range, {} keys: {} written, {} skipped as older; "
      "{:.2f} s ({:.0f} rows/s){}",
      done.view, FormatTimestamp(*done.start), FormatTimestamp(done.end), stats.rows_read,
      stats.rows_in_range, stats.keys, stats.keys_written, stats.keys_skipped_older, done.seconds,
      done.seconds > 0 ? stats.rows_read / done.seconds : 0.0, ties + clamped);
}

}  // namespace headwater::ingest
