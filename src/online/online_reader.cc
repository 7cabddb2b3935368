#include "headwater/online/online_reader.h"

#include <arrow/api.h>
#include <arrow/compute/cast.h>
#include <rapidjson/document.h>

#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/online/feature_row_codec.h"
#include "headwater/registry/feature_reference.h"

namespace headwater::online {
namespace {

constexpr const char* kEpoch = "1970-01-01T00:00:00Z";

// One join-key column of the request, in request order.
struct EntityColumn {
  std::string join_key;
  const rapidjson::Value* values;
};

void WriteEntityValue(const rapidjson::Value& value, JsonWriter* writer) {
  if (value.IsInt64()) {
    writer->Int(value.GetInt64());
  } else {
    writer->String(std::string_view(value.GetString(), value.GetStringLength()));
  }
}

enum class FeatureStatus { kPresent, kNullValue, kNotFound, kOutsideMaxAge };

const char* StatusName(FeatureStatus status) {
  switch (status) {
    case FeatureStatus::kPresent:
      return "PRESENT";
    case FeatureStatus::kNullValue:
      return "NULL_VALUE";
    case FeatureStatus::kNotFound:
      return "NOT_FOUND";
    case FeatureStatus::kOutsideMaxAge:
      return "OUTSIDE_MAX_AGE";
  }
  return "";
}

// The stored rows of views.size() * num_rows keys (view-major), opened for reading.
struct StoredRows {
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  std::vector<FeatureRowReader> rows;

  FeatureStatus StatusOf(size_t i, const OnlineCatalog::Feature& feature, Timestamp now) const {
    if (!found[i]) return FeatureStatus::kNotFound;
    const int64_t ttl = feature.view->ttl.micros;
    if (ttl > 0 && rows[i].event_time().micros < now.micros - ttl) {
      return FeatureStatus::kOutsideMaxAge;
    }
    return rows[i].IsNull(feature.index) ? FeatureStatus::kNullValue : FeatureStatus::kPresent;
  }
};

// Reads every key with one store call.
Result<StoredRows> ReadStoredRows(OnlineStore* store,
                                  const std::vector<const OnlineCatalog::View*>& views,
                                  const std::vector<ReadKey>& reads, size_t num_rows) {
  StoredRows stored;
  ARROW_RETURN_NOT_OK(store->Read(reads, &stored.values, &stored.found));
  stored.rows.resize(reads.size());
  for (size_t i = 0; i < reads.size(); ++i) {
    if (!stored.found[i]) continue;
    const OnlineCatalog::View& view = *views[i / num_rows];
    Status opened = stored.rows[i].Open(stored.values[i], view.schema);
    if (!opened.ok()) {
      return Status::IOError("the online value of a key in feature view '", view.name,
                             "' is unreadable (", opened.message(),
                             "); run `headwater materialize` for it again");
    }
  }
  return stored;
}

// The distinct views of `features`, in first-requested order.
std::vector<const OnlineCatalog::View*> ViewsOf(
    const std::vector<OnlineCatalog::Feature>& features) {
  std::vector<const OnlineCatalog::View*> views;
  for (const auto& feature : features) {
    if (std::find(views.begin(), views.end(), feature.view) == views.end())
      views.push_back(feature.view);
  }
  return views;
}

}  // namespace

std::string DescribeJson(const rapidjson::Value& value) {
  if (value.IsString()) {
    return "the string \"" + std::string(value.GetString()).substr(0, 40) + "\"";
  }
  if (value.IsNull()) return "null";
  if (value.IsBool()) return "a boolean";
  if (value.IsNumber()) return value.IsInt64() ? "an integer" : "a non-integer number";
  return value.IsArray() ? "an array" : "an object";
}

Result<std::shared_ptr<const OnlineCatalog>> OnlineCatalog::Make(
    const registry::Definitions& definitions) {
  auto catalog = std::make_shared<OnlineCatalog>();
  for (const registry::FeatureView& definition : definitions.feature_views) {
    View view;
    view.name = definition.name;
    view.ttl = definition.ttl;
    for (size_t f = 0; f < definition.features.size(); ++f) {
      view.schema.push_back(definition.features[f].dtype);
      view.feature_index[definition.features[f].name] = f;
    }
    for (const std::string& entity_name : definition.entities) {
      const registry::Entity* entity = definitions.FindEntity(entity_name);
      if (entity == nullptr) return Status::Invalid("unknown entity '", entity_name, "'");
      view.join_keys.push_back(entity->join_key);
      view.key_kinds.push_back(entity->value_type);
    }
    catalog->views_[view.name] = std::move(view);
  }
  for (const registry::FeatureService& service : definitions.feature_services) {
    ARROW_ASSIGN_OR_RAISE(auto projections,
                          registry::ResolveFeatureService(definitions, service.name));
    auto& references = catalog->services_[service.name];
    for (const auto& projection : projections) {
      for (const auto& feature : projection.features)
        references.push_back(projection.view + ":" + feature);
    }
  }
  return std::shared_ptr<const OnlineCatalog>(std::move(catalog));
}

const OnlineCatalog::View* OnlineCatalog::FindView(std::string_view name) const {
  auto it = views_.find(std::string(name));
  return it == views_.end() ? nullptr : &it->second;
}

Result<std::vector<OnlineCatalog::Feature>> OnlineCatalog::ResolveReferences(
    const std::vector<std::string>& references) const {
  if (references.empty()) return Status::Invalid("no features requested");
  std::vector<Feature> features;
  for (const std::string& reference : references) {
    ARROW_ASSIGN_OR_RAISE(auto parts, registry::SplitFeatureReference(reference));
    const View* view = FindView(parts.view);
    if (view == nullptr) {
      return Status::KeyError("feature reference '", reference, "': unknown feature view '",
                              parts.view, "'");
    }
    std::string name = std::move(parts.feature);
    auto index = view->feature_index.find(name);
    if (index == view->feature_index.end()) {
      return Status::KeyError("feature reference '", reference, "': feature view '", view->name,
                              "' has no feature '", name, "'");
    }
    features.push_back({view, index->second, std::move(name)});
  }
  return features;
}

Result<std::vector<OnlineCatalog::Feature>> OnlineCatalog::ResolveService(
    const std::string& name) const {
  auto it = services_.find(name);
  if (it == services_.end()) return Status::KeyError("unknown feature service '", name, "'");
  return ResolveReferences(it->second);
}

Result<std::string> GetOnlineFeatures(const OnlineCatalog& catalog, OnlineStore* store,
                                      const OnlineRequest& request, Timestamp now) {
  std::vector<OnlineCatalog::Feature> features;
  if (!request.feature_service.empty()) {
    ARROW_ASSIGN_OR_RAISE(features, catalog.ResolveService(request.feature_service));
  } else {
    ARROW_ASSIGN_OR_RAISE(features, catalog.ResolveReferences(request.features));
  }
  rapidjson::Document document;
  ARROW_RETURN_NOT_OK(ParseJson(request.entities_json, "the entities", &document));
  return GetOnlineFeatures(store, features, document, request.full_feature_names, now);
}

Result<std::string> GetOnlineFeatures(OnlineStore* store,
                                      const std::vector<OnlineCatalog::Feature>& features,
                                      const rapidjson::Value& document, bool full_feature_names,
                                      Timestamp now) {
  if (features.empty()) return Status::Invalid("no features requested");
  if (!document.IsObject() || document.MemberCount() == 0) {
    return Status::Invalid(
        "entities must be a JSON object of join key -> list of values, "
        "e.g. {\"driver_id\": [1001, 1002]}");
  }
  std::vector<EntityColumn> columns;
  size_t num_rows = 0;
  for (const auto& member : document.GetObject()) {
    std::string key(member.name.GetString(), member.name.GetStringLength());
    if (!member.value.IsArray()) {
      return Status::Invalid("entities.", key, " must be a list of values, not ",
                             DescribeJson(member.value));
    }
    size_t rows = member.value.Size();
    if (rows == 0) return Status::Invalid("entities.", key, " is empty");
    if (rows > kMaxEntityRows) {
      return Status::Invalid("entities.", key, " has ", rows, " values; at most ", kMaxEntityRows,
                             " entity rows per request");
    }
    if (!columns.empty() && rows != num_rows) {
      return Status::Invalid("entities.", key, " has ", rows, " values but entities.",
                             columns[0].join_key, " has ", num_rows);
    }
    num_rows = rows;
    columns.push_back({std::move(key), &member.value});
  }
  auto find_column = [&](const std::string& join_key) -> const EntityColumn* {
    for (const EntityColumn& column : columns) {
      if (column.join_key == join_key) return &column;
    }
    return nullptr;
  };

  // Encode the keys of each requested view, checking each value against its entity's type.
  std::vector<const OnlineCatalog::View*> views = ViewsOf(features);
  std::vector<std::string> keys(views.size() * num_rows);
  for (size_t v = 0; v < views.size(); ++v) {
    const OnlineCatalog::View& view = *views[v];
    std::vector<const EntityColumn*> view_columns;
    for (const std::string& join_key : view.join_keys) {
      const EntityColumn* column = find_column(join_key);
      if (column == nullptr) {
        return Status::Invalid("entities lack join key '", join_key, "' needed by feature view '",
                               view.name, "'");
      }
      view_columns.push_back(column);
    }
    std::vector<EntityKeyPart> parts(view_columns.size());
    for (size_t row = 0; row < num_rows; ++row) {
      for (size_t k = 0; k < view_columns.size(); ++k) {
        const rapidjson::Value& value =
            (*view_columns[k]->values)[static_cast<rapidjson::SizeType>(row)];
        const ScalarKind kind = view.key_kinds[k];
        if (kind == ScalarKind::kInt32 || kind == ScalarKind::kInt64) {
          if (!value.IsInt64()) {
            return Status::Invalid("entities.", view_columns[k]->join_key, "[", row,
                                   "]: expected an integer, got ", DescribeJson(value));
          }
          parts[k] = {EntityKeyPart::Kind::kInt, value.GetInt64(), {}};
        } else {
          if (!value.IsString()) {
            return Status::Invalid("entities.", view_columns[k]->join_key, "[", row,
                                   "]: expected a string, got ", DescribeJson(value));
          }
          parts[k] = {kind == ScalarKind::kString ? EntityKeyPart::Kind::kString
                                                  : EntityKeyPart::Kind::kBytes,
                      0, std::string(value.GetString(), value.GetStringLength())};
        }
      }
      AppendEntityKey(parts, &keys[v * num_rows + row]);
    }
  }
  std::vector<ReadKey> reads(keys.size());
  for (size_t v = 0; v < views.size(); ++v) {
    for (size_t row = 0; row < num_rows; ++row)
      reads[v * num_rows + row] = {views[v]->name, keys[v * num_rows + row]};
  }
  ARROW_ASSIGN_OR_RAISE(StoredRows stored, ReadStoredRows(store, views, reads, num_rows));
  const std::vector<FeatureRowReader>& rows = stored.rows;
  const std::vector<uint8_t>& found = stored.found;

  JsonWriter out;
  // About 48 bytes a cell (value, status, timestamp): one allocation for the whole response.
  out.Reserve(256 + num_rows * (columns.size() + features.size()) * 48);
  out.BeginObject().Key("metadata").BeginObject().Key("feature_names").BeginArray();
  for (const EntityColumn& column : columns) out.String(column.join_key);
  for (const auto& feature : features) {
    out.String(registry::FeatureColumnName(feature.view->name, feature.name, full_feature_names));
  }
  out.EndArray().EndObject().Key("results").BeginArray();
  for (const EntityColumn& column : columns) {
    out.BeginObject().Key("values").BeginArray();
    for (const auto& value : column.values->GetArray()) {
      if (value.IsInt64() || value.IsString()) {
        WriteEntityValue(value, &out);
      } else {
        out.Null();
      }
    }
    out.EndArray().Key("statuses").BeginArray();
    for (size_t row = 0; row < num_rows; ++row) out.String("PRESENT");
    out.EndArray().Key("event_timestamps").BeginArray();
    for (size_t row = 0; row < num_rows; ++row) out.String(kEpoch);
    out.EndArray().EndObject();
  }
  // Every feature of a row shares its event time: format each once.
  std::vector<std::string> row_times(reads.size());
  for (size_t i = 0; i < reads.size(); ++i) {
    row_times[i] = found[i] ? FormatTimestamp(rows[i].event_time()) : kEpoch;
  }
  for (const auto& feature : features) {
    const size_t v = std::find(views.begin(), views.end(), feature.view) - views.begin();
    auto status_of = [&](size_t i) { return StatusName(stored.StatusOf(i, feature, now)); };
    out.BeginObject().Key("values").BeginArray();
    for (size_t row = 0; row < num_rows; ++row) {
      size_t i = v * num_rows + row;
      if (std::string_view(status_of(i)) == "PRESENT") {
        rows[i].WriteJson(feature.index, &out);
      } else {
        out.Null();
      }
    }
    out.EndArray().Key("statuses").BeginArray();
    for (size_t row = 0; row < num_rows; ++row) out.String(status_of(v * num_rows + row));
    out.EndArray().Key("event_timestamps").BeginArray();
    for (size_t row = 0; row < num_rows; ++row) out.String(row_times[v * num_rows + row]);
    out.EndArray().EndObject();
  }
  out.EndArray().EndObject();
  return out.Take();
}

Result<std::shared_ptr<arrow::RecordBatch>> ReadOnlineFeatures(
    OnlineStore* store, const std::vector<OnlineCatalog::Feature>& features,
    const arrow::RecordBatch& entities, bool full_feature_names, Timestamp now) {
  if (features.empty()) return Status::Invalid("no features requested");
  const int64_t num_rows = entities.num_rows();
  std::vector<const OnlineCatalog::View*> views = ViewsOf(features);
  // Encode each view's keys from the entity columns; rows with a null key part are not read.
  std::vector<ByteRows> keys(views.size());
  std::vector<ReadKey> reads(views.size() * num_rows);
  for (size_t v = 0; v < views.size(); ++v) {
    const OnlineCatalog::View& view = *views[v];
    std::vector<std::shared_ptr<arrow::Array>> columns;
    for (size_t k = 0; k < view.join_keys.size(); ++k) {
      const std::string& join_key = view.join_keys[k];
      std::shared_ptr<arrow::Array> column = entities.GetColumnByName(join_key);
      if (column == nullptr) {
        return Status::Invalid("entities lack join key '", join_key, "' needed by feature view '",
                               view.name, "'");
      }
      auto type = FromArrowType(*column->type());
      if (!type.ok() || type->is_array || !KeyKindsCompatible(type->kind, view.key_kinds[k])) {
        return Status::Invalid("entities.", join_key, " has type ", column->type()->ToString(),
                               "; feature view '", view.name, "' needs ",
                               FormatFeatureType({view.key_kinds[k], false}), " keys");
      }
      if (type->kind == ScalarKind::kInt32 || type->kind == ScalarKind::kInt64) {
        ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*column, arrow::int64()));
        column = std::move(cast);
      }
      columns.push_back(std::move(column));
    }
    std::vector<uint8_t> valid;
    ARROW_RETURN_NOT_OK(EncodeEntityKeys(columns, num_rows, &keys[v], &valid));
    for (int64_t row = 0; row < num_rows; ++row) {
      // An empty key is never stored (keys start with a version byte): a null key reads nothing.
      reads[v * num_rows + row] = {view.name, valid[row] ? keys[v][row] : std::string_view()};
    }
  }
  ARROW_ASSIGN_OR_RAISE(StoredRows stored, ReadStoredRows(store, views, reads, num_rows));

  arrow::FieldVector fields = entities.schema()->fields();
  arrow::ArrayVector arrays = entities.columns();
  for (const auto& feature : features) {
    const size_t v = std::find(views.begin(), views.end(), feature.view) - views.begin();
    auto type = ToArrowType(feature.view->schema[feature.index]);
    std::unique_ptr<arrow::ArrayBuilder> builder;
    ARROW_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), type, &builder));
    ARROW_RETURN_NOT_OK(builder->Reserve(num_rows));
    for (int64_t row = 0; row < num_rows; ++row) {
      const size_t i = v * num_rows + row;
      if (stored.StatusOf(i, feature, now) == FeatureStatus::kPresent) {
        ARROW_RETURN_NOT_OK(stored.rows[i].Append(feature.index, builder.get()));
      } else {
        ARROW_RETURN_NOT_OK(builder->AppendNull());
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto array, builder->Finish());
    fields.push_back(arrow::field(
        registry::FeatureColumnName(feature.view->name, feature.name, full_feature_names), type));
    arrays.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), num_rows, std::move(arrays));
}

}  // namespace headwater::online
