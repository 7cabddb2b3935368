#pragma once
// Statistics of a feature view's offline data, per feature: count, nulls, and for numbers
// (integers, floats, booleans as 0/1, timestamps as epoch microseconds) min, max, mean and an
// equal-width histogram over [min, max]. Two passes over the view's row groups, each on every
// core: the first finds count, nulls, min, max and the sum; the second counts the bins.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::offline {

struct FeatureStatistics {
  std::string name;
  FeatureType type;
  int64_t count = 0;  // rows with a value
  int64_t nulls = 0;
  /// Numbers only, and only when some row has a value (NaN values are skipped).
  std::optional<double> min, max, mean;
  /// Numbers only: `bins` counts over [min, max], the last bin closed.
  std::vector<int64_t> histogram;
};

struct ViewStatistics {
  std::string view;
  int64_t rows = 0;
  int64_t row_groups = 0;
  std::vector<FeatureStatistics> features;
};

struct StatisticsOptions {
  int bins = 20;
  /// Worker threads; 0 means one per core.
  int threads = 0;
  /// Called from worker threads, one call at a time, with the fraction done, in [0, 1]; may be
  /// empty.
  std::function<void(double)> progress;
};

/// The statistics of `view`'s features over its batch source (for a stream view, its window
/// rows). An empty dataset gives zero rows; a missing column is a KeyError naming it.
Result<ViewStatistics> ComputeFeatureStatistics(const registry::RepoConfig& config,
                                                const registry::Definitions& definitions,
                                                const registry::FeatureView& view,
                                                const StatisticsOptions& options = {});

}  // namespace headwater::offline
