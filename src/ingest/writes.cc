#include "headwater/ingest/writes.h"

#include <arrow/api.h>
#include <arrow/compute/cast.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "headwater/core/file.h"
#include "headwater/core/object_store.h"
#include "headwater/engine/feature_columns.h"
#include "headwater/ingest/idempotency.h"
#include "headwater/offline/table_file.h"
#include "headwater/online/feature_row_codec.h"
#include "headwater/registry/registry_lock.h"
#include "headwater/registry/source_schema.h"

namespace headwater::ingest {
namespace {

// A join key's column type: integer keys of either width encode alike.
FeatureType KeyType(ScalarKind kind) {
  return {kind == ScalarKind::kInt32 ? ScalarKind::kInt64 : kind, false};
}

// Arrow's cast turns a double beyond Float32's range into infinity without a word; a value the
// declared type cannot hold is the writer's mistake, named with its row.
Status CheckFloat32Range(const arrow::Array& doubles_or_lists, const std::string& name) {
  const arrow::Array* values = &doubles_or_lists;
  const int32_t* offsets = nullptr;  // list rows: which row value i belongs to
  int64_t rows = doubles_or_lists.length();
  if (doubles_or_lists.type_id() == arrow::Type::LIST) {
    const auto& list = static_cast<const arrow::ListArray&>(doubles_or_lists);
    values = list.values().get();
    offsets = list.raw_value_offsets();
  }
  if (values->type_id() != arrow::Type::DOUBLE) return Status::OK();
  const auto& doubles = static_cast<const arrow::DoubleArray&>(*values);
  const int64_t begin = offsets ? offsets[0] : 0;
  const int64_t end = offsets ? offsets[rows] : rows;
  for (int64_t i = begin; i < end; ++i) {
    const double value = doubles.Value(i);
    if (std::isfinite(value) && std::abs(value) > std::numeric_limits<float>::max() &&
        doubles.IsValid(i)) {
      const int64_t row =
          offsets ? std::upper_bound(offsets, offsets + rows + 1, i) - offsets - 1 : i;
      return Status::Invalid("df.", name, "[", row, "]: ", fmt::format("{}", value),
                             " is out of range for Float32");
    }
  }
  return Status::OK();
}

// Column `name` of `df` as one array of `type`.
Result<std::shared_ptr<arrow::Array>> ColumnAs(const arrow::Table& df, const std::string& name,
                                               const std::shared_ptr<arrow::DataType>& type) {
  std::shared_ptr<arrow::ChunkedArray> chunks = df.GetColumnByName(name);
  if (chunks == nullptr) return Status::Invalid("df lacks column '", name, "'");
  std::shared_ptr<arrow::Array> column;
  if (chunks->num_chunks() == 1) {
    column = chunks->chunk(0);
  } else {
    ARROW_ASSIGN_OR_RAISE(column, arrow::Concatenate(chunks->chunks()));
  }
  if (type == nullptr || column->type()->Equals(*type)) return column;
  const bool to_float32 =
      type->id() == arrow::Type::FLOAT ||
      (type->id() == arrow::Type::LIST && type->field(0)->type()->id() == arrow::Type::FLOAT);
  if (to_float32) ARROW_RETURN_NOT_OK(CheckFloat32Range(*column, name));
  arrow::compute::CastOptions options = arrow::compute::CastOptions::Safe(type);
  options.allow_time_truncate = true;  // nanosecond times keep their microseconds
  auto cast = arrow::compute::Cast(*column, type, options);
  if (!cast.ok()) {
    return Status::Invalid("df.", name, " (", column->type()->ToString(), ") cannot be read as ",
                           type->ToString(), ": ", cast.status().message());
  }
  return *cast;
}

// Invalid naming the first null row of a column every row needs.
Status CheckNoNulls(const arrow::Array& column, const std::string& name, const char* what) {
  if (column.null_count() == 0) return Status::OK();
  int64_t row = 0;
  while (column.IsValid(row)) ++row;
  return Status::Invalid("df.", name, "[", row, "] is null; every row needs its ", what);
}

Result<std::shared_ptr<arrow::Array>> RequiredColumn(const arrow::Table& df,
                                                     const std::string& name, FeatureType type,
                                                     const char* what) {
  ARROW_ASSIGN_OR_RAISE(auto column, ColumnAs(df, name, ToArrowType(type)));
  ARROW_RETURN_NOT_OK(CheckNoNulls(*column, name, what));
  return column;
}

// Event and created times, as microseconds, checked against the bounds.
Result<std::shared_ptr<arrow::Array>> TimeColumn(const arrow::Table& df, const std::string& name,
                                                 bool required, const EventTimeBounds& bounds) {
  const FeatureType micros{ScalarKind::kUnixTimestamp, false};
  std::shared_ptr<arrow::Array> column;
  if (required) {
    ARROW_ASSIGN_OR_RAISE(column, RequiredColumn(df, name, micros, "event time"));
  } else {
    ARROW_ASSIGN_OR_RAISE(column, ColumnAs(df, name, ToArrowType(micros)));
  }
  ARROW_RETURN_NOT_OK(bounds.CheckColumn(*column, name));
  return column;
}

}  // namespace

void AddOnlineWriteColumns(const registry::Definitions& definitions,
                           const registry::FeatureView& view,
                           std::map<std::string, FeatureType>* columns) {
  for (const std::string& entity_name : view.entities) {
    if (const registry::Entity* entity = definitions.FindEntity(entity_name)) {
      columns->emplace(entity->join_key, KeyType(entity->value_type));
    }
  }
  if (const registry::DataSource* source = definitions.BatchSourceOf(view)) {
    columns->emplace(source->timestamp_field, FeatureType{ScalarKind::kUnixTimestamp, false});
    if (!source->created_timestamp_column.empty()) {
      columns->emplace(source->created_timestamp_column,
                       FeatureType{ScalarKind::kUnixTimestamp, false});
    }
  }
  for (const registry::Field& field : view.features) columns->emplace(field.name, field.dtype);
}

Status AddOfflineWriteColumns(const registry::RepoConfig& config, const registry::DataSource& batch,
                              std::map<std::string, FeatureType>* columns) {
  ARROW_ASSIGN_OR_RAISE(auto schema, registry::ReadSourceSchema(config.Resolve(batch.path)));
  for (const auto& field : schema->fields()) {
    auto type = FromArrowType(*field->type());
    if (!type.ok()) continue;  // OfflineRows reports it
    columns->emplace(field->name(), *type);
    auto mapped = batch.field_mapping.find(field->name());
    if (mapped != batch.field_mapping.end()) columns->emplace(mapped->second, *type);
  }
  return Status::OK();
}

Result<EncodedRows> EncodeRows(const registry::Definitions& definitions,
                               const registry::FeatureView& view, const arrow::Table& df,
                               const EventTimeBounds& bounds) {
  const registry::DataSource* source = definitions.BatchSourceOf(view);
  if (source == nullptr) return Status::Invalid("feature view '", view.name, "' has no source");
  const int64_t rows = df.num_rows();
  std::vector<std::shared_ptr<arrow::Array>> keys;
  for (const std::string& entity_name : view.entities) {
    const registry::Entity* entity = definitions.FindEntity(entity_name);
    ARROW_ASSIGN_OR_RAISE(auto column,
                          RequiredColumn(df, entity->join_key, KeyType(entity->value_type), "key"));
    keys.push_back(std::move(column));
  }
  ARROW_ASSIGN_OR_RAISE(auto times, TimeColumn(df, source->timestamp_field, true, bounds));
  std::vector<int64_t> created_times(rows, INT64_MIN);
  if (!source->created_timestamp_column.empty() &&
      df.GetColumnByName(source->created_timestamp_column) != nullptr) {
    ARROW_ASSIGN_OR_RAISE(auto created,
                          TimeColumn(df, source->created_timestamp_column, false, bounds));
    const auto& array = static_cast<const arrow::TimestampArray&>(*created);
    for (int64_t i = 0; i < rows; ++i) {
      if (array.IsValid(i)) created_times[i] = array.Value(i);
    }
  }
  std::vector<std::shared_ptr<arrow::Array>> features;
  std::vector<FeatureType> schema;
  for (const registry::Field& field : view.features) {
    std::shared_ptr<arrow::Array> column;
    if (field.dtype.kind == ScalarKind::kJson) {  // documents: structs, maps or JSON text
      ARROW_ASSIGN_OR_RAISE(column, ColumnAs(df, field.name, nullptr));
      auto documents = engine::ReadAsFeature(column, field.dtype);
      if (!documents.ok()) {
        return Status::Invalid("df.", field.name, " (", column->type()->ToString(),
                               ") cannot be read as Json: ", documents.status().message());
      }
      column = *documents;
    } else {
      ARROW_ASSIGN_OR_RAISE(column, ColumnAs(df, field.name, ToArrowType(field.dtype)));
    }
    features.push_back(std::move(column));
    schema.push_back(field.dtype);
  }
  EncodedRows encoded{&view, {}, {}};
  std::vector<uint8_t> valid;
  ARROW_RETURN_NOT_OK(EncodeEntityKeys(keys, rows, &encoded.keys, &valid));
  ARROW_RETURN_NOT_OK(online::EncodeFeatureRows(
      features, schema, static_cast<const arrow::TimestampArray&>(*times).raw_values(),
      created_times.data(), rows, &encoded.values));
  return encoded;
}

Result<online::WriteResult> WriteToOnlineStore(const registry::Definitions& definitions,
                                               const std::string& view_name, const arrow::Table& df,
                                               const EventTimeBounds& bounds,
                                               online::OnlineStore* store) {
  const registry::FeatureView* view = definitions.FindFeatureView(view_name);
  if (view == nullptr) return Status::KeyError("unknown feature view '", view_name, "'");
  if (df.num_rows() == 0) return online::WriteResult{};
  ARROW_ASSIGN_OR_RAISE(auto encoded, EncodeRows(definitions, *view, df, bounds));
  ARROW_ASSIGN_OR_RAISE(auto result, store->Write(view->name, encoded.keys, encoded.values));
  ARROW_RETURN_NOT_OK(store->Sync());
  return result;
}

Result<PushTargets> ParsePushTargets(const std::string& to) {
  if (to == "online") return PushTargets{true, false};
  if (to == "offline") return PushTargets{false, true};
  if (to == "online_and_offline" || to == "both") return PushTargets{true, true};
  return Status::Invalid("\"to\" must be online, offline or online_and_offline, not '", to, "'");
}

namespace {

// The rows of `df` in the batch source's schema: each column found under its source name or
// its mapped (feature) name and converted to the file's type.
Result<std::shared_ptr<arrow::Table>> OfflineRows(const registry::RepoConfig& config,
                                                  const registry::DataSource& batch,
                                                  const arrow::Table& df) {
  ARROW_ASSIGN_OR_RAISE(auto schema, registry::ReadSourceSchema(config.Resolve(batch.path)));
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (const auto& field : schema->fields()) {
    if (!FromArrowType(*field->type()).ok()) {
      return Status::Invalid("batch source column '", field->name(), "' has type ",
                             field->type()->ToString(), ", which push cannot write");
    }
    auto mapped = batch.field_mapping.find(field->name());
    std::string name =
        df.GetColumnByName(field->name()) != nullptr || mapped == batch.field_mapping.end()
            ? field->name()
            : mapped->second;
    ARROW_ASSIGN_OR_RAISE(auto column, ColumnAs(df, name, field->type()));
    columns.push_back(std::move(column));
  }
  return arrow::Table::Make(schema, columns, df.num_rows());
}

// What every row bound for a push source's batch dataset or its stream pipeline needs, checked
// on those rows (in the batch source's column names): an event time within the bounds, a
// created time within them when given, and the join key of every view reading the source.
Status CheckEventRows(const registry::Definitions& definitions, const std::string& source_name,
                      const registry::DataSource& batch, const arrow::Table& rows,
                      const EventTimeBounds& bounds) {
  ARROW_RETURN_NOT_OK(TimeColumn(rows, batch.timestamp_field, true, bounds).status());
  if (!batch.created_timestamp_column.empty()) {
    ARROW_RETURN_NOT_OK(TimeColumn(rows, batch.created_timestamp_column, false, bounds).status());
  }
  for (const auto& view : definitions.feature_views) {
    if (view.source != source_name) continue;
    for (const std::string& entity_name : view.entities) {
      const registry::Entity* entity = definitions.FindEntity(entity_name);
      if (entity == nullptr) continue;
      const std::string column = batch.ColumnFor(entity->join_key);
      if (auto keys = rows.GetColumnByName(column)) {
        for (const auto& chunk : keys->chunks()) {
          ARROW_RETURN_NOT_OK(CheckNoNulls(*chunk, column, "key"));
        }
      }
    }
  }
  return Status::OK();
}

constexpr std::string_view kPushKeysMetadata = "headwater.push_keys";
constexpr size_t kKeptPushKeys = 1000;

std::vector<std::string> SplitDigests(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t end = std::min(text.find(' '), text.size());
    if (end > 0) out.emplace_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return out;
}

// Appends `table` (in the batch source's columns) to the batch source and names the file it wrote.
// With an idempotency key, an append the source already holds is not made again: the key's
// digest is in the appended file's name, or in a single file's metadata (ingest/idempotency.h).
Result<std::string> AppendToBatchSource(const registry::RepoConfig& config,
                                        const registry::DataSource& batch,
                                        const arrow::Table& table, const Clock& clock,
                                        std::string_view idempotency_key) {
  const std::filesystem::path path = config.Resolve(batch.path);
  const std::string digest = idempotency_key.empty() ? "" : KeyDigest(idempotency_key);
  // On S3, a dataset is a prefix of part files (an empty prefix does not exist until the first
  // part), and a single object is not rewritten per push: no request needed to tell which.
  const bool object = storage::IsObjectUri(path);
  if (object && path.extension() == ".parquet") {
    return Status::Invalid("cannot append to ", path.string(),
                           ": on S3 a pushed dataset is a prefix of Parquet parts, not one object");
  }
  std::error_code error;
  if (object || std::filesystem::is_directory(path, error)) {
    if (!digest.empty()) {
      const std::string suffix = "-k" + digest + ".parquet";
      ARROW_ASSIGN_OR_RAISE(auto files, ListDirectory(path));
      for (const auto& file : files) {
        if (file.filename().string().ends_with(suffix)) return file.filename().string();
      }
    }
    // Appended files sort after earlier appends (name order is read order).
    static std::atomic<int64_t> sequence{0};
    std::string name = fmt::format("push-{:020d}-{:06d}-{}{}.parquet", clock.Now().micros,
                                   sequence.fetch_add(1) % 1000000, ::getpid(),
                                   digest.empty() ? "" : "-k" + digest);
    ARROW_RETURN_NOT_OK(offline::WriteTableFile(table, path / name));
    return name;
  }
  // A single file (Feast's template): rewritten with the rows appended, under a lock so two
  // appends cannot lose each other's rows, through the one atomic write so readers see the old
  // file or the new one.
  ARROW_ASSIGN_OR_RAISE(auto lock, registry::RegistryLock::Acquire(path));
  ARROW_ASSIGN_OR_RAISE(auto existing, offline::ReadTableFile(path));
  std::vector<std::string> digests;  // the keys of the last appends, oldest first
  if (auto metadata = existing->schema()->metadata()) {
    auto kept = metadata->Get(kPushKeysMetadata);
    if (kept.ok()) digests = SplitDigests(*kept);
  }
  if (!digest.empty()) {
    if (std::find(digests.begin(), digests.end(), digest) != digests.end()) {
      return path.filename().string();
    }
    digests.push_back(digest);
    if (digests.size() > kKeptPushKeys) digests.erase(digests.begin());
  }
  arrow::ConcatenateTablesOptions unify;
  unify.unify_schemas = true;
  ARROW_ASSIGN_OR_RAISE(
      auto appended,
      arrow::ConcatenateTables(
          {existing->ReplaceSchemaMetadata(nullptr), table.ReplaceSchemaMetadata(nullptr)}, unify));
  if (!digests.empty()) {
    std::string joined;
    for (const std::string& d : digests) joined += (joined.empty() ? "" : " ") + d;
    appended = appended->ReplaceSchemaMetadata(
        arrow::key_value_metadata({std::string(kPushKeysMetadata)}, {joined}));
  }
  ARROW_RETURN_NOT_OK(offline::WriteTableFile(*appended, path));
  return path.filename().string();
}

}  // namespace

Result<std::string> WriteToOfflineStore(const registry::RepoConfig& config,
                                        const registry::Definitions& definitions,
                                        const std::string& view_name, const arrow::Table& df,
                                        const Clock& clock) {
  const registry::FeatureView* view = definitions.FindFeatureView(view_name);
  if (view == nullptr) {
    return NotFound(Missing::kFeatureView, "unknown feature view '", view_name, "'");
  }
  const registry::DataSource* batch = definitions.FindSource(view->source);
  if (batch != nullptr && !batch->batch_source.empty()) {
    batch = definitions.FindSource(batch->batch_source);  // a push or Kafka source's dataset
  }
  if (batch == nullptr || batch->path.empty()) {
    return Status::Invalid("feature view '", view_name, "' has no offline dataset to write to");
  }
  if (df.num_rows() == 0) return std::string();
  ARROW_ASSIGN_OR_RAISE(auto table, OfflineRows(config, *batch, df));
  ARROW_RETURN_NOT_OK(CheckEventRows(definitions, view->source, *batch, *table,
                                     EventTimeBounds::At(config, clock.Now())));
  return AppendToBatchSource(config, *batch, *table, clock, {});
}

Result<PushResult> Push(const registry::RepoConfig& config,
                        const registry::Definitions& definitions, const std::string& source_name,
                        const arrow::Table& df, PushTargets to, online::OnlineStore* store,
                        SourcePipeline* pipeline, const Clock& clock,
                        std::string_view idempotency_key) {
  const registry::DataSource* source = definitions.FindSource(source_name);
  if (source == nullptr || source->type != registry::SourceType::kPush) {
    return Status::KeyError("unknown push source '", source_name, "'");
  }
  if (!to.online && !to.offline) return Status::Invalid("push to neither online nor offline");
  const registry::DataSource* batch = definitions.FindSource(source->batch_source);
  PushResult result;
  result.rows = df.num_rows();
  if (df.num_rows() == 0) return result;

  // Everything is checked and encoded before anything is written.
  const EventTimeBounds bounds = EventTimeBounds::At(config, clock.Now());
  std::shared_ptr<arrow::Table> table;
  if (to.offline || (to.online && pipeline != nullptr)) {
    ARROW_ASSIGN_OR_RAISE(table, OfflineRows(config, *batch, df));
    ARROW_RETURN_NOT_OK(CheckEventRows(definitions, source_name, *batch, *table, bounds));
  }
  std::shared_ptr<arrow::RecordBatch> events;
  if (to.online && pipeline != nullptr) {
    ARROW_ASSIGN_OR_RAISE(events, table->CombineChunksToBatch());
    ARROW_RETURN_NOT_OK(pipeline->Check(*events));
  }
  std::vector<EncodedRows> encoded;
  if (to.online) {
    for (const auto& view : definitions.feature_views) {
      if (view.source != source_name || !view.online || view.is_stream()) continue;
      ARROW_ASSIGN_OR_RAISE(auto rows, EncodeRows(definitions, view, df, bounds));
      encoded.push_back(std::move(rows));
    }
  }

  if (to.offline) {
    ARROW_ASSIGN_OR_RAISE(result.offline_file,
                          AppendToBatchSource(config, *batch, *table, clock, idempotency_key));
  }
  for (const EncodedRows& rows : encoded) {
    ARROW_ASSIGN_OR_RAISE(auto written, store->Write(rows.view->name, rows.keys, rows.values));
    result.online_views.push_back(rows.view->name);
    result.written += written.written;
  }
  if (!encoded.empty()) ARROW_RETURN_NOT_OK(store->Sync());
  if (events != nullptr) {
    ARROW_RETURN_NOT_OK(pipeline->Push(*events, idempotency_key));
    for (const std::string& view : pipeline->views()) result.online_views.push_back(view);
  }
  return result;
}

}  // namespace headwater::ingest
