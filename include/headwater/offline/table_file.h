#pragma once
// Reading and writing whole tables as Parquet or CSV files, chosen by extension.

#include <arrow/type_fwd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "headwater/core/status.h"

namespace headwater::offline {

/// The formats a table file can have, by extension: .parquet/.pq or .csv.
enum class TableFormat { kParquet, kCsv };
Result<TableFormat> TableFormatOf(const std::filesystem::path& path);

/// Reads a table file. For CSV, `column_types` fixes the type of the named columns (others are
/// inferred), so a malformed value is reported with its column and row.
Result<std::shared_ptr<arrow::Table>> ReadTableFile(
    const std::filesystem::path& path,
    const std::map<std::string, std::shared_ptr<arrow::DataType>>& column_types = {});

/// Writes a table file through the one atomic write (core/file.h: temporary file, fsync, rename,
/// fsync of the directory); on any error no file is left at `path` (an existing one is untouched).
Status WriteTableFile(const arrow::Table& table, const std::filesystem::path& path);

}  // namespace headwater::offline
