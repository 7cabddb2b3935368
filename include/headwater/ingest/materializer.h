#pragma once
// Materialization: the latest row per entity key of a feature view's source, within a time
// range, written to the online store.
//
// Two passes over the source's row groups, in parallel and in memory bounded by the number of
// distinct keys: (1) keys and timestamps only, reduced to the latest row per key among rows with
// event time in [start, end); (2) the feature columns of just those rows, encoded and written in
// batches. Writes keep the newest value per key (online/online_store.h), so a run interrupted at
// any point and run again leaves exactly what one uninterrupted run leaves.

#include <arrow/type_fwd.h>

#include <functional>
#include <optional>
#include <string>

#include "headwater/core/clock.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::ingest {

/// What MaterializeView reports as it goes.
struct MaterializeProgress {
  /// "scanning" (pass 1) or "writing" (pass 2).
  const char* phase;
  int64_t done;
  int64_t total;
};

/// A plain view's latest rows computed elsewhere (the Flink batch engine, flink/flink_batch.h).
struct LatestRows {
  /// One row per key with event time in range: the view's join keys (as the source's columns),
  /// the event and created times (Int64 epoch microseconds; created INT64_MIN when the source
  /// has none, 0 where null), then the view's features typed as the features. Null: no rows.
  std::shared_ptr<arrow::Table> table;
  int64_t rows_read = 0;
  int64_t rows_in_range = 0;
  int64_t ambiguous_ties = 0;  // see MaterializeStats
};
using LatestRowsElsewhere = std::function<Result<LatestRows>(const registry::FeatureView& view,
                                                             Timestamp start, Timestamp end)>;

/// A stream view's tiles computed elsewhere (the Flink batch engine): ingest/window_job.h's tile
/// message columns, one row per key and pane. Null: no events.
struct FlinkTiles {
  std::shared_ptr<arrow::Table> tiles;
  int64_t ambiguous_ties = 0;  // groups of events tied on key, time and file (see `last`)
};
/// The tiles of a stream view's events with time in [first, end).
using TilesElsewhere = std::function<Result<FlinkTiles>(const registry::FeatureView& view,
                                                        Timestamp first, Timestamp end)>;

struct MaterializeOptions {
  /// Rows with start <= event_timestamp < end are considered.
  Timestamp start;
  Timestamp end;
  /// Worker threads; 0 means one per core.
  int threads = 0;
  /// Called from worker threads as row groups finish; may be empty.
  std::function<void(const MaterializeProgress&)> progress;
  /// When set, plain views' latest rows are computed by it instead of read here.
  LatestRowsElsewhere latest_elsewhere;
  /// When set, stream views' tiles are computed by it instead of folded here.
  TilesElsewhere tiles_elsewhere;
};

struct MaterializeStats {
  int64_t rows_read = 0;           // rows scanned in row groups the time range can reach
  int64_t rows_in_range = 0;       // of those, rows with a full key and event time in range
  int64_t keys = 0;                // distinct keys with a row in range
  int64_t keys_written = 0;        // keys whose online value was created or replaced
  int64_t keys_skipped_older = 0;  // keys whose online value was already at least as new
  /// Flink: groups of rows in range with one key, event time and created time in one file, whose
  /// order in the file Flink cannot see; the row written may differ from the embedded engine's.
  int64_t ambiguous_ties = 0;
};

/// Materializes one view. The caller syncs the store (OnlineStore::Sync) before recording the
/// interval as done.
Result<MaterializeStats> MaterializeView(const registry::RepoConfig& config,
                                         const registry::Definitions& definitions,
                                         const registry::FeatureView& view,
                                         online::OnlineStore* store,
                                         const MaterializeOptions& options);

/// One view's outcome in MaterializeViews.
struct ViewMaterialization {
  std::string view;
  std::optional<Timestamp> start;  // nullopt: the source has no rows
  Timestamp end;
  bool up_to_date = false;  // nothing to do: start >= end
  /// The end asked for, when it was later than now and `end` is now instead.
  std::optional<Timestamp> requested_end;
  MaterializeStats stats;
  double seconds = 0;
};

/// One line (without newline) saying what a view's materialization did, as the CLI prints it.
std::string DescribeMaterialization(const ViewMaterialization& done);

/// A materialization ends at most at `now`, for both kinds: rows stamped before a later end
/// could still arrive, and the recorded interval would make every later incremental run skip
/// them. A later end — `datetime.now()` computed a moment ago elsewhere, or a clock ahead — is
/// clamped to now, and the outcome says so (ViewMaterialization::requested_end).
Timestamp ClampMaterializeEnd(Timestamp end, Timestamp now);

/// Where a view's run starts: a fixed time, or (incremental) where its last run ended.
using StartOf = std::function<Result<std::optional<Timestamp>>(const registry::FeatureView&)>;
/// The incremental rule: the end of the view's latest recorded interval, or its source's oldest
/// row when it has none.
StartOf IncrementalStart(const registry::RepoConfig& config, const registry::Registry& registry);
/// The end of a view's latest recorded interval — where its next incremental run starts — or
/// nullopt when it was never materialized.
std::optional<Timestamp> IncrementalMarker(const registry::Registry& registry,
                                           const std::string& view);

/// How MaterializeViews runs: where each view starts, where all end, with how many threads,
/// and whom it tells as it goes.
struct MaterializeViewsOptions {
  StartOf start_of;
  Timestamp end;
  /// Stamps each recorded interval with when it was written; must be set.
  const Clock* clock = nullptr;
  /// Worker threads; 0 means one per core.
  int threads = 0;
  /// As MaterializeOptions::progress, with the view's name; may be empty.
  std::function<void(const std::string&, const MaterializeProgress&)> progress;
  /// Called with each view's outcome; may be empty.
  std::function<void(const ViewMaterialization&)> on_view;
  /// The end asked for, when `end` is now instead (ClampMaterializeEnd).
  std::optional<Timestamp> requested_end;
  /// As MaterializeOptions::latest_elsewhere and tiles_elsewhere.
  LatestRowsElsewhere latest_elsewhere;
  TilesElsewhere tiles_elsewhere;
};

/// Materializes each view over [start_of(view), end), syncs the store after each, and only then
/// records the interval in the registry (under its lock) — so a marker never claims rows that
/// are not durably written.
Result<std::vector<ViewMaterialization>> MaterializeViews(
    const registry::RepoConfig& config, const registry::Registry& registry,
    const std::vector<const registry::FeatureView*>& views, online::OnlineStore* store,
    const MaterializeViewsOptions& options);

/// The online views named (each must exist and be online), or every online view when empty.
Result<std::vector<const registry::FeatureView*>> SelectOnlineViews(
    const registry::Definitions& definitions, const std::vector<std::string>& names);

/// The oldest event time in a view's source (where incremental materialization first starts),
/// or nullopt for an empty source.
Result<std::optional<Timestamp>> OldestEventTime(const registry::RepoConfig& config,
                                                 const registry::Definitions& definitions,
                                                 const registry::FeatureView& view);

}  // namespace headwater::ingest
