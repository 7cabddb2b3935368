#include "headwater/ingest/window_job.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <bit>

#include "headwater/core/time.h"
#include "headwater/online/feature_row_codec.h"

namespace headwater::ingest {

Result<WindowJob> WindowJob::Make(const registry::Definitions& definitions,
                                  const registry::FeatureView& view) {
  const registry::DataSource* events = definitions.EventSourceOf(view);
  if (!view.is_stream() || events == nullptr) {
    return Status::Invalid("feature view '", view.name, "' is not a stream feature view");
  }
  std::vector<std::string> value_columns;
  std::vector<engine::AggregateSpec> specs;
  for (const registry::AggregationDef& aggregation : view.aggregations) {
    const std::string column = events->ColumnFor(aggregation.column);
    auto found = std::find(value_columns.begin(), value_columns.end(), column);
    if (found == value_columns.end()) {
      value_columns.push_back(column);
      found = value_columns.end() - 1;
    }
    ARROW_ASSIGN_OR_RAISE(auto function, engine::ParseAggregation(aggregation.function));
    specs.push_back({static_cast<int>(found - value_columns.begin()), function,
                     aggregation.time_window, aggregation.slide_interval});
  }
  ARROW_ASSIGN_OR_RAISE(auto op, engine::WindowAggregator::Make(
                                     std::move(specs), static_cast<int>(value_columns.size())));
  const registry::DataSource* source = definitions.FindSource(view.source);
  op.set_event_watermark(source->watermark_delay, view.allowed_lateness);
  WindowJob job(std::move(op));
  job.view_name_ = view.name;
  job.value_columns_ = std::move(value_columns);
  job.time_column_ = events->timestamp_field;
  std::vector<std::shared_ptr<arrow::Field>> fields;
  for (const std::string& entity_name : view.entities) {
    const registry::Entity* entity = definitions.FindEntity(entity_name);
    if (entity == nullptr) return Status::Invalid("unknown entity '", entity_name, "'");
    job.key_columns_.push_back(events->ColumnFor(entity->join_key));
    job.key_kinds_.push_back(entity->value_type);
    fields.push_back(arrow::field(entity->join_key, ToArrowType({entity->value_type, false})));
  }
  fields.push_back(arrow::field("event_timestamp", ToArrowType({ScalarKind::kUnixTimestamp})));
  for (const registry::Field& feature : view.features) {
    fields.push_back(arrow::field(feature.name, ToArrowType(feature.dtype)));
  }
  job.features_ = view.features;
  job.output_schema_ = arrow::schema(std::move(fields));
  job.input_columns_ = job.key_columns_;
  job.input_columns_.push_back(job.time_column_);
  for (const std::string& column : job.value_columns_) {
    if (std::find(job.input_columns_.begin(), job.input_columns_.end(), column) ==
        job.input_columns_.end()) {
      job.input_columns_.push_back(column);
    }
  }
  return job;
}

Status WindowJob::Check(const arrow::RecordBatch& events) const {
  for (const std::string& name : input_columns_) {
    auto column = events.GetColumnByName(name);
    if (column == nullptr) return Status::Invalid("the events lack column '", name, "'");
    const bool required =
        name == time_column_ ||
        std::find(key_columns_.begin(), key_columns_.end(), name) != key_columns_.end();
    if (required && column->null_count() > 0) {
      return Status::Invalid("column '", name, "' has nulls; every event needs its key and time");
    }
  }
  return ToEpochMicros(arrow::ChunkedArray(events.GetColumnByName(time_column_)),
                       "'" + time_column_ + "'")
      .status();
}

Status WindowJob::Consume(const arrow::RecordBatch& events, std::vector<int64_t>* late) {
  auto column = [&](const std::string& name) -> Result<std::shared_ptr<arrow::Array>> {
    auto array = events.GetColumnByName(name);
    if (array == nullptr) return Status::Invalid("events lack column '", name, "'");
    return array;
  };
  std::vector<std::shared_ptr<arrow::Array>> key_arrays;
  for (const std::string& name : key_columns_) {
    ARROW_ASSIGN_OR_RAISE(auto array, column(name));
    key_arrays.push_back(std::move(array));
  }
  ByteRows keys;
  std::vector<uint8_t> key_valid;
  ARROW_RETURN_NOT_OK(EncodeEntityKeys(key_arrays, events.num_rows(), &keys, &key_valid));
  if (std::find(key_valid.begin(), key_valid.end(), 0) != key_valid.end()) {
    return Status::Invalid("events have a null join key");
  }
  ARROW_ASSIGN_OR_RAISE(auto time_array, column(time_column_));
  ARROW_ASSIGN_OR_RAISE(auto times,
                        ToEpochMicros(arrow::ChunkedArray(time_array), "'" + time_column_ + "'"));
  if (times->null_count() > 0) return Status::Invalid("events have a null '", time_column_, "'");

  batch_max_time_ = INT64_MIN;
  for (int64_t i = 0; i < times->length(); ++i) {
    batch_max_time_ = std::max(batch_max_time_, times->Value(i));
  }
  engine::EventBatch batch;
  batch.keys = &keys;
  batch.times = times->raw_values();
  batch.size = events.num_rows();
  std::vector<std::shared_ptr<arrow::Array>> doubles;
  std::vector<std::vector<uint8_t>> valid(value_columns_.size());
  for (size_t c = 0; c < value_columns_.size(); ++c) {
    ARROW_ASSIGN_OR_RAISE(auto array, column(value_columns_[c]));
    if (array->type_id() != arrow::Type::DOUBLE) {
      // Aggregates are doubles: an integer beyond 2^53 rounds to the nearest one, as C++ and
      // Java convert (the checked cast would refuse it after the event was accepted).
      ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*array, arrow::float64(),
                                                            arrow::compute::CastOptions::Unsafe()));
      array = std::move(cast);
    }
    const auto& values = static_cast<const arrow::DoubleArray&>(*array);
    batch.values.push_back(values.raw_values());
    if (values.null_count() == 0) {
      batch.valid.push_back(nullptr);
    } else {
      valid[c].resize(static_cast<size_t>(values.length()));
      for (int64_t i = 0; i < values.length(); ++i) valid[c][i] = values.IsValid(i);
      batch.valid.push_back(valid[c].data());
    }
    doubles.push_back(std::move(array));
  }
  op_.Consume(batch, late);
  return Status::OK();
}

Result<std::shared_ptr<arrow::Schema>> WindowJob::TileSchema(
    const arrow::Schema& event_schema) const {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  for (const std::string& name : key_columns_) {
    auto field = event_schema.GetFieldByName(name);
    if (field == nullptr) return Status::Invalid("the events lack key column '", name, "'");
    fields.push_back(field);
  }
  fields.push_back(arrow::field(kTileTimeColumn, ToArrowType({ScalarKind::kUnixTimestamp})));
  for (const std::string& column : value_columns_) {
    for (const char* name : kTileFields) {
      fields.push_back(arrow::field(column + "__" + name, arrow::int64()));
    }
  }
  return arrow::schema(std::move(fields));
}

Status WindowJob::ConsumeTiles(const arrow::RecordBatch& tiles, std::vector<int64_t>* late) {
  auto column = [&](const std::string& name,
                    arrow::Type::type type) -> Result<const arrow::Array*> {
    auto array = tiles.GetColumnByName(name);
    if (array == nullptr || array->type_id() != type || array->null_count() > 0) {
      return Status::Invalid("tiles lack column '", name, "' (",
                             type == arrow::Type::INT64 ? "int64" : "timestamp", ", no nulls)");
    }
    return array.get();
  };
  std::vector<std::shared_ptr<arrow::Array>> key_arrays;
  for (const std::string& name : key_columns_) {
    auto array = tiles.GetColumnByName(name);
    if (array == nullptr) return Status::Invalid("tiles lack key column '", name, "'");
    key_arrays.push_back(std::move(array));
  }
  ByteRows keys;
  std::vector<uint8_t> key_valid;
  ARROW_RETURN_NOT_OK(EncodeEntityKeys(key_arrays, tiles.num_rows(), &keys, &key_valid));
  ARROW_ASSIGN_OR_RAISE(const arrow::Array* time_array,
                        column(kTileTimeColumn, arrow::Type::TIMESTAMP));
  const int64_t* times = static_cast<const arrow::TimestampArray*>(time_array)->raw_values();
  constexpr size_t kFields = std::size(kTileFields);
  std::vector<const int64_t*> fields;  // value column c, field f: fields[c * kFields + f]
  for (const std::string& name : value_columns_) {
    for (const char* field : kTileFields) {
      ARROW_ASSIGN_OR_RAISE(const arrow::Array* array,
                            column(name + "__" + field, arrow::Type::INT64));
      fields.push_back(static_cast<const arrow::Int64Array*>(array)->raw_values());
    }
  }
  batch_max_time_ = INT64_MIN;
  for (int64_t i = 0; i < tiles.num_rows(); ++i)
    batch_max_time_ = std::max(batch_max_time_, times[i]);
  auto as_double = [](int64_t bits) { return std::bit_cast<double>(bits); };
  std::vector<engine::Tile> row(value_columns_.size());
  for (int64_t i = 0; i < tiles.num_rows(); ++i) {
    if (!key_valid[static_cast<size_t>(i)]) return Status::Invalid("a tile has a null join key");
    for (size_t c = 0; c < row.size(); ++c) {
      const int64_t* const* f = fields.data() + c * kFields;
      engine::Tile& tile = row[c];
      tile.count = f[0][i];
      tile.sum = as_double(f[1][i]);
      tile.min = as_double(f[2][i]);
      tile.max = as_double(f[3][i]);
      tile.mean = as_double(f[4][i]);
      tile.m2 = as_double(f[5][i]);
      tile.last_time = f[6][i];
      tile.last_sequence = f[7][i];
      tile.last = as_double(f[8][i]);
    }
    const int64_t pane = engine::FloorDivide(times[i], op_.grid());
    if (!op_.ConsumeTiles(keys[static_cast<size_t>(i)], pane, row.data(), times[i])) {
      late->push_back(i);
    }
  }
  return Status::OK();
}

Result<WindowOutput> WindowJob::Finalize(int64_t until, bool with_table) {
  engine::WindowRows rows;
  op_.FinalizeUntil(until, &rows);
  WindowOutput out;
  const int64_t n = static_cast<int64_t>(rows.size());
  if (n == 0) {  // most calls: nothing final yet (and empty vectors have no data to append)
    ARROW_ASSIGN_OR_RAISE(out.table, arrow::Table::MakeEmpty(output_schema_));
    return out;
  }
  for (int64_t i = 0; i < n; ++i) {
    out.keys.data.append(op_.key(rows.keys[static_cast<size_t>(i)]));
    out.keys.FinishRow();
  }
  out.ends = std::make_shared<arrow::TimestampArray>(ToArrowType({ScalarKind::kUnixTimestamp}), n,
                                                     arrow::Buffer::FromVector(rows.ends));
  std::vector<FeatureType> schema;
  for (size_t a = 0; a < features_.size(); ++a) {
    const bool count = features_[a].dtype.kind == ScalarKind::kInt64;
    std::shared_ptr<arrow::Array> array;
    if (count) {
      arrow::Int64Builder builder;
      ARROW_RETURN_NOT_OK(builder.Reserve(n));
      for (int64_t i = 0; i < n; ++i) {
        builder.UnsafeAppend(static_cast<int64_t>(rows.values[a][static_cast<size_t>(i)]));
      }
      ARROW_RETURN_NOT_OK(builder.Finish(&array));
    } else {
      arrow::DoubleBuilder builder;
      ARROW_RETURN_NOT_OK(builder.AppendValues(rows.values[a].data(), n, rows.valid[a].data()));
      ARROW_RETURN_NOT_OK(builder.Finish(&array));
    }
    out.features.push_back(std::move(array));
    schema.push_back(features_[a].dtype);
  }
  ARROW_RETURN_NOT_OK(
      online::EncodeFeatureRows(out.features, schema, rows.ends.data(), nullptr, n, &out.values));
  if (with_table) ARROW_RETURN_NOT_OK(BuildTable(&out));
  return out;
}

Status WindowJob::BuildTable(WindowOutput* out) const {
  if (out->table != nullptr) return Status::OK();
  const int64_t n = out->rows();
  // Join keys, decoded from the encoded keys.
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> key_builders;
  for (ScalarKind kind : key_kinds_) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    ARROW_RETURN_NOT_OK(
        arrow::MakeBuilder(arrow::default_memory_pool(), ToArrowType({kind, false}), &builder));
    key_builders.push_back(std::move(builder));
  }
  for (int64_t i = 0; i < n; ++i) {
    ARROW_ASSIGN_OR_RAISE(auto parts, DecodeEntityKey(out->keys[static_cast<size_t>(i)]));
    for (size_t k = 0; k < key_kinds_.size(); ++k) {
      arrow::ArrayBuilder* builder = key_builders[k].get();
      switch (key_kinds_[k]) {
        case ScalarKind::kInt32:
          ARROW_RETURN_NOT_OK(static_cast<arrow::Int32Builder*>(builder)->Append(
              static_cast<int32_t>(parts[k].int_value)));
          break;
        case ScalarKind::kInt64:
          ARROW_RETURN_NOT_OK(
              static_cast<arrow::Int64Builder*>(builder)->Append(parts[k].int_value));
          break;
        case ScalarKind::kString:
          ARROW_RETURN_NOT_OK(static_cast<arrow::StringBuilder*>(builder)->Append(parts[k].bytes));
          break;
        default:
          ARROW_RETURN_NOT_OK(static_cast<arrow::BinaryBuilder*>(builder)->Append(parts[k].bytes));
          break;
      }
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (auto& builder : key_builders) {
    std::shared_ptr<arrow::Array> array;
    ARROW_RETURN_NOT_OK(builder->Finish(&array));
    columns.push_back(std::move(array));
  }
  columns.push_back(out->ends);
  columns.insert(columns.end(), out->features.begin(), out->features.end());
  out->table = arrow::Table::Make(output_schema_, columns, n);
  return Status::OK();
}

}  // namespace headwater::ingest
