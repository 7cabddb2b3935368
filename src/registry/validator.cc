// Cross-object validation: names, references, and agreement with the source files.

#include <arrow/type.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <unordered_map>

#include "headwater/core/file.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/source_schema.h"

namespace headwater::registry {
namespace {

Status Fail(const SourceLocation& location, const std::string& object, const std::string& message) {
  return Status::Invalid(location.ToString(), ": ", object, ": ", message);
}

template <typename T>
Status CheckUnique(const std::vector<T>& objects, const char* kind) {
  std::unordered_map<std::string, const T*> seen;
  for (const T& object : objects) {
    auto [it, inserted] = seen.emplace(object.name, &object);
    if (!inserted) {
      return Fail(object.location, std::string(kind) + " '" + object.name + "'",
                  "defined twice (first at " + it->second->location.ToString() + ")");
    }
  }
  return Status::OK();
}

bool IsTimeType(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::TIMESTAMP:
    case arrow::Type::DATE32:
    case arrow::Type::DATE64:
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
      return true;
    default:
      return false;
  }
}

// A source's columns as feature views see them: names after field_mapping.
struct ResolvedSource {
  std::string file;  // for messages
  std::shared_ptr<arrow::Schema> schema;
  std::map<std::string, std::shared_ptr<arrow::DataType>> columns;  // mapped name -> type
};

Result<ResolvedSource> ResolveSource(const RepoConfig& config, const DataSource& source) {
  std::string object = "source '" + source.name + "'";
  auto schema = ReadSourceSchema(config.Resolve(source.path));
  if (!schema.ok()) return Fail(source.location, object, schema.status().message());
  ResolvedSource resolved{source.path, *schema, {}};
  for (const auto& field : (*schema)->fields()) {
    auto mapped = source.field_mapping.find(field->name());
    resolved.columns[mapped == source.field_mapping.end() ? field->name() : mapped->second] =
        field->type();
  }
  for (const auto& [from, to] : source.field_mapping) {
    if ((*schema)->GetFieldByName(from) == nullptr) {
      return Fail(source.location, object,
                  "field_mapping names column '" + from + "', which " + source.path + " lacks");
    }
  }
  auto check_time = [&](const std::string& column, const char* role) -> Status {
    auto field = (*schema)->GetFieldByName(column);
    if (field == nullptr) {
      return Fail(source.location, object,
                  std::string(role) + " '" + column + "' is not a column of " + source.path);
    }
    if (!IsTimeType(*field->type())) {
      return Fail(source.location, object,
                  std::string(role) + " '" + column + "' has type " + field->type()->ToString() +
                      "; expected a timestamp");
    }
    return Status::OK();
  };
  ARROW_RETURN_NOT_OK(check_time(source.timestamp_field, "timestamp_field"));
  if (!source.created_timestamp_column.empty()) {
    ARROW_RETURN_NOT_OK(check_time(source.created_timestamp_column, "created_timestamp_column"));
  }
  return resolved;
}

// The view's entities exist, once each, and their join keys are source columns of their types.
Result<std::set<std::string>> ValidateKeys(const Definitions& definitions, const DataSource& source,
                                           const ResolvedSource& resolved,
                                           const FeatureView* view) {
  std::string object = "feature_view '" + view->name + "'";
  std::set<std::string> key_columns;
  std::set<std::string> entity_names;
  for (const std::string& entity_name : view->entities) {
    const Entity* entity = definitions.FindEntity(entity_name);
    if (entity == nullptr) {
      return Fail(view->location, object, "unknown entity '" + entity_name + "'");
    }
    if (!entity_names.insert(entity_name).second) {
      return Fail(view->location, object, "lists entity '" + entity_name + "' twice");
    }
    if (!key_columns.insert(entity->join_key).second) {
      return Fail(view->location, object,
                  "two of its entities share the join key '" + entity->join_key + "'");
    }
    auto column = resolved.columns.find(entity->join_key);
    if (column == resolved.columns.end()) {
      return Fail(view->location, object,
                  "join key '" + entity->join_key + "' of entity '" + entity_name +
                      "' is not a column of source '" + source.name + "' (" + resolved.file + ")");
    }
    auto type = FromArrowType(*column->second);
    if (!type.ok() || type->is_array || !KeyKindsCompatible(type->kind, entity->value_type)) {
      return Fail(view->location, object,
                  "join key '" + entity->join_key + "' is " + column->second->ToString() + " in " +
                      resolved.file + " but entity '" + entity_name + "' declares " +
                      FormatFeatureType({entity->value_type, false}));
    }
  }
  return key_columns;
}

bool IsNumeric(const FeatureType& type) {
  return !type.is_array && (type.kind == ScalarKind::kInt32 || type.kind == ScalarKind::kInt64 ||
                            type.kind == ScalarKind::kFloat32 || type.kind == ScalarKind::kFloat64);
}

// A stream view: its aggregations read numeric event columns; its features are their results;
// its window rows live in offline_store.path/<view>.
Status ValidateStreamView(const RepoConfig& config, const Definitions& definitions,
                          const DataSource& events, const ResolvedSource& resolved,
                          FeatureView* view) {
  std::string object = "feature_view '" + view->name + "'";
  ARROW_ASSIGN_OR_RAISE(auto key_columns, ValidateKeys(definitions, events, resolved, view));
  for (const Field& declared : view->features) {  // a declared schema names input columns
    auto column = resolved.columns.find(declared.name);
    auto type = column == resolved.columns.end() ? Result<FeatureType>(Status::Invalid(""))
                                                 : FromArrowType(*column->second);
    if (!type.ok() || !(*type == declared.dtype)) {
      return Fail(view->location, object,
                  "schema field '" + declared.name + "' (" + FormatFeatureType(declared.dtype) +
                      ") is not a column of that type in " + resolved.file);
    }
  }
  std::vector<Field> features;
  std::set<std::string> names;
  for (const AggregationDef& aggregation : view->aggregations) {
    auto column = resolved.columns.find(aggregation.column);
    if (column == resolved.columns.end()) {
      return Fail(view->location, object,
                  "aggregation '" + aggregation.name + "' reads column '" + aggregation.column +
                      "', which is not a column of " + resolved.file);
    }
    auto type = FromArrowType(*column->second);
    if (!type.ok() || !IsNumeric(*type)) {
      return Fail(view->location, object,
                  "aggregation '" + aggregation.name + "' reads column '" + aggregation.column +
                      "' of type " + column->second->ToString() +
                      "; aggregations take Int32, Int64, Float32 or Float64 columns");
    }
    if (!names.insert(aggregation.name).second || key_columns.count(aggregation.name)) {
      return Fail(view->location, object,
                  "two features are named '" + aggregation.name + "'; give one a 'name'");
    }
    features.push_back(Field{
        aggregation.name,
        {aggregation.function == "count" ? ScalarKind::kInt64 : ScalarKind::kFloat64, false}});
  }
  view->features = std::move(features);
  view->schema_inferred = false;
  ARROW_ASSIGN_OR_RAISE(view->windows, WindowsSource(config, *view));
  return Status::OK();
}

Status ValidateFeatureView(const Definitions& definitions, const DataSource& source,
                           const ResolvedSource& resolved, FeatureView* view) {
  std::string object = "feature_view '" + view->name + "'";
  ARROW_ASSIGN_OR_RAISE(auto key_columns, ValidateKeys(definitions, source, resolved, view));
  std::set<std::string> reserved = key_columns;
  reserved.insert(source.timestamp_field);
  if (!source.created_timestamp_column.empty()) reserved.insert(source.created_timestamp_column);

  if (view->schema_inferred) {
    view->features.clear();
    for (const auto& field : resolved.schema->fields()) {
      auto mapped = source.field_mapping.find(field->name());
      std::string name = mapped == source.field_mapping.end() ? field->name() : mapped->second;
      if (reserved.count(name) || reserved.count(field->name())) continue;
      auto feature_type = FromArrowType(*field->type());
      if (!feature_type.ok()) {
        return Fail(view->location, object,
                    "cannot infer a schema: column '" + field->name() + "' of " + resolved.file +
                        ": " + feature_type.status().message() +
                        "; declare a schema to leave it out");
      }
      view->features.push_back(Field{name, *feature_type});
    }
    if (view->features.empty()) {
      return Fail(view->location, object, "source '" + source.name + "' has no feature columns");
    }
    return Status::OK();
  }
  std::set<std::string> seen;
  for (const Field& feature : view->features) {
    if (!seen.insert(feature.name).second) {
      return Fail(view->location, object, "feature '" + feature.name + "' is declared twice");
    }
    if (reserved.count(feature.name)) {
      return Fail(view->location, object,
                  "feature '" + feature.name + "' is a join key or timestamp column");
    }
    auto column = resolved.columns.find(feature.name);
    if (column == resolved.columns.end()) {
      return Fail(view->location, object,
                  "feature '" + feature.name + "' is not a column of source '" + source.name +
                      "' (" + resolved.file + ")");
    }
    auto actual = FromArrowType(*column->second);
    if (!actual.ok() || !CastsOnRead(*actual, feature.dtype)) {
      return Fail(view->location, object,
                  "feature '" + feature.name + "' is declared " + FormatFeatureType(feature.dtype) +
                      " but column '" + feature.name + "' of " + resolved.file + " is " +
                      (actual.ok() ? FormatFeatureType(*actual) : column->second->ToString()));
    }
  }
  return Status::OK();
}

// An on-demand view reads feature views (their features exist) and request sources (their
// values exist); its expressions are compiled against them by engine/on_demand.h at apply.
Status ValidateOnDemandView(const Definitions& definitions, const OnDemandFeatureView& view) {
  std::string object = "on_demand_feature_view '" + view.name + "'";
  std::set<std::string> seen;
  for (const FeatureViewProjection& projection : view.sources) {
    if (!seen.insert(projection.view).second) {
      return Fail(view.location, object, "lists source '" + projection.view + "' twice");
    }
    if (const FeatureView* source = definitions.FindFeatureView(projection.view)) {
      for (const std::string& feature : projection.features) {
        if (source->FindFeature(feature) == nullptr) {
          return Fail(view.location, object,
                      "feature view '" + source->name + "' has no feature '" + feature + "'");
        }
      }
      continue;
    }
    const DataSource* request = definitions.FindSource(projection.view);
    if (request != nullptr && request->type == SourceType::kRequest) {
      for (const std::string& field : projection.features) {
        if (std::none_of(request->schema.begin(), request->schema.end(),
                         [&](const Field& f) { return f.name == field; })) {
          return Fail(view.location, object,
                      "request source '" + request->name + "' has no field '" + field + "'");
        }
      }
      continue;
    }
    if (definitions.FindOnDemandFeatureView(projection.view) != nullptr) {
      return Fail(view.location, object,
                  "source '" + projection.view +
                      "' is an on-demand feature view; on-demand views read feature views and "
                      "request sources");
    }
    return Fail(view.location, object,
                "unknown source '" + projection.view + "' (a feature view or a request source)");
  }
  std::set<std::string> names;
  for (const Field& feature : view.features) {
    if (!names.insert(feature.name).second) {
      return Fail(view.location, object, "feature '" + feature.name + "' is declared twice");
    }
  }
  if (view.write_to_online_store) {
    // Stored values are computed from one view's rows as they are written, keyed like them.
    const FeatureView* source =
        view.sources.size() == 1 ? definitions.FindFeatureView(view.sources[0].view) : nullptr;
    if (view.is_udf() || source == nullptr || !source->online || source->is_stream()) {
      return Fail(view.location, object,
                  "write_to_online_store needs mode expression and one source, an online batch "
                  "feature view (the values are computed as its rows are written, when there is "
                  "no request); leave it off and reads compute the features");
    }
  }
  return Status::OK();
}

}  // namespace

Result<DataSource> WindowsSource(const RepoConfig& config, const FeatureView& view) {
  DataSource windows;
  windows.name = view.name + " windows";
  ARROW_ASSIGN_OR_RAISE(auto path, ChildPath(config.offline_store.path, view.name));
  windows.path = path.string();
  windows.timestamp_field = "event_timestamp";
  windows.location = view.location;
  return windows;
}

// Feast reads an omitted entity value_type from the data: here, the join key's column in the
// first view (in definition order) over the entity.
void InferKeyTypes(const ResolvedSource& resolved, const FeatureView& view,
                   Definitions* definitions) {
  for (Entity& entity : definitions->entities) {
    if (!entity.value_type_inferred ||
        std::find(view.entities.begin(), view.entities.end(), entity.name) == view.entities.end()) {
      continue;
    }
    auto column = resolved.columns.find(entity.join_key);
    if (column == resolved.columns.end()) continue;
    auto type = FromArrowType(*column->second);
    if (!type.ok() || type->is_array) continue;
    if (type->kind == ScalarKind::kInt32 || type->kind == ScalarKind::kInt64 ||
        type->kind == ScalarKind::kString || type->kind == ScalarKind::kBytes) {
      entity.value_type = type->kind;
      entity.value_type_inferred = false;
    }
  }
}

Status Validate(const RepoConfig& config, Definitions* definitions) {
  ARROW_RETURN_NOT_OK(CheckUnique(definitions->entities, "entity"));
  ARROW_RETURN_NOT_OK(CheckUnique(definitions->sources, "source"));
  ARROW_RETURN_NOT_OK(CheckUnique(definitions->feature_views, "feature_view"));
  ARROW_RETURN_NOT_OK(CheckUnique(definitions->feature_services, "feature_service"));
  ARROW_RETURN_NOT_OK(CheckUnique(definitions->on_demand_feature_views, "on_demand_feature_view"));
  for (const OnDemandFeatureView& view : definitions->on_demand_feature_views) {
    if (const FeatureView* same = definitions->FindFeatureView(view.name)) {
      return Fail(view.location, "on_demand_feature_view '" + view.name + "'",
                  "a feature view has its name (at " + same->location.ToString() +
                      "); features are named view:feature, so views need distinct names");
    }
  }

  ARROW_RETURN_NOT_OK(UseSourceEndpoints(definitions->sources));
  std::map<std::string, ResolvedSource> resolved;
  for (const DataSource& source : definitions->sources) {
    if (source.type == SourceType::kRequest) continue;  // its schema is all it has
    if (source.type != SourceType::kFile) {
      const DataSource* batch = definitions->FindSource(source.batch_source);
      std::string object = "source '" + source.name + "'";
      if (batch == nullptr || batch->type != SourceType::kFile) {
        return Fail(source.location, object,
                    "batch_source '" + source.batch_source + "' is not a file source");
      }
      continue;  // a push appends a file to a directory, or rewrites a single file (writes.h)
    }
    ARROW_ASSIGN_OR_RAISE(resolved[source.name], ResolveSource(config, source));
  }
  for (FeatureView& view : definitions->feature_views) {
    const DataSource* named = definitions->FindSource(view.source);
    if (named == nullptr) {
      return Fail(view.location, "feature_view '" + view.name + "'",
                  "unknown source '" + view.source + "'");
    }
    if (named->type == SourceType::kRequest) {
      return Fail(view.location, "feature_view '" + view.name + "'",
                  "source '" + view.source +
                      "' is a request source; request values feed on-demand feature views");
    }
    const DataSource* source = definitions->EventSourceOf(view);
    InferKeyTypes(resolved[source->name], view, definitions);
    if (view.is_stream()) {
      ARROW_RETURN_NOT_OK(
          ValidateStreamView(config, *definitions, *source, resolved[source->name], &view));
    } else {
      ARROW_RETURN_NOT_OK(
          ValidateFeatureView(*definitions, *source, resolved[source->name], &view));
    }
  }
  for (const OnDemandFeatureView& view : definitions->on_demand_feature_views) {
    ARROW_RETURN_NOT_OK(ValidateOnDemandView(*definitions, view));
  }
  for (const FeatureService& service : definitions->feature_services) {
    std::string object = "feature_service '" + service.name + "'";
    for (const FeatureViewProjection& projection : service.features) {
      const FeatureView* view = definitions->FindFeatureView(projection.view);
      const OnDemandFeatureView* on_demand = definitions->FindOnDemandFeatureView(projection.view);
      if (view == nullptr && on_demand == nullptr) {
        return Fail(service.location, object, "unknown feature view '" + projection.view + "'");
      }
      for (const std::string& feature : projection.features) {
        if (view ? view->FindFeature(feature) == nullptr
                 : on_demand->FindFeature(feature) == nullptr) {
          return Fail(service.location, object,
                      "feature view '" + projection.view + "' has no feature '" + feature + "'");
        }
      }
    }
  }
  return Status::OK();
}

std::vector<std::string> SourceCasts(const RepoConfig& config, const Definitions& definitions) {
  std::vector<std::string> lines;
  for (const FeatureView& view : definitions.feature_views) {
    if (view.is_stream()) continue;
    const DataSource* source = definitions.BatchSourceOf(view);
    if (source == nullptr) continue;
    auto schema = ReadSourceSchema(config.Resolve(source->path));
    if (!schema.ok()) continue;
    for (const Field& feature : view.features) {
      const std::string column = source->ColumnFor(feature.name);
      auto field = (*schema)->GetFieldByName(column);
      if (field == nullptr) continue;
      auto actual = FromArrowType(*field->type());
      // Json reads JSON text as it is, and structs and maps as documents: nothing to say.
      if (!actual.ok() || *actual == feature.dtype || feature.dtype.kind == ScalarKind::kJson) {
        continue;
      }
      lines.push_back("feature_view '" + view.name + "': feature '" + feature.name + "' is " +
                      FormatFeatureType(feature.dtype) + " over the " + field->type()->ToString() +
                      " column '" + column + "' of " + source->path + ": cast on read");
    }
  }
  return lines;
}

}  // namespace headwater::registry
