#include "headwater/online/online_reader.h"

#include <arrow/api.h>

#include <algorithm>
#include <chrono>

#include "headwater/core/entity_key.h"
#include "headwater/online/feature_row_codec.h"
#include "headwater/registry/feature_reference.h"

namespace headwater::online {
std::string_view FeatureStatusName(FeatureStatus status) {
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

namespace {

bool KeyFits(const EntityColumn& column, ScalarKind key) {
  switch (column.kind) {
    case EntityColumn::Kind::kInt:
      return key == ScalarKind::kInt32 || key == ScalarKind::kInt64;
    case EntityColumn::Kind::kString:
      return key == ScalarKind::kString;
    case EntityColumn::Kind::kBytes:
      return key == ScalarKind::kBytes;
    case EntityColumn::Kind::kOther:
      break;
  }
  return false;
}

std::string KindName(const EntityColumn& column) {
  switch (column.kind) {
    case EntityColumn::Kind::kInt:
      return "int64";
    case EntityColumn::Kind::kString:
      return "string";
    case EntityColumn::Kind::kBytes:
      return "binary";
    case EntityColumn::Kind::kOther:
      break;
  }
  return column.other_type;
}

template <typename ArrayType>
void ViewStrings(const arrow::Array& array, EntityColumn* column) {
  const auto& typed = static_cast<const ArrayType&>(array);
  column->strings.reserve(static_cast<size_t>(array.length()));
  for (int64_t row = 0; row < array.length(); ++row) column->strings.push_back(typed.GetView(row));
}

template <typename ArrayType>
void WidenIntegers(const arrow::Array& array, EntityColumn* column) {
  const auto* values = static_cast<const ArrayType&>(array).raw_values();
  column->ints.assign(values, values + array.length());
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

const EntityColumn* EntityRows::Find(std::string_view name) const {
  for (const EntityColumn& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

EntityRows EntityRowsFromArrow(const arrow::RecordBatch& batch) {
  EntityRows rows;
  rows.num_rows = batch.num_rows();
  for (int c = 0; c < batch.num_columns(); ++c) {
    const arrow::Array& array = *batch.column(c);
    EntityColumn& column = rows.columns.emplace_back();
    column.name = batch.schema()->field(c)->name();
    switch (array.type_id()) {
      case arrow::Type::INT64:
        column.kind = EntityColumn::Kind::kInt;
        WidenIntegers<arrow::Int64Array>(array, &column);
        break;
      case arrow::Type::INT32:
        column.kind = EntityColumn::Kind::kInt;
        WidenIntegers<arrow::Int32Array>(array, &column);
        break;
      case arrow::Type::STRING:
        column.kind = EntityColumn::Kind::kString;
        ViewStrings<arrow::StringArray>(array, &column);
        break;
      case arrow::Type::LARGE_STRING:
        column.kind = EntityColumn::Kind::kString;
        ViewStrings<arrow::LargeStringArray>(array, &column);
        break;
      case arrow::Type::BINARY:
        column.kind = EntityColumn::Kind::kBytes;
        ViewStrings<arrow::BinaryArray>(array, &column);
        break;
      case arrow::Type::LARGE_BINARY:
        column.kind = EntityColumn::Kind::kBytes;
        ViewStrings<arrow::LargeBinaryArray>(array, &column);
        break;
      default:
        column.other_type = array.type()->ToString();
        break;
    }
    if (column.kind != EntityColumn::Kind::kOther && array.null_count() > 0) {
      column.valid.resize(static_cast<size_t>(array.length()));
      for (int64_t row = 0; row < array.length(); ++row) {
        column.valid[static_cast<size_t>(row)] = array.IsValid(row) ? 1 : 0;
      }
    }
  }
  return rows;
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
  auto it = views_.find(name);
  return it == views_.end() ? nullptr : &it->second;
}

Result<std::vector<OnlineCatalog::Feature>> OnlineCatalog::ResolveReferences(
    const std::vector<std::string>& references) const {
  if (references.empty()) return Status::Invalid("no features requested");
  std::vector<Feature> features;
  features.reserve(references.size());
  for (const std::string& reference : references) {
    ARROW_ASSIGN_OR_RAISE(auto parts, registry::SplitFeatureReference(reference));
    const View* view = FindView(parts.view);
    if (view == nullptr) {
      return Status::KeyError("feature reference '", reference, "': unknown feature view '",
                              parts.view, "'");
    }
    auto index = view->feature_index.find(parts.feature);
    if (index == view->feature_index.end()) {
      return Status::KeyError("feature reference '", reference, "': feature view '", view->name,
                              "' has no feature '", parts.feature, "'");
    }
    features.push_back({view, index->second, index->first});
  }
  return features;
}

Result<std::vector<OnlineCatalog::Feature>> OnlineCatalog::ResolveService(
    const std::string& name) const {
  auto it = services_.find(name);
  if (it == services_.end()) return Status::KeyError("unknown feature service '", name, "'");
  return ResolveReferences(it->second);
}

FeatureStatus OnlineFeatures::status(size_t feature, int64_t row) const {
  const size_t i = Slot(feature, row);
  if (!found_[i]) return FeatureStatus::kNotFound;
  const int64_t ttl = features_[feature].view->ttl.micros;
  if (ttl > 0 && rows_[i].event_time().micros < now_.micros - ttl) {
    return FeatureStatus::kOutsideMaxAge;
  }
  return rows_[i].IsNull(features_[feature].index) ? FeatureStatus::kNullValue
                                                   : FeatureStatus::kPresent;
}

Timestamp OnlineFeatures::event_time(size_t feature, int64_t row) const {
  const size_t i = Slot(feature, row);
  return found_[i] ? rows_[i].event_time() : Timestamp{0};
}

void OnlineFeatures::Visit(size_t feature, int64_t row, ValueVisitor* visitor) const {
  if (status(feature, row) != FeatureStatus::kPresent) {
    visitor->Null();
    return;
  }
  rows_[Slot(feature, row)].Visit(features_[feature].index, visitor);
}

Result<std::shared_ptr<arrow::RecordBatch>> OnlineFeatures::ToArrow(
    const arrow::RecordBatch& entities) const {
  arrow::FieldVector fields = entities.schema()->fields();
  arrow::ArrayVector arrays = entities.columns();
  for (size_t f = 0; f < features_.size(); ++f) {
    const OnlineCatalog::Feature& feature = features_[f];
    auto type = ToArrowType(feature.view->schema[feature.index]);
    std::unique_ptr<arrow::ArrayBuilder> builder;
    ARROW_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), type, &builder));
    ARROW_RETURN_NOT_OK(builder->Reserve(num_rows_));
    for (int64_t row = 0; row < num_rows_; ++row) {
      if (status(f, row) == FeatureStatus::kPresent) {
        ARROW_RETURN_NOT_OK(rows_[Slot(f, row)].Append(feature.index, builder.get()));
      } else {
        ARROW_RETURN_NOT_OK(builder->AppendNull());
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto array, builder->Finish());
    fields.push_back(arrow::field(names_[f], type));
    arrays.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), num_rows_, std::move(arrays));
}

Result<OnlineFeatures> ReadOnlineFeatures(OnlineStore* store,
                                          const std::vector<OnlineCatalog::Feature>& features,
                                          const EntityRows& entities, bool full_feature_names,
                                          Timestamp now) {
  if (features.empty()) return Status::Invalid("no features requested");
  const int64_t num_rows = entities.num_rows;
  const auto rows = static_cast<size_t>(num_rows);
  std::vector<const OnlineCatalog::View*> views = ViewsOf(features);
  // Each view's keys, encoded from its join-key columns; rows with a null key part read nothing
  // (an empty key is never stored: keys start with a version byte).
  std::vector<ByteRows> keys(views.size());
  std::vector<ReadKey> reads(views.size() * rows);
  std::vector<const EntityColumn*> columns;
  for (size_t v = 0; v < views.size(); ++v) {
    const OnlineCatalog::View& view = *views[v];
    columns.clear();
    for (size_t k = 0; k < view.join_keys.size(); ++k) {
      const std::string& join_key = view.join_keys[k];
      const EntityColumn* column = entities.Find(join_key);
      if (column == nullptr) {
        return Status::Invalid("entities lack join key '", join_key, "' needed by feature view '",
                               view.name, "'");
      }
      if (!KeyFits(*column, view.key_kinds[k])) {
        return Status::Invalid("entities.", join_key, " has type ", KindName(*column),
                               "; feature view '", view.name, "' needs ",
                               FormatFeatureType({view.key_kinds[k], false}), " keys");
      }
      columns.push_back(column);
    }
    ByteRows& encoded = keys[v];
    encoded.data.reserve(rows * 10 * columns.size());
    for (size_t row = 0; row < rows; ++row) {
      encoded.data.push_back(static_cast<char>(kEntityKeyVersion));
      for (const EntityColumn* column : columns) {
        if (column->kind == EntityColumn::Kind::kInt) {
          AppendIntegerKeyPart(column->ints[row], &encoded.data);
        } else {
          AppendBytesKeyPart(column->kind == EntityColumn::Kind::kString ? 's' : 'b',
                             column->strings[row], &encoded.data);
        }
      }
      encoded.FinishRow();
    }
    for (size_t row = 0; row < rows; ++row) {
      const bool valid =
          std::all_of(columns.begin(), columns.end(),
                      [&](const EntityColumn* column) { return column->IsValid(row); });
      reads[v * rows + row] = {view.name, valid ? encoded[row] : std::string_view()};
    }
  }
  OnlineFeatures out;
  out.features_ = features;
  out.num_rows_ = num_rows;
  out.now_ = now;
  for (const auto& feature : features) {
    out.names_.push_back(
        registry::FeatureColumnName(feature.view->name, feature.name, full_feature_names));
    out.view_of_.push_back(
        static_cast<size_t>(std::find(views.begin(), views.end(), feature.view) - views.begin()));
  }
  const auto started = std::chrono::steady_clock::now();
  ARROW_RETURN_NOT_OK(store->Read(reads, &out.values_, &out.found_));
  out.store_read_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out.rows_.resize(reads.size());
  for (size_t i = 0; i < reads.size(); ++i) {
    if (!out.found_[i]) continue;
    const OnlineCatalog::View& view = *views[i / static_cast<size_t>(num_rows)];
    Status opened = out.rows_[i].Open(out.values_[i], view.schema);
    if (!opened.ok()) {
      return Status::IOError("the online value of a key in feature view '", view.name,
                             "' is unreadable (", opened.message(),
                             "); run `headwater materialize` for it again");
    }
  }
  return out;
}

}  // namespace headwater::online
