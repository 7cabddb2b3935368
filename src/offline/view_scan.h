#pragma once
// One feature view's scan of its batch source for a point-in-time retrieval, in two passes over
// the source's row groups: pass 1 reads keys and times and finds each entity row's feature row
// (FindMatches), pass 2 reads the feature columns of the matched rows' row groups only and puts
// their values at their entity rows (TakeMatchedRows). Internal to the offline module.

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <vector>

#include "headwater/core/types.h"
#include "headwater/engine/key_index.h"
#include "headwater/engine/point_in_time_join.h"
#include "headwater/offline/historical_retrieval.h"
#include "headwater/offline/parquet_dataset.h"
#include "headwater/registry/definitions.h"

namespace headwater::offline {

// What one view reads from its batch source.
struct ViewScan {
  const registry::FeatureView* view;
  const registry::DataSource* source;
  std::vector<std::string> key_columns;      // the source's columns of the view's join keys
  std::vector<std::string> feature_columns;  // the source's columns of the projected features
  std::vector<FeatureType> feature_types;
  int threads;

  // Pass 1 reads the keys and times only.
  std::vector<std::string> KeyAndTimeColumns() const {
    std::vector<std::string> columns = key_columns;
    columns.push_back(source->timestamp_field);
    if (!source->created_timestamp_column.empty()) {
      columns.push_back(source->created_timestamp_column);
    }
    return columns;
  }
};

/// A column as one array (its chunks concatenated when there are several).
Result<std::shared_ptr<arrow::Array>> Flatten(const std::shared_ptr<arrow::ChunkedArray>& column);

/// The named columns of `table` as join-key columns.
Result<std::vector<engine::KeyColumn>> KeyColumns(const arrow::Table& table,
                                                  const std::vector<std::string>& names);

/// The data may have changed since `apply`: every column the scan reads must still be there, of
/// the declared type.
Status CheckSourceColumns(const ViewScan& scan, const registry::FeatureViewProjection& projection,
                          const ParquetDataset& dataset);

/// Row groups whose event times lie wholly outside [min entity time - ttl, max entity time]
/// cannot contribute, and are not read.
std::vector<RowGroup> RowGroupsInReach(const ViewScan& scan, const ParquetDataset& dataset,
                                       const engine::PointInTimeJoin& join, RetrievalStats* stats);

/// Pass 1: per entity row, the number of the feature row it gets, or -1.
Result<std::vector<int64_t>> FindMatches(const ViewScan& scan, const ParquetDataset& dataset,
                                         const std::vector<RowGroup>& row_groups,
                                         engine::PointInTimeJoin& join, RetrievalStats* stats);

/// Pass 2: the feature columns of the scan, one value per entity row (null where `matches` is
/// -1), of the declared types.
Result<std::vector<std::shared_ptr<arrow::Array>>> TakeMatchedRows(
    const ViewScan& scan, const ParquetDataset& dataset, const std::vector<int64_t>& matches,
    RetrievalStats* stats);

}  // namespace headwater::offline
