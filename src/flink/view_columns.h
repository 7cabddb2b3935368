#pragma once
// What the Flink compilers need of a stream view's event source: shared by the stream jobs
// (flink_sql.cc) and the windowed backfill on Flink (flink_batch.cc).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::flink {

/// One stream view's columns, as the compilers need them.
struct ViewColumns {
  std::vector<std::pair<std::string, std::string>> keys;  // event column, Flink type
  std::vector<std::string> values;                        // distinct aggregated columns
  std::string spec;  // headwater_event's columns: every column of the events, checked
  int64_t grid_ms = 0;
};

/// Reads them from the view's event source, refusing (with the view, the feature and why) what
/// Flink cannot compute as the embedded engine does.
Result<ViewColumns> ReadColumns(const registry::RepoConfig& config,
                                const registry::Definitions& definitions,
                                const registry::FeatureView& view);

}  // namespace headwater::flink
