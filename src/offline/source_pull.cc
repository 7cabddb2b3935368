#include "headwater/offline/source_pull.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>

#include "headwater/core/entity_key.h"
#include "headwater/engine/latest_row_by_key.h"
#include "headwater/offline/parquet_dataset.h"
#include "headwater/registry/source_schema.h"

namespace headwater::offline {
namespace {

// A time column as epoch microseconds (0 where null; `valid` says which).
// The column's type was checked by Open.
Status Micros(const arrow::ChunkedArray& column, std::vector<int64_t>* micros,
              std::vector<uint8_t>* valid) {
  const auto& type = static_cast<const arrow::TimestampType&>(*column.type());
  // Nanoseconds are truncated to the microseconds every Headwater time is kept in.
  ARROW_ASSIGN_OR_RAISE(auto cast,
                        arrow::compute::Cast(arrow::Datum(column),
                                             arrow::compute::CastOptions::Unsafe(arrow::timestamp(
                                                 arrow::TimeUnit::MICRO, type.timezone()))));
  micros->clear();
  valid->clear();
  for (const auto& chunk : cast.chunked_array()->chunks()) {
    const auto& values = static_cast<const arrow::TimestampArray&>(*chunk);
    for (int64_t i = 0; i < values.length(); ++i) {
      valid->push_back(values.IsValid(i) ? 1 : 0);
      micros->push_back(values.IsValid(i) ? values.Value(i) : 0);
    }
  }
  return Status::OK();
}

// The names in first-appearance order, each once: a column named twice is read once.
std::vector<std::string> Unique(std::vector<std::string> names) {
  std::vector<std::string> out;
  for (std::string& name : names) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  }
  return out;
}

struct Pull {
  ParquetDataset dataset;
  std::vector<std::string> columns;  // keys, features, time columns
};

Result<Pull> Open(const registry::RepoConfig& config, const registry::DataSource& source,
                  const PullRequest& request) {
  if (source.path.empty()) {
    return Status::Invalid("data source '", source.name, "' has no files to pull from");
  }
  ARROW_ASSIGN_OR_RAISE(auto files, registry::ListSourceFiles(config.Resolve(source.path)));
  ARROW_ASSIGN_OR_RAISE(auto dataset, ParquetDataset::Open(std::move(files)));
  Pull pull{std::move(dataset), {}};
  for (const auto* names : {&request.join_keys, &request.features}) {
    pull.columns.insert(pull.columns.end(), names->begin(), names->end());
  }
  if (request.timestamp_field.empty()) return Status::Invalid("no timestamp_field to pull by");
  pull.columns.push_back(request.timestamp_field);
  if (!request.created_timestamp_column.empty()) {
    pull.columns.push_back(request.created_timestamp_column);
  }
  pull.columns = Unique(std::move(pull.columns));
  for (const std::string& column : pull.columns) {
    if (pull.dataset.schema()->GetFieldByName(column) == nullptr) {
      return Status::KeyError("data source '", source.name, "' has no column '", column, "'");
    }
  }
  for (const std::string* time : {&request.timestamp_field, &request.created_timestamp_column}) {
    if (time->empty()) continue;
    const auto& type = pull.dataset.schema()->GetFieldByName(*time)->type();
    if (type->id() != arrow::Type::TIMESTAMP) {
      return Status::Invalid("column '", *time, "' is ", type->ToString(), ", not a timestamp");
    }
  }
  return pull;
}

Result<std::shared_ptr<arrow::Table>> Empty(const Pull& pull) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  for (const auto& column : pull.columns) {
    fields.push_back(pull.dataset.schema()->GetFieldByName(column));
  }
  return arrow::Table::MakeEmpty(arrow::schema(std::move(fields)));
}

bool Outside(const ParquetDataset& dataset, const RowGroup& group, const PullRequest& request) {
  auto range = dataset.TimeRange(group, request.timestamp_field);
  if (!range) return false;
  return (request.start && range->second < request.start->micros) ||
         (request.end && range->first > request.end->micros);
}

// Which rows of `rows` are in the range.
Status InRange(const arrow::Table& rows, const PullRequest& request, std::vector<uint8_t>* in,
               std::vector<int64_t>* micros) {
  ARROW_RETURN_NOT_OK(Micros(*rows.GetColumnByName(request.timestamp_field), micros, in));
  for (size_t i = 0; i < in->size(); ++i) {
    const int64_t t = (*micros)[i];
    if ((request.start && t < request.start->micros) || (request.end && t > request.end->micros)) {
      (*in)[i] = 0;
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::shared_ptr<arrow::Table>> PullAll(const registry::RepoConfig& config,
                                              const registry::DataSource& source,
                                              const PullRequest& request) {
  ARROW_ASSIGN_OR_RAISE(auto pull, Open(config, source, request));
  std::vector<std::shared_ptr<arrow::Table>> parts;
  std::vector<uint8_t> in;
  std::vector<int64_t> micros;
  for (const RowGroup& group : pull.dataset.row_groups()) {
    if (Outside(pull.dataset, group, request)) continue;
    ARROW_ASSIGN_OR_RAISE(auto rows, pull.dataset.Read(group, pull.columns));
    ARROW_RETURN_NOT_OK(InRange(*rows, request, &in, &micros));
    arrow::BooleanBuilder mask;
    ARROW_RETURN_NOT_OK(mask.Reserve(static_cast<int64_t>(in.size())));
    for (uint8_t keep : in) mask.UnsafeAppend(keep != 0);
    ARROW_ASSIGN_OR_RAISE(auto selection, mask.Finish());
    ARROW_ASSIGN_OR_RAISE(auto kept, arrow::compute::Filter(rows, selection));
    parts.push_back(kept.table());
  }
  if (parts.empty()) return Empty(pull);
  return arrow::ConcatenateTables(parts);
}

Result<std::shared_ptr<arrow::Table>> PullLatest(const registry::RepoConfig& config,
                                                 const registry::DataSource& source,
                                                 const PullRequest& request) {
  ARROW_ASSIGN_OR_RAISE(auto pull, Open(config, source, request));
  std::vector<std::string> time_columns = {request.timestamp_field};
  if (!request.created_timestamp_column.empty()) {
    time_columns.push_back(request.created_timestamp_column);
  }
  std::vector<std::string> read = request.join_keys;
  read.insert(read.end(), time_columns.begin(), time_columns.end());
  read = Unique(std::move(read));
  engine::LatestRowByKey latest;
  std::vector<uint8_t> in, key_valid, created_valid;
  std::vector<int64_t> micros, created;
  for (const RowGroup& group : pull.dataset.row_groups()) {
    if (Outside(pull.dataset, group, request)) continue;
    ARROW_ASSIGN_OR_RAISE(auto rows, pull.dataset.Read(group, read));
    ARROW_ASSIGN_OR_RAISE(rows, rows->CombineChunks());
    ARROW_RETURN_NOT_OK(InRange(*rows, request, &in, &micros));
    if (!request.created_timestamp_column.empty()) {
      ARROW_RETURN_NOT_OK(Micros(*rows->GetColumnByName(request.created_timestamp_column), &created,
                                 &created_valid));
      for (size_t i = 0; i < created.size(); ++i) {
        if (created_valid[i] == 0) created[i] = INT64_MIN;
      }
    }
    std::vector<std::shared_ptr<arrow::Array>> keys;
    for (const std::string& key : request.join_keys) {
      keys.push_back(rows->GetColumnByName(key)->chunk(0));
    }
    ByteRows encoded;
    ARROW_RETURN_NOT_OK(EncodeEntityKeys(keys, rows->num_rows(), &encoded, &key_valid));
    for (size_t i = 0; i < in.size(); ++i) in[i] &= key_valid[i];  // no null keys or times
    latest.Consume(encoded, in.data(), micros.data(),
                   request.created_timestamp_column.empty() ? nullptr : created.data(),
                   group.first_row_number);
  }
  std::vector<int64_t> row_numbers;
  row_numbers.reserve(latest.size());
  for (size_t i = 0; i < latest.size(); ++i) {
    row_numbers.push_back(latest.candidate(i).row_number);
  }
  std::sort(row_numbers.begin(), row_numbers.end());
  std::vector<std::shared_ptr<arrow::Table>> parts;
  std::vector<size_t> starts;
  ARROW_RETURN_NOT_OK(pull.dataset.TakeRows(pull.columns, row_numbers, 1,
                                            [&](size_t begin, std::shared_ptr<arrow::Table> rows) {
                                              starts.push_back(begin);
                                              parts.push_back(std::move(rows));
                                              return Status::OK();
                                            }));
  std::vector<size_t> order(parts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return starts[a] < starts[b]; });
  std::vector<std::shared_ptr<arrow::Table>> ordered;
  for (size_t i : order) ordered.push_back(parts[i]);
  if (ordered.empty()) return Empty(pull);
  return arrow::ConcatenateTables(ordered);
}

}  // namespace headwater::offline
