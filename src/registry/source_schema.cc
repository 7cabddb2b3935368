#include "headwater/registry/source_schema.h"

#include <arrow/io/interfaces.h>
#include <arrow/type.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>

#include <algorithm>
#include <set>

#include "headwater/core/file.h"
#include "headwater/core/object_store.h"

namespace headwater::registry {

namespace fs = std::filesystem;

Result<std::vector<fs::path>> ListSourceFiles(const fs::path& path) {
  ARROW_ASSIGN_OR_RAISE(storage::Kind kind, storage::KindOf(path));
  if (kind == storage::Kind::kMissing) {
    return Status::IOError("source path ", path.string(), " does not exist");
  }
  if (kind == storage::Kind::kFile) return std::vector<fs::path>{path};
  const bool objects = storage::IsObjectUri(path);
  std::vector<fs::path> files;
  ARROW_ASSIGN_OR_RAISE(auto entries, ListDirectory(path));
  for (const fs::path& entry : entries) {
    std::string name = entry.filename().string();
    if (name.starts_with(".") || name.starts_with("_") || entry.extension() != ".parquet") continue;
    std::error_code error;
    // Listed objects are objects (a prefix ending in .parquet is not worth a request to rule out).
    if (objects || fs::is_regular_file(entry, error)) files.push_back(entry);
  }
  std::sort(files.begin(), files.end());
  return files;
}

Status UseSourceEndpoints(const std::vector<DataSource>& sources) {
  for (const DataSource& source : sources) {
    if (source.s3_endpoint_override.empty() || !storage::IsObjectUri(source.path)) continue;
    const std::string in_bucket = source.path.substr(5);
    Status used = storage::UseEndpointForBucket(in_bucket.substr(0, in_bucket.find('/')),
                                                source.s3_endpoint_override);
    if (!used.ok()) return Status::Invalid("source '", source.name, "': ", used.message());
  }
  return Status::OK();
}

Status CheckUniqueColumns(const arrow::Schema& schema, const std::string& file) {
  std::set<std::string_view> names;
  for (const auto& field : schema.fields()) {
    if (!names.insert(field->name()).second) {
      return Status::Invalid(file, " has two columns named '", field->name(),
                             "'; columns are found by name, so each name must be unique");
    }
  }
  return Status::OK();
}

Result<std::shared_ptr<arrow::Schema>> ReadSourceSchema(const fs::path& path) {
  ARROW_ASSIGN_OR_RAISE(auto files, ListSourceFiles(path));
  if (files.empty())
    return Status::Invalid("source directory ", path.string(), " holds no Parquet files");
  ARROW_ASSIGN_OR_RAISE(auto opened, storage::OpenInput(files[0]));
  try {
    auto reader = parquet::ParquetFileReader::Open(opened);
    std::shared_ptr<arrow::Schema> schema;
    auto status = parquet::arrow::FromParquetSchema(
        reader->metadata()->schema(), parquet::ArrowReaderProperties(),
        reader->metadata()->key_value_metadata(), &schema);
    if (!status.ok()) return Status::Invalid(files[0].string(), ": ", status.message());
    ARROW_RETURN_NOT_OK(CheckUniqueColumns(*schema, files[0].string()));
    return schema;
  } catch (const parquet::ParquetException& error) {
    return Status::Invalid(files[0].string(), " is not a readable Parquet file: ", error.what());
  }
}

}  // namespace headwater::registry
