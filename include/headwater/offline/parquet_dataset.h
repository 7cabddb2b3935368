#pragma once
// A file source's Parquet files as one sequence of row groups with global row numbers, read
// column by column and row group by row group so callers stay in bounded memory.

#include <arrow/type_fwd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "headwater/core/status.h"

namespace parquet {
class FileMetaData;
}

namespace headwater::offline {

/// One row group of one file.
struct RowGroup {
  int file = 0;                  // index into ParquetDataset::files()
  int index = 0;                 // row group index within the file
  int64_t first_row_number = 0;  // global number of its first row ("the row read last" order)
  int64_t num_rows = 0;
};

class ParquetDataset {
 public:
  /// Opens the files (reading their footers only). Every file must have the columns of the
  /// first; a corrupt or truncated file is an error naming it.
  static Result<ParquetDataset> Open(std::vector<std::filesystem::path> files);

  const std::vector<std::filesystem::path>& files() const { return files_; }
  const std::vector<RowGroup>& row_groups() const { return row_groups_; }
  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }
  int64_t num_rows() const;

  /// The [min, max] of a timestamp column in a row group, in epoch microseconds, when the file
  /// has statistics for it; otherwise nullopt.
  std::optional<std::pair<int64_t, int64_t>> TimeRange(const RowGroup& row_group,
                                                       const std::string& column) const;

  /// Reads the named top-level columns of a row group. Safe to call from several threads.
  Result<std::shared_ptr<arrow::Table>> Read(const RowGroup& row_group,
                                             const std::vector<std::string>& columns) const;

  /// Gathers rows by number: reads `columns` only of the row groups that hold some of
  /// `row_numbers` (sorted ascending; repeats allowed), on `threads` threads, and calls
  /// visit(begin, rows) where `rows` holds the rows row_numbers[begin, begin + rows->num_rows())
  /// in that order. Calls may come from several threads at once.
  Status TakeRows(
      const std::vector<std::string>& columns, const std::vector<int64_t>& row_numbers, int threads,
      const std::function<Status(size_t begin, std::shared_ptr<arrow::Table> rows)>& visit) const;

 private:
  std::vector<std::filesystem::path> files_;
  std::vector<std::shared_ptr<parquet::FileMetaData>> metadata_;
  std::vector<RowGroup> row_groups_;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace headwater::offline
