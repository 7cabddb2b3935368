#include "headwater/offline/table_file.h"

#include <arrow/csv/api.h>
#include <arrow/io/file.h>
#include <arrow/table.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <parquet/exception.h>

#include "headwater/core/file.h"
#include "headwater/core/object_store.h"
#include "headwater/registry/source_schema.h"

namespace headwater::offline {

namespace fs = std::filesystem;

Result<TableFormat> TableFormatOf(const fs::path& path) {
  std::string extension = path.extension().string();
  if (extension == ".parquet" || extension == ".pq") return TableFormat::kParquet;
  if (extension == ".csv") return TableFormat::kCsv;
  return Status::Invalid(path.string(), ": unknown file type '", extension,
                         "' (use .parquet or .csv)");
}

Result<std::shared_ptr<arrow::Table>> ReadTableFile(
    const fs::path& path,
    const std::map<std::string, std::shared_ptr<arrow::DataType>>& column_types) {
  ARROW_ASSIGN_OR_RAISE(TableFormat format, TableFormatOf(path));
  ARROW_ASSIGN_OR_RAISE(storage::Kind kind, storage::KindOf(path));
  if (kind != storage::Kind::kFile) {
    return Status::IOError(path.string(), storage::IsObjectUri(path)
                                              ? ": no such object (or no such bucket)"
                                              : ": no such file");
  }
  ARROW_ASSIGN_OR_RAISE(auto file, storage::OpenInput(path));
  if (format == TableFormat::kParquet) {
    try {
      auto reader = parquet::arrow::OpenFile(file, arrow::default_memory_pool());
      if (!reader.ok()) return Status::Invalid(path.string(), ": ", reader.status().message());
      (*reader)->set_use_threads(true);  // columns decoded in parallel on Arrow's CPU pool
      auto table = (*reader)->ReadTable();
      if (!table.ok()) return Status::Invalid(path.string(), ": ", table.status().message());
      ARROW_RETURN_NOT_OK(registry::CheckUniqueColumns(*(*table)->schema(), path.string()));
      return *table;
    } catch (const parquet::ParquetException& e) {
      return Status::Invalid(path.string(), " is not a readable Parquet file: ", e.what());
    }
  }
  auto read_options = arrow::csv::ReadOptions::Defaults();
  auto parse_options = arrow::csv::ParseOptions::Defaults();
  auto convert_options = arrow::csv::ConvertOptions::Defaults();
  for (const auto& [name, type] : column_types) convert_options.column_types[name] = type;
  // Empty strings read as nulls for every type, so a missing key is reported as a null key.
  convert_options.strings_can_be_null = true;
  // The reader infers the columns from the first block: a header row longer than a block would
  // be reported as an "Empty CSV file". Say what it is instead.
  ARROW_ASSIGN_OR_RAISE(auto head, file->ReadAt(0, read_options.block_size));
  std::string_view first_block(reinterpret_cast<const char*>(head->data()), head->size());
  if (first_block.size() == static_cast<size_t>(read_options.block_size) &&
      first_block.find('\n') == std::string_view::npos) {
    return Status::Invalid(path.string(), ": the header row is longer than ",
                           read_options.block_size >> 20,
                           " MiB; an entity file holds join keys, event_timestamp and a few "
                           "labels, not this many columns");
  }
  ARROW_RETURN_NOT_OK(file->Seek(0));  // ReadAt may move the position
  auto reader = arrow::csv::TableReader::Make(arrow::io::default_io_context(), file, read_options,
                                              parse_options, convert_options);
  if (!reader.ok()) return Status::Invalid(path.string(), ": ", reader.status().message());
  auto table = (*reader)->Read();
  if (!table.ok()) return Status::Invalid(path.string(), ": ", table.status().message());
  ARROW_RETURN_NOT_OK(registry::CheckUniqueColumns(*(*table)->schema(), path.string()));
  return *table;
}

namespace {

// Row groups of 128Ki rows, Snappy, and the columns of each row group encoded in parallel on
// Arrow's CPU pool (callers are never tasks of that pool). The writer holds a whole row group
// encoded in memory before writing it: at 1Mi rows that was 800 MB of fresh pages for a
// 100-feature output, and measured against 128Ki rows (bench/retrieval_scaling.py shapes, caches
// dropped before each run) it cost 2 s more system time there and ~0.8 s at 10M x 13 columns;
// 64Ki rows measured the same as 128Ki, with more footer. Floating-point columns skip dictionary
// encoding: feature values are rarely repeated, so the dictionary is built, found too large and
// dropped, at the cost of hashing every value.
Status WriteParquet(const arrow::Table& table,
                    const std::shared_ptr<arrow::io::OutputStream>& out) {
  constexpr int64_t kRowGroupRows = 1 << 17;
  parquet::WriterProperties::Builder builder;
  builder.compression(parquet::Compression::SNAPPY)->max_row_group_length(kRowGroupRows);
  // A column falls back from dictionary to plain encoding once its dictionary reaches this size:
  // labels and categories stay dictionary-encoded, keys and times of 128Ki distinct values per
  // row group no longer hash every value into a dictionary only to fall back at 1 MiB (10M rows:
  // 1 s less CPU, and a 4% smaller file).
  builder.dictionary_pagesize_limit(64 << 10);
  for (const auto& field : table.schema()->fields()) {
    if (arrow::is_floating(field->type()->id())) builder.disable_dictionary(field->name());
  }
  auto arrow_properties = parquet::ArrowWriterProperties::Builder().set_use_threads(true)->build();
  ARROW_ASSIGN_OR_RAISE(
      auto writer, parquet::arrow::FileWriter::Open(*table.schema(), arrow::default_memory_pool(),
                                                    out, builder.build(), arrow_properties));
  arrow::TableBatchReader batches(table);
  batches.set_chunksize(kRowGroupRows);
  std::shared_ptr<arrow::RecordBatch> batch;
  while (true) {
    ARROW_RETURN_NOT_OK(batches.ReadNext(&batch));
    if (batch == nullptr) break;
    // Batches end where the table's chunks do; the writer starts a row group every
    // kRowGroupRows rows whatever the batches are.
    ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(*batch));
  }
  return writer->Close();
}

}  // namespace

Status WriteTableFile(const arrow::Table& table, const fs::path& path) {
  ARROW_ASSIGN_OR_RAISE(TableFormat format, TableFormatOf(path));
  fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code error;
  // An object needs no parent: a prefix exists once an object is under it.
  if (!storage::IsObjectUri(path) && !fs::is_directory(directory, error)) {
    return Status::IOError("cannot write ", path.string(), ": directory ", directory.string(),
                           " does not exist");
  }
  Status written = WriteFileAtomically(path, [&](const fs::path& temporary) -> Status {
    ARROW_ASSIGN_OR_RAISE(auto out, OpenOutputForAtomicWrite(temporary));
    if (format == TableFormat::kParquet) {
      try {
        ARROW_RETURN_NOT_OK(WriteParquet(table, out));
      } catch (const parquet::ParquetException& e) {
        return Status::IOError("cannot write ", path.string(), ": ", e.what());
      }
    } else {
      ARROW_RETURN_NOT_OK(
          arrow::csv::WriteCSV(table, arrow::csv::WriteOptions::Defaults(), out.get()));
    }
    return out->Close();
  });
  if (written.ok() || written.message().starts_with("cannot write")) return written;
  // Arrow's file errors keep the cause in their detail ("[errno 28] No space left on device").
  return Status::IOError("cannot write ", path.string(), ": ", written.message(),
                         written.detail() ? " (" + written.detail()->ToString() + ")" : "");
}

}  // namespace headwater::offline
