#include "headwater/online/online_reader.h"

#include <arrow/api.h>
#include <arrow/extension/json.h>

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
    default:
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
    case EntityColumn::Kind::kDouble:
      return "double";
    case EntityColumn::Kind::kBool:
      return "bool";
    case EntityColumn::Kind::kTime:
      return "timestamp";
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

template <typename ArrayType>
void WidenFloats(const arrow::Array& array, EntityColumn* column) {
  const auto* values = static_cast<const ArrayType&>(array).raw_values();
  column->doubles.assign(values, values + array.length());
}

// Arrow timestamps of any unit as microseconds.
void TimesInMicros(const arrow::Array& array, EntityColumn* column) {
  const auto& type = static_cast<const arrow::TimestampType&>(*array.type());
  const int64_t* values = static_cast<const arrow::TimestampArray&>(array).raw_values();
  column->ints.resize(static_cast<size_t>(array.length()));
  for (int64_t row = 0; row < array.length(); ++row) {
    const int64_t v = values[row];
    int64_t& micros = column->ints[static_cast<size_t>(row)];
    switch (type.unit()) {
      case arrow::TimeUnit::SECOND:
        micros = v * 1'000'000;
        break;
      case arrow::TimeUnit::MILLI:
        micros = v * 1'000;
        break;
      case arrow::TimeUnit::MICRO:
        micros = v;
        break;
      case arrow::TimeUnit::NANO:
        micros = v / 1'000 - (v % 1'000 < 0 ? 1 : 0);  // floor
        break;
    }
  }
}

void AddView(const OnlineCatalog::View* view, std::vector<const OnlineCatalog::View*>* views) {
  if (std::find(views->begin(), views->end(), view) == views->end()) views->push_back(view);
}

// The distinct views the features are read from — their own, and the sources of on-demand
// ones — in first-requested order.
std::vector<const OnlineCatalog::View*> ViewsOf(
    const std::vector<OnlineCatalog::Feature>& features) {
  std::vector<const OnlineCatalog::View*> views;
  for (const auto& feature : features) {
    if (feature.on_demand == nullptr) {
      AddView(feature.view, &views);
      continue;
    }
    for (const auto* view : feature.on_demand->source_views) AddView(view, &views);
  }
  return views;
}

// A stored feature's status.
FeatureStatus StoredStatus(const FeatureRowReader& row, bool found, const OnlineCatalog::View& view,
                           size_t index, Timestamp now) {
  if (!found) return FeatureStatus::kNotFound;
  const int64_t ttl = view.ttl.micros;
  if (ttl > 0 && row.event_time().micros < now.micros - ttl) return FeatureStatus::kOutsideMaxAge;
  return row.IsNull(index) ? FeatureStatus::kNullValue : FeatureStatus::kPresent;
}

// Stored values into one row of an expression input.
class InputCell final : public ValueVisitor {
 public:
  InputCell(engine::ExprColumn* column, size_t row) : column_(column), row_(row) {}
  void Null() override {}
  void Int(int64_t value) override { Set(&column_->ints, value); }
  void Float(float value) override { Set(&column_->doubles, static_cast<double>(value)); }
  void Double(double value) override { Set(&column_->doubles, value); }
  void Bool(bool value) override { Set(&column_->ints, value ? 1 : 0); }
  void Time(Timestamp value) override { Set(&column_->ints, value.micros); }
  void String(std::string_view value) override { Set(&column_->strings, std::string(value)); }
  void Bytes(std::string_view) override {}  // never an input
  void BeginList(uint32_t) override {}
  void EndList() override {}

 private:
  template <typename T, typename V>
  void Set(std::vector<T>* values, V value) {
    (*values)[row_] = std::move(value);
    column_->valid[row_] = 1;
  }
  engine::ExprColumn* column_;
  size_t row_;
};

// An empty input column of `rows` nulls.
engine::ExprColumn NullColumn(engine::ExprType type, size_t rows) {
  engine::ExprColumn column;
  column.type = type;
  column.length = static_cast<int64_t>(rows);
  column.valid.assign(rows, 0);
  switch (type) {
    case engine::ExprType::kFloat64:
      column.doubles.resize(rows);
      break;
    case engine::ExprType::kString:
      column.strings.resize(rows);
      break;
    default:
      column.ints.resize(rows);
      break;
  }
  return column;
}

// A request value as an expression input of `type`: Invalid when the entities lack it or send
// it as another kind.
Result<engine::ExprColumn> RequestInput(const EntityRows& entities,
                                        const OnlineCatalog::OnDemandView& view,
                                        const engine::OnDemandInput& origin) {
  const EntityColumn* given = entities.Find(origin.field);
  if (given == nullptr) {
    return Status::Invalid("on-demand feature view '", view.compiled.name,
                           "' needs the request value '", origin.field, "' (request source '",
                           origin.source, "'): send it with the entities");
  }
  const auto rows = static_cast<size_t>(entities.num_rows);
  engine::ExprColumn column = NullColumn(origin.type, rows);
  using Kind = EntityColumn::Kind;
  bool fits = false;
  switch (origin.type) {
    case engine::ExprType::kInt64:
      fits = given->kind == Kind::kInt;
      if (fits) column.ints = given->ints;
      break;
    case engine::ExprType::kFloat64:
      fits = given->kind == Kind::kDouble || given->kind == Kind::kInt;
      if (given->kind == Kind::kDouble) column.doubles = given->doubles;
      if (given->kind == Kind::kInt) column.doubles.assign(given->ints.begin(), given->ints.end());
      break;
    case engine::ExprType::kString:
      fits = given->kind == Kind::kString;
      if (fits) column.strings.assign(given->strings.begin(), given->strings.end());
      break;
    case engine::ExprType::kBool:
      fits = given->kind == Kind::kBool;
      if (fits) column.ints = given->ints;
      break;
    case engine::ExprType::kTimestamp:
      fits = given->kind == Kind::kTime;
      if (fits) column.ints = given->ints;
      break;
  }
  if (!fits) {
    return Status::Invalid("entities.", origin.field, " has type ", KindName(*given),
                           "; request source '", origin.source, "' declares it ",
                           engine::ExprTypeName(origin.type));
  }
  for (size_t row = 0; row < rows; ++row) column.valid[row] = given->IsValid(row) ? 1 : 0;
  return column;
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
      case arrow::Type::DOUBLE:
        column.kind = EntityColumn::Kind::kDouble;
        WidenFloats<arrow::DoubleArray>(array, &column);
        break;
      case arrow::Type::FLOAT:
        column.kind = EntityColumn::Kind::kDouble;
        WidenFloats<arrow::FloatArray>(array, &column);
        break;
      case arrow::Type::BOOL: {
        column.kind = EntityColumn::Kind::kBool;
        const auto& typed = static_cast<const arrow::BooleanArray&>(array);
        column.ints.resize(static_cast<size_t>(array.length()));
        for (int64_t row = 0; row < array.length(); ++row) {
          column.ints[static_cast<size_t>(row)] = typed.Value(row) ? 1 : 0;
        }
        break;
      }
      case arrow::Type::TIMESTAMP:
        column.kind = EntityColumn::Kind::kTime;
        TimesInMicros(array, &column);
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
  ARROW_ASSIGN_OR_RAISE(auto compiled, engine::CompileOnDemandViews(definitions));
  for (engine::CompiledOnDemandView& view : compiled) {
    OnDemandView on_demand;
    for (const engine::OnDemandInput& origin : view.origins) {
      OnDemandView::Input& input = on_demand.inputs.emplace_back();
      input.kind = origin.kind;
      if (origin.kind == engine::OnDemandInput::Kind::kRequestField) {
        input.field = origin.field;
        auto& fields = on_demand.request_fields;
        if (std::none_of(fields.begin(), fields.end(),
                         [&](const auto& f) { return f.first == origin.field; })) {
          fields.emplace_back(origin.field, origin.type);
        }
        continue;
      }
      input.view = catalog->FindView(origin.source);
      if (input.view == nullptr) {
        return Status::Invalid("unknown feature view '", origin.source, "'");
      }
      AddView(input.view, &on_demand.source_views);
      if (origin.kind == engine::OnDemandInput::Kind::kFeature) {
        input.index = input.view->feature_index.at(origin.field);
      }
    }
    for (size_t f = 0; f < view.features.size(); ++f) {
      on_demand.feature_index[view.features[f].name] = f;
    }
    on_demand.compiled = std::move(view);
    std::string name = on_demand.compiled.name;
    const registry::OnDemandFeatureView* definition = definitions.FindOnDemandFeatureView(name);
    if (definition->write_to_online_store) {
      const View& source = *on_demand.inputs.front().view;  // Validate: one feature view
      View stored;
      stored.name = name;
      for (size_t f = 0; f < definition->features.size(); ++f) {
        stored.schema.push_back(definition->features[f].dtype);
        stored.feature_index[definition->features[f].name] = f;
      }
      stored.join_keys = source.join_keys;
      stored.key_kinds = source.key_kinds;
      stored.ttl = source.ttl;
      catalog->views_[name] = std::move(stored);
    }
    catalog->on_demand_views_[name] = std::move(on_demand);
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

const OnlineCatalog::OnDemandView* OnlineCatalog::FindOnDemandView(std::string_view name) const {
  auto it = on_demand_views_.find(name);
  return it == on_demand_views_.end() ? nullptr : &it->second;
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
      const OnDemandView* on_demand = FindOnDemandView(parts.view);
      if (on_demand == nullptr) {
        return NotFound(Missing::kFeatureView, "feature reference '", reference,
                        "': unknown feature view '", parts.view, "'");
      }
      ARROW_RETURN_NOT_OK(engine::CheckEvaluable(on_demand->compiled));
      auto index = on_demand->feature_index.find(parts.feature);
      if (index == on_demand->feature_index.end()) {
        return NotFound(Missing::kFeature, "feature reference '", reference,
                        "': on-demand feature view '", on_demand->compiled.name,
                        "' has no feature '", parts.feature, "'");
      }
      features.push_back({nullptr, index->second, index->first, on_demand});
      continue;
    }
    auto index = view->feature_index.find(parts.feature);
    if (index == view->feature_index.end()) {
      return NotFound(Missing::kFeature, "feature reference '", reference, "': feature view '",
                      view->name, "' has no feature '", parts.feature, "'");
    }
    features.push_back({view, index->second, index->first});
  }
  return features;
}

Result<std::vector<OnlineCatalog::Feature>> OnlineCatalog::ResolveService(
    const std::string& name) const {
  auto it = services_.find(name);
  if (it == services_.end())
    return NotFound(Missing::kFeatureService, "unknown feature service '", name, "'");
  return ResolveReferences(it->second);
}

FeatureStatus OnlineFeatures::status(size_t feature, int64_t row) const {
  if (features_[feature].on_demand != nullptr) {
    return computed_[feature].IsValid(row) ? FeatureStatus::kPresent : FeatureStatus::kNullValue;
  }
  const size_t i = Slot(feature, row);
  return StoredStatus(rows_[i], found_[i] != 0, *features_[feature].view, features_[feature].index,
                      now_);
}

Timestamp OnlineFeatures::event_time(size_t feature, int64_t row) const {
  if (features_[feature].on_demand != nullptr) {
    return Timestamp{computed_times_[times_of_[feature]][static_cast<size_t>(row)]};
  }
  const size_t i = Slot(feature, row);
  return found_[i] ? rows_[i].event_time() : Timestamp{0};
}

void OnlineFeatures::Visit(size_t feature, int64_t row, ValueVisitor* visitor) const {
  if (status(feature, row) != FeatureStatus::kPresent) {
    visitor->Null();
    return;
  }
  if (features_[feature].on_demand == nullptr) {
    rows_[Slot(feature, row)].Visit(features_[feature].index, visitor);
    return;
  }
  const engine::ExprColumn& column = computed_[feature];
  const auto r = static_cast<size_t>(row);
  switch (features_[feature].type().kind) {
    case ScalarKind::kFloat32:
    case ScalarKind::kFloat64: {
      // A declared Float of an integer expression: its value as a double.
      const double value = column.type == engine::ExprType::kInt64
                               ? static_cast<double>(column.ints[r])
                               : column.doubles[r];
      if (features_[feature].type().kind == ScalarKind::kFloat32) {
        visitor->Float(static_cast<float>(value));
      } else {
        visitor->Double(value);
      }
      return;
    }
    case ScalarKind::kInt32:
    case ScalarKind::kInt64:
      visitor->Int(column.ints[r]);
      return;
    case ScalarKind::kBool:
      visitor->Bool(column.ints[r] != 0);
      return;
    case ScalarKind::kUnixTimestamp:
      visitor->Time(Timestamp{column.ints[r]});
      return;
    case ScalarKind::kString:
    case ScalarKind::kJson:  // computed text, served as a string
      visitor->String(column.strings[r]);
      return;
    case ScalarKind::kBytes:
      break;
  }
  visitor->Null();
}

Status OnlineFeatures::EvaluateOnDemand(const std::vector<const OnlineCatalog::View*>& views,
                                        const EntityRows& entities) {
  if (std::none_of(features_.begin(), features_.end(),
                   [](const auto& feature) { return feature.on_demand != nullptr; })) {
    return Status::OK();
  }
  computed_.resize(features_.size());
  times_of_.assign(features_.size(), 0);
  const auto rows = static_cast<size_t>(num_rows_);
  std::vector<const OnlineCatalog::OnDemandView*> evaluated;
  for (size_t first = 0; first < features_.size(); ++first) {
    const OnlineCatalog::OnDemandView* view = features_[first].on_demand;
    if (view == nullptr || std::find(evaluated.begin(), evaluated.end(), view) != evaluated.end()) {
      continue;
    }
    evaluated.push_back(view);
    for (const auto& field : view->request_fields) request_values_.push_back(field.first);
    // Where each source view's rows are, which of them count (within the view's TTL, as in
    // training data), and per row the newest event time among them.
    std::vector<size_t> bases(view->source_views.size());
    std::vector<int64_t>& times = computed_times_.emplace_back(rows, 0);
    std::vector<uint8_t> fresh(view->source_views.size() * rows, 0);
    for (size_t v = 0; v < view->source_views.size(); ++v) {
      const OnlineCatalog::View* source = view->source_views[v];
      bases[v] =
          static_cast<size_t>(std::find(views.begin(), views.end(), source) - views.begin()) * rows;
      const int64_t ttl = source->ttl.micros;
      for (size_t row = 0; row < rows; ++row) {
        const size_t slot = bases[v] + row;
        if (!found_[slot]) continue;
        const int64_t at = rows_[slot].event_time().micros;
        if (ttl > 0 && at < now_.micros - ttl) continue;
        fresh[v * rows + row] = 1;
        times[row] = std::max(times[row], at);
      }
    }
    // The inputs this view's requested features read, from the rows read and the request.
    std::vector<uint8_t> needed(view->inputs.size(), 0);
    for (size_t f = first; f < features_.size(); ++f) {
      if (features_[f].on_demand != view) continue;
      for (int i : view->compiled.Reads(features_[f].index)) {
        needed[static_cast<size_t>(i)] = 1;
      }
    }
    std::vector<engine::ExprColumn> inputs(view->inputs.size());
    std::vector<const engine::ExprColumn*> pointers(view->inputs.size(), nullptr);
    for (size_t i = 0; i < view->inputs.size(); ++i) {
      if (!needed[i]) continue;
      const OnlineCatalog::OnDemandView::Input& input = view->inputs[i];
      const engine::OnDemandInput& origin = view->compiled.origins[i];
      pointers[i] = &inputs[i];
      if (input.kind == engine::OnDemandInput::Kind::kRequestField) {
        ARROW_ASSIGN_OR_RAISE(inputs[i], RequestInput(entities, *view, origin));
        continue;
      }
      const auto v = static_cast<size_t>(
          std::find(view->source_views.begin(), view->source_views.end(), input.view) -
          view->source_views.begin());
      inputs[i] = NullColumn(origin.type, rows);
      for (size_t row = 0; row < rows; ++row) {
        const size_t slot = bases[v] + row;
        if (!fresh[v * rows + row]) continue;
        if (input.kind == engine::OnDemandInput::Kind::kEventTimestamp) {
          inputs[i].ints[row] = rows_[slot].event_time().micros;
          inputs[i].valid[row] = 1;
        } else if (!rows_[slot].IsNull(input.index)) {
          InputCell cell(&inputs[i], row);
          rows_[slot].Visit(input.index, &cell);
        }
      }
    }
    std::vector<size_t> positions, wanted;
    for (size_t f = first; f < features_.size(); ++f) {
      if (features_[f].on_demand != view) continue;
      positions.push_back(f);
      wanted.push_back(static_cast<size_t>(features_[f].index));
    }
    ARROW_ASSIGN_OR_RAISE(auto values,
                          view->compiled.Compute(wanted, pointers, num_rows_, {now_.micros}));
    for (size_t w = 0; w < positions.size(); ++w) {
      computed_[positions[w]] = std::move(values[w]);
      times_of_[positions[w]] = computed_times_.size() - 1;
    }
  }
  return Status::OK();
}

Result<std::shared_ptr<arrow::RecordBatch>> OnlineFeatures::ToArrow(
    const arrow::RecordBatch& entities) const {
  arrow::FieldVector fields;
  arrow::ArrayVector arrays;
  for (int c = 0; c < entities.num_columns(); ++c) {
    if (!Echoes(entities.schema()->field(c)->name())) continue;
    fields.push_back(entities.schema()->field(c));
    arrays.push_back(entities.column(c));
  }
  for (size_t f = 0; f < features_.size(); ++f) {
    const OnlineCatalog::Feature& feature = features_[f];
    auto type = ToArrowType(feature.type());
    // Json features go out as Arrow's canonical JSON type over their text, so pyarrow (and the
    // SDK's to_dict) know them for documents.
    const bool json = feature.type().kind == ScalarKind::kJson && feature.on_demand == nullptr;
    fields.push_back(arrow::field(names_[f], json ? arrow::extension::json() : type));
    if (feature.on_demand != nullptr) {
      ARROW_ASSIGN_OR_RAISE(auto array, engine::ExprColumnToArrow(computed_[f], feature.type()));
      arrays.push_back(std::move(array));
      continue;
    }
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
    if (json) array = arrow::ExtensionType::WrapArray(arrow::extension::json(), array);
    arrays.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), num_rows_, std::move(arrays));
}

Status ComputeStoredValues(const OnlineCatalog::OnDemandView& view,
                           const std::vector<std::string_view>& source_values, Timestamp now,
                           ByteRows* out) {
  const size_t rows = source_values.size();
  const OnlineCatalog::View& source = *view.inputs.front().view;
  std::vector<FeatureRowReader> readers(rows);
  std::vector<int64_t> event_times(rows), created_times(rows);
  for (size_t row = 0; row < rows; ++row) {
    ARROW_RETURN_NOT_OK(readers[row].Open(source_values[row], source.schema));
    event_times[row] = readers[row].event_time().micros;
    created_times[row] = readers[row].created_time().micros;
  }
  const auto& compiled = view.compiled;
  std::vector<engine::ExprColumn> inputs(view.inputs.size());
  std::vector<const engine::ExprColumn*> pointers(view.inputs.size());
  for (size_t i = 0; i < view.inputs.size(); ++i) {
    inputs[i] = NullColumn(compiled.origins[i].type, rows);
    for (size_t row = 0; row < rows; ++row) {
      if (view.inputs[i].kind == engine::OnDemandInput::Kind::kEventTimestamp) {
        inputs[i].ints[row] = event_times[row];
        inputs[i].valid[row] = 1;
      } else if (!readers[row].IsNull(view.inputs[i].index)) {
        InputCell cell(&inputs[i], row);
        readers[row].Visit(view.inputs[i].index, &cell);
      }
    }
    pointers[i] = &inputs[i];
  }
  std::vector<size_t> all(compiled.features.size());
  for (size_t f = 0; f < all.size(); ++f) all[f] = f;
  ARROW_ASSIGN_OR_RAISE(auto values,
                        compiled.Compute(all, pointers, static_cast<int64_t>(rows), {now.micros}));
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  std::vector<FeatureType> schema;
  for (size_t f = 0; f < compiled.features.size(); ++f) {
    const FeatureType& type = compiled.features[f].dtype;
    ARROW_ASSIGN_OR_RAISE(auto array, engine::ExprColumnToArrow(values[f], type));
    arrays.push_back(std::move(array));
    schema.push_back(type);
  }
  return EncodeFeatureRows(arrays, schema, event_times.data(), created_times.data(),
                           static_cast<int64_t>(rows), out);
}

Result<OnlineFeatures> ReadOnlineFeatures(OnlineStore* store,
                                          const std::vector<OnlineCatalog::Feature>& features,
                                          const EntityRows& entities, bool full_feature_names,
                                          Timestamp now) {
  if (features.empty()) return Status::Invalid("no features requested");
  const int64_t num_rows = entities.num_rows;
  const auto rows = static_cast<size_t>(num_rows);
  std::vector<const OnlineCatalog::View*> views = ViewsOf(features);
  // Each view's keys, encoded from its join-key columns; a row with a null key part gets the
  // empty key, which OnlineStore::Read never looks up (stored keys start with a version byte).
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
        registry::FeatureColumnName(feature.view_name(), feature.name, full_feature_names));
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
  ARROW_RETURN_NOT_OK(out.EvaluateOnDemand(views, entities));
  return out;
}

}  // namespace headwater::online
