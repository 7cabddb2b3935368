// get-historical-features: an adapter over the feature-store core.

#include <arrow/table.h>
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "commands.h"
#include "headwater/offline/table_file.h"
#include "headwater/store/feature_store.h"

namespace headwater::cli {

Status RunGetHistoricalFeatures(const GlobalOptions& global, const HistoricalOptions& options) {
  auto started = std::chrono::steady_clock::now();
  // Check the output's format and directory before any work, so a typo fails fast.
  ARROW_RETURN_NOT_OK(offline::TableFormatOf(options.output).status());
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(global.repo));
  store::FeatureSelection features{options.features, options.feature_service};
  offline::HistoricalRetrievalOptions retrieval;
  retrieval.full_feature_names = options.full_feature_names;
  retrieval.threads = options.threads;
  retrieval.engine = options.engine;
  ARROW_ASSIGN_OR_RAISE(auto entity_rows,
                        options.entity_query.empty()
                            ? store->ReadEntityRows(options.entities, features, retrieval)
                            : store->QueryEntityRows(options.entity_query));
  offline::RetrievalStats stats;
  ARROW_ASSIGN_OR_RAISE(auto result,
                        store->GetHistoricalFeatures(entity_rows, features, retrieval, &stats));
  ARROW_RETURN_NOT_OK(offline::WriteTableFile(*result, options.output));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string how =
      stats.row_groups_total == 0 && stats.rows_matched > 0
          ? fmt::format("on Flink, {} feature-view matches", stats.rows_matched)
          : fmt::format(
                "{} feature rows scanned, {} of {} row groups skipped by time range, {} "
                "feature-view matches",
                stats.feature_rows_scanned, stats.row_groups_skipped, stats.row_groups_total,
                stats.rows_matched);
  std::cerr << fmt::format("Wrote {} rows x {} columns to {} in {:.2f} s ({})\n",
                           result->num_rows(), result->num_columns(), options.output.string(),
                           seconds, how);
  if (stats.ambiguous_ties > 0) {
    std::cerr << fmt::format(
        "warning: {} groups of source rows tie on key, event and created time within one file; "
        "Flink sees no order within a file, so where such a group is an entity row's answer, "
        "its values may differ from the embedded engine's (the row last in the file)\n",
        stats.ambiguous_ties);
  }
  return Status::OK();
}

}  // namespace headwater::cli
