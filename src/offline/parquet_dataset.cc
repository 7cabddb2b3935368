#include "headwater/offline/parquet_dataset.h"

#include <arrow/array/builder_primitive.h>
#include <arrow/compute/api_vector.h>
#include <arrow/datum.h>
#include <arrow/io/interfaces.h>
#include <arrow/scalar.h>
#include <arrow/table.h>
#include <arrow/type.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/statistics.h>

#include "headwater/core/object_store.h"
#include "headwater/core/time.h"
#include "headwater/engine/parallel_for.h"

namespace headwater::offline {
namespace {

Result<std::unique_ptr<parquet::arrow::FileReader>> OpenReader(
    const std::filesystem::path& path, std::shared_ptr<parquet::FileMetaData> metadata) {
  ARROW_ASSIGN_OR_RAISE(auto file, storage::OpenInput(path));
  try {
    auto reader = parquet::ParquetFileReader::Open(file, parquet::default_reader_properties(),
                                                   std::move(metadata));
    parquet::ArrowReaderProperties properties;
    properties.set_use_threads(false);  // parallelism is across row groups, by the caller
    auto arrow_reader = parquet::arrow::FileReader::Make(arrow::default_memory_pool(),
                                                         std::move(reader), properties);
    if (!arrow_reader.ok()) {
      return Status::Invalid(path.string(), ": ", arrow_reader.status().message());
    }
    return std::move(*arrow_reader);
  } catch (const parquet::ParquetException& error) {
    return Status::Invalid(path.string(), " is not a readable Parquet file: ", error.what());
  }
}

}  // namespace

Result<ParquetDataset> ParquetDataset::Open(std::vector<std::filesystem::path> files) {
  ParquetDataset dataset;
  dataset.files_ = std::move(files);
  int64_t row_number = 0;
  for (size_t f = 0; f < dataset.files_.size(); ++f) {
    const auto& path = dataset.files_[f];
    ARROW_ASSIGN_OR_RAISE(auto reader, OpenReader(path, nullptr));
    std::shared_ptr<parquet::FileMetaData> metadata = reader->parquet_reader()->metadata();
    std::shared_ptr<arrow::Schema> schema;
    ARROW_RETURN_NOT_OK(reader->GetSchema(&schema));
    if (dataset.schema_ == nullptr) {
      dataset.schema_ = schema;
    } else {
      for (const auto& field : dataset.schema_->fields()) {
        auto other = schema->GetFieldByName(field->name());
        if (other == nullptr || !other->type()->Equals(field->type())) {
          return Status::Invalid(path.string(), ": column '", field->name(), "' is ",
                                 other ? other->type()->ToString() : "missing", " but ",
                                 field->type()->ToString(), " in ", dataset.files_[0].string());
        }
      }
    }
    for (int g = 0; g < metadata->num_row_groups(); ++g) {
      int64_t n = metadata->RowGroup(g)->num_rows();
      dataset.row_groups_.push_back({static_cast<int>(f), g, row_number, n});
      row_number += n;
    }
    dataset.metadata_.push_back(std::move(metadata));
  }
  return dataset;
}

int64_t ParquetDataset::num_rows() const {
  return row_groups_.empty() ? 0
                             : row_groups_.back().first_row_number + row_groups_.back().num_rows;
}

std::optional<std::pair<int64_t, int64_t>> ParquetDataset::TimeRange(
    const RowGroup& row_group, const std::string& column) const {
  const auto& metadata = *metadata_[row_group.file];
  int leaf = metadata.schema()->ColumnIndex(column);
  if (leaf < 0) return std::nullopt;
  auto chunk = metadata.RowGroup(row_group.index)->ColumnChunk(leaf);
  auto statistics = chunk->statistics();
  if (statistics == nullptr || !statistics->HasMinMax()) return std::nullopt;
  std::shared_ptr<arrow::Scalar> min, max;
  if (!parquet::arrow::StatisticsAsScalars(*statistics, &min, &max).ok()) return std::nullopt;
  if (min->type->id() != arrow::Type::TIMESTAMP) return std::nullopt;
  auto unit = static_cast<const arrow::TimestampType&>(*min->type).unit();
  auto to_micros = [unit](int64_t v) {
    switch (unit) {
      case arrow::TimeUnit::SECOND:
        return v * kMicrosPerSecond;
      case arrow::TimeUnit::MILLI:
        return v * 1000;
      case arrow::TimeUnit::MICRO:
        return v;
      case arrow::TimeUnit::NANO:
        return v / 1000;
    }
    return v;
  };
  return std::pair{to_micros(static_cast<const arrow::TimestampScalar&>(*min).value),
                   to_micros(static_cast<const arrow::TimestampScalar&>(*max).value)};
}

Result<std::shared_ptr<arrow::Table>> ParquetDataset::Read(
    const RowGroup& row_group, const std::vector<std::string>& columns) const {
  const auto& path = files_[row_group.file];
  ARROW_ASSIGN_OR_RAISE(auto reader, OpenReader(path, metadata_[row_group.file]));
  std::shared_ptr<arrow::Schema> schema;
  ARROW_RETURN_NOT_OK(reader->GetSchema(&schema));
  std::vector<int> fields;
  for (const std::string& column : columns) {
    int index = schema->GetFieldIndex(column);
    if (index < 0) return Status::Invalid(path.string(), " has no column '", column, "'");
    fields.push_back(index);
  }
  try {
    // ReadRowGroup takes leaf column indices: every leaf under the fields asked for (a struct
    // or map column has several).
    const parquet::SchemaDescriptor& descriptor = *reader->parquet_reader()->metadata()->schema();
    std::vector<int> leaves;
    for (int leaf = 0; leaf < descriptor.num_columns(); ++leaf) {
      const int root = descriptor.group_node()->FieldIndex(*descriptor.GetColumnRoot(leaf));
      if (std::find(fields.begin(), fields.end(), root) != fields.end()) leaves.push_back(leaf);
    }
    auto table = reader->ReadRowGroup(row_group.index, leaves);
    if (!table.ok()) {
      return Status::Invalid(path.string(), ", row group ", row_group.index, ": ",
                             table.status().message());
    }
    // ReadRowGroup returns leaves in file order; put the columns in the order asked for.
    std::vector<std::shared_ptr<arrow::ChunkedArray>> ordered;
    std::vector<std::shared_ptr<arrow::Field>> ordered_fields;
    for (const std::string& column : columns) {
      auto chunked = (*table)->GetColumnByName(column);
      if (chunked == nullptr)
        return Status::Invalid(path.string(), ": cannot read column '", column, "'");
      ordered.push_back(chunked);
      ordered_fields.push_back((*table)->schema()->GetFieldByName(column));
    }
    return arrow::Table::Make(arrow::schema(ordered_fields), ordered, (*table)->num_rows());
  } catch (const parquet::ParquetException& error) {
    return Status::Invalid(path.string(), ", row group ", row_group.index,
                           " cannot be read: ", error.what());
  }
}

Status ParquetDataset::TakeRows(
    const std::vector<std::string>& columns, const std::vector<int64_t>& row_numbers, int threads,
    const std::function<Status(size_t, std::shared_ptr<arrow::Table>)>& visit) const {
  struct Slice {
    const RowGroup* group;
    size_t begin, end;  // into row_numbers
  };
  std::vector<Slice> slices;
  for (const RowGroup& group : row_groups_) {
    auto lo = std::lower_bound(row_numbers.begin(), row_numbers.end(), group.first_row_number);
    auto hi = std::lower_bound(lo, row_numbers.end(), group.first_row_number + group.num_rows);
    if (lo != hi) {
      slices.push_back(
          {&group, size_t(lo - row_numbers.begin()), size_t(hi - row_numbers.begin())});
    }
  }
  return engine::ParallelFor(
      static_cast<int64_t>(slices.size()), threads, [&](int64_t task, int) -> Status {
        const Slice& slice = slices[task];
        ARROW_ASSIGN_OR_RAISE(auto table, Read(*slice.group, columns));
        arrow::Int64Builder indices;
        ARROW_RETURN_NOT_OK(indices.Reserve(static_cast<int64_t>(slice.end - slice.begin)));
        for (size_t k = slice.begin; k < slice.end; ++k) {
          indices.UnsafeAppend(row_numbers[k] - slice.group->first_row_number);
        }
        ARROW_ASSIGN_OR_RAISE(auto index_array, indices.Finish());
        ARROW_ASSIGN_OR_RAISE(auto taken, arrow::compute::Take(table, index_array));
        return visit(slice.begin, taken.table());
      });
}

}  // namespace headwater::offline
