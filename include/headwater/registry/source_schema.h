#pragma once
// The files and Arrow schema behind a file source. Shared by validation (registry) and reading
// (offline) so both agree on what a source path means.

#include <arrow/type_fwd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/registry/definitions.h"

namespace headwater::registry {

/// The Parquet files of a source path: the file itself, or the *.parquet files directly inside
/// a directory in name order (appends add files whose names sort last). Hidden and temporary
/// files (names starting with "." or "_") are skipped. A missing path is an IOError.
Result<std::vector<std::filesystem::path>> ListSourceFiles(const std::filesystem::path& path);

/// The Arrow schema of a source: that of its first file. A source with no files, a file that is
/// not Parquet, or one with two columns of one name, is an error naming the path.
Result<std::shared_ptr<arrow::Schema>> ReadSourceSchema(const std::filesystem::path& path);

/// Makes every file source's s3_endpoint_override the endpoint of its bucket in this process
/// (core/object_store.h), before anything of theirs is read. Two endpoints for one bucket are
/// an error naming the source.
Status UseSourceEndpoints(const std::vector<DataSource>& sources);

/// Invalid naming `file` and the column when two columns of `schema` share a name: every
/// reader finds columns by name, so the second would be silently ignored.
Status CheckUniqueColumns(const arrow::Schema& schema, const std::string& file);

}  // namespace headwater::registry
