#pragma once
// Historical retrieval: point-in-time-correct training data from the offline store.

#include <arrow/type_fwd.h>

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::offline {

/// One feature view a retrieval joins: the features it reads (on-demand views' inputs included,
/// each once), and whether the event time of each matched row is needed too.
struct ViewJoin {
  const registry::FeatureView* view = nullptr;
  std::vector<std::string> features;
  bool event_time = false;
};

/// Per ViewJoin, its features' columns (then the event time, as timestamp[us, UTC]) with one
/// value per entity row in input order, null where no feature row matches; typed as the features.
using JoinedColumns = std::vector<std::vector<std::shared_ptr<arrow::Array>>>;

/// Computes every join of a retrieval elsewhere (the Flink batch engine), given the entity rows
/// (checked) and their times in epoch microseconds.
using JoinElsewhere = std::function<Result<JoinedColumns>(const std::vector<ViewJoin>& joins,
                                                          const arrow::Table& entity_rows,
                                                          std::span<const int64_t> entity_times)>;

/// Options of GetHistoricalFeatures.
struct HistoricalRetrievalOptions {
  /// Name feature columns "view__feature" instead of "feature". Default false.
  bool full_feature_names = false;
  /// Worker threads reading and joining row groups; 0 means one per core. Default 0.
  int threads = 0;
  /// The entity rows' timestamp column. Default "event_timestamp".
  std::string timestamp_column = "event_timestamp";
  /// Which batch engine joins: "" the configuration's (batch_engine), "embedded" or "flink".
  /// Read by store::FeatureStore, which sets join_elsewhere for Flink.
  std::string engine;
  /// When set, called once with every join instead of the embedded engine joining.
  JoinElsewhere join_elsewhere;
};

/// Counters from one retrieval, for logs and benchmarks.
struct RetrievalStats {
  int64_t feature_rows_scanned = 0;
  int64_t row_groups_total = 0;
  int64_t row_groups_skipped = 0;  // pruned by their time statistics
  int64_t rows_matched = 0;        // (entity row, view) pairs that found a feature row
  /// Flink: groups of source rows with one key, event time and created time in one file, whose
  /// order in the file Flink cannot see (docs/flink.md); the row it picks may differ from the
  /// embedded engine's (the last).
  int64_t ambiguous_ties = 0;
};

/// Joins the requested features onto the entity rows with Feast's point-in-time rule (see
/// engine/point_in_time_join.h). The entity table holds every join key the views need and the
/// timestamp column; all its columns come out unchanged and in order (the timestamp column
/// normalised to timestamp[us, UTC]), followed by one column per feature in request order.
/// N rows in give N rows out in input order. Source files are read column- and row-group-wise:
/// only needed columns, only row groups whose time range can matter, on `threads` threads.
Result<std::shared_ptr<arrow::Table>> GetHistoricalFeatures(
    const registry::RepoConfig& config, const registry::Definitions& definitions,
    const std::shared_ptr<arrow::Table>& entity_rows,
    const std::vector<registry::FeatureViewProjection>& features,
    const HistoricalRetrievalOptions& options, RetrievalStats* stats = nullptr);

/// The Arrow types to read an entity CSV file with: each needed join key as its entity's type
/// (Int64 for integer keys), and the timestamp column as text (parsed by Headwater as ISO 8601).
std::map<std::string, std::shared_ptr<arrow::DataType>> EntityColumnTypes(
    const registry::Definitions& definitions,
    const std::vector<registry::FeatureViewProjection>& features,
    const HistoricalRetrievalOptions& options);

}  // namespace headwater::offline
