#pragma once
// Feast's offline-store pulls over a file source, as its remote offline store asks for them
// (server/offline_server.h): every row in a time range, or each key's latest row in it. Both
// read the source's Parquet files (registry/source_schema.h) for only the named columns, keep
// rows with start <= event time <= end (both ends inclusive, as Feast's file store), and answer
// the join keys, the features and the time columns, in the source's column names.

#include <arrow/type_fwd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/core/time.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::offline {

struct PullRequest {
  std::vector<std::string> join_keys;
  std::vector<std::string> features;
  std::string timestamp_field;
  /// May be empty.
  std::string created_timestamp_column;
  /// Unbounded when absent.
  std::optional<Timestamp> start;
  std::optional<Timestamp> end;
};

/// Every row of `source` in the range (Feast's pull_all_from_table_or_query), in file order.
Result<std::shared_ptr<arrow::Table>> PullAll(const registry::RepoConfig& config,
                                              const registry::DataSource& source,
                                              const PullRequest& request);

/// Per distinct join key, the row with the greatest (event time, created time, position) in the
/// range (Feast's pull_latest_from_table_or_query), in file order of the rows chosen.
Result<std::shared_ptr<arrow::Table>> PullLatest(const registry::RepoConfig& config,
                                                 const registry::DataSource& source,
                                                 const PullRequest& request);

}  // namespace headwater::offline
