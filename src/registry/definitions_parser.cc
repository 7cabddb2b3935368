// YAML definition files -> Definitions. Only structure and value formats are checked here;
// references between objects and against source files are checked by Validate.

#include <fnmatch.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "headwater/core/file.h"
#include "headwater/registry/loader.h"
#include "yaml_reader.h"

namespace headwater::registry {
namespace {

// Every object starts alike: only known fields, a required name, and errors that name it.
Status BeginObject(YamlReader& reader, const YAML::Node& node, const std::string& kind,
                   std::initializer_list<std::string_view> known_fields, std::string* name) {
  reader.SetContext(kind);
  ARROW_RETURN_NOT_OK(reader.CheckKeys(node, known_fields));
  ARROW_RETURN_NOT_OK(reader.RequiredString(node, "name", name));
  Status named = CheckName(*name);
  if (!named.ok()) return reader.Error(node["name"], named.message());
  reader.SetContext(kind + " '" + *name + "'");
  return Status::OK();
}

// ...and ends alike: the free-text fields every kind has, and where it was written.
template <typename Object>
Status EndObject(YamlReader& reader, const YAML::Node& node, Object* object) {
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, "owner", &object->owner));
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, "description", &object->description));
  ARROW_RETURN_NOT_OK(reader.OptionalStringMap(node, "tags", &object->tags));
  object->location = reader.Location(node);
  return Status::OK();
}

Status ParseEntity(YamlReader& reader, const YAML::Node& node, Definitions* out) {
  Entity entity;
  ARROW_RETURN_NOT_OK(
      BeginObject(reader, node, "entity",
                  {"name", "join_keys", "join_key", "value_type", "description", "tags", "owner"},
                  &entity.name));
  std::vector<std::string> join_keys;
  ARROW_RETURN_NOT_OK(reader.OptionalStringList(node, "join_keys", &join_keys));
  ARROW_RETURN_NOT_OK(reader.OptionalStringList(node, "join_key", &join_keys));
  if (join_keys.size() > 1) {
    return reader.Error(node["join_keys"],
                        "an entity has exactly one join key; for a composite key, list several "
                        "entities in the feature view");
  }
  // Feast's default: the join key is the entity's name.
  entity.join_key = join_keys.empty() ? entity.name : join_keys[0];
  std::string value_type = "INT64";
  entity.value_type_inferred = !node["value_type"];
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, "value_type", &value_type));
  auto type = ParseFeatureType(value_type);
  if (!type.ok()) return reader.Error(node["value_type"], type.status().message());
  if (type->is_array || !(type->kind == ScalarKind::kInt32 || type->kind == ScalarKind::kInt64 ||
                          type->kind == ScalarKind::kString || type->kind == ScalarKind::kBytes)) {
    return reader.Error(node["value_type"],
                        "a join key must be INT32, INT64, STRING or BYTES, not " + value_type);
  }
  entity.value_type = type->kind;
  ARROW_RETURN_NOT_OK(EndObject(reader, node, &entity));
  out->entities.push_back(std::move(entity));
  return Status::OK();
}

Status ParseDurationField(YamlReader& reader, const YAML::Node& node, const char* key,
                          Duration* out) {
  if (!node[key]) return Status::OK();
  std::string text;
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, key, &text));
  auto duration = ParseDuration(text);
  if (!duration.ok()) {
    return reader.Error(node[key], std::string(key) + " " + duration.status().message());
  }
  *out = *duration;
  return Status::OK();
}

// A `schema` list of {name, dtype}.
Status ParseSchema(YamlReader& reader, const YAML::Node& node, std::vector<Field>* out) {
  return reader.ForEach(node, "schema", [&](const YAML::Node& field_node) {
    ARROW_RETURN_NOT_OK(reader.CheckKeys(field_node, {"name", "dtype", "description", "tags"}));
    Field field;
    std::string dtype;
    ARROW_RETURN_NOT_OK(reader.RequiredString(field_node, "name", &field.name));
    ARROW_RETURN_NOT_OK(reader.RequiredString(field_node, "dtype", &dtype));
    auto type = ParseFeatureType(dtype);
    if (!type.ok()) {
      return reader.Error(field_node["dtype"],
                          "field '" + field.name + "': " + type.status().message());
    }
    field.dtype = *type;
    out->push_back(std::move(field));
    return Status::OK();
  });
}

// Views, or {view: [features]}, as feature services and on-demand views list them.
Status ParseProjections(YamlReader& reader, const YAML::Node& node, const char* key,
                        std::vector<FeatureViewProjection>* out) {
  YAML::Node list = node[key];
  if (!list || !list.IsSequence() || list.size() == 0) {
    return reader.Error(
        node, std::string("'") + key + "' must be a non-empty list of views or {view: [features]}");
  }
  for (const auto& element : list) {
    FeatureViewProjection projection;
    if (element.IsScalar()) {
      projection.view = element.Scalar();
    } else if (element.IsMap() && element.size() == 1) {
      auto entry = *element.begin();
      projection.view = entry.first.Scalar();
      if (entry.second.IsScalar()) {
        projection.features.push_back(entry.second.Scalar());
      } else if (entry.second.IsSequence()) {
        for (const auto& name : entry.second) {
          if (!name.IsScalar()) return reader.Error(name, "a feature name must be a string");
          projection.features.push_back(name.Scalar());
        }
      } else {
        return reader.Error(entry.second, "expected a list of feature names");
      }
    } else {
      return reader.Error(
          element, std::string("each entry of '") + key + "' is a view name or {view: [features]}");
    }
    out->push_back(std::move(projection));
  }
  return Status::OK();
}

Status ParseSource(YamlReader& reader, const YAML::Node& node, Definitions* out) {
  DataSource source;
  ARROW_RETURN_NOT_OK(BeginObject(
      reader, node, "source",
      {"name", "type", "path", "timestamp_field", "created_timestamp_column",
       "s3_endpoint_override", "field_mapping", "batch_source", "watermark_delay",
       "bootstrap_servers", "topic", "format", "schema", "description", "tags", "owner"},
      &source.name));
  std::string type = "file";
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, "type", &type));
  if (node["schema"] && type != "request") {
    return reader.Error(node["schema"], "'schema' belongs to request sources");
  }
  if (type == "request") {
    source.type = SourceType::kRequest;
    for (const char* key : {"path", "timestamp_field", "created_timestamp_column",
                            "s3_endpoint_override", "field_mapping", "batch_source",
                            "watermark_delay", "bootstrap_servers", "topic", "format"}) {
      if (node[key]) {
        return reader.Error(node[key],
                            std::string("a request source has only a schema, not '") + key + "'");
      }
    }
    ARROW_RETURN_NOT_OK(ParseSchema(reader, node, &source.schema));
    if (source.schema.empty()) {
      return reader.Error(node, "a request source needs a 'schema' of the values requests send");
    }
  } else if (type == "push" || type == "kafka") {
    source.type = type == "push" ? SourceType::kPush : SourceType::kKafka;
    ARROW_RETURN_NOT_OK(reader.RequiredString(node, "batch_source", &source.batch_source));
    for (const char* key : {"path", "timestamp_field", "created_timestamp_column",
                            "s3_endpoint_override", "field_mapping"}) {
      if (node[key]) {
        return reader.Error(node[key], "a " + type + " source takes '" + key +
                                           "' from its batch_source; remove it here");
      }
    }
    ARROW_RETURN_NOT_OK(
        ParseDurationField(reader, node, "watermark_delay", &source.watermark_delay));
    if (source.type == SourceType::kKafka) {
      ARROW_RETURN_NOT_OK(
          reader.RequiredString(node, "bootstrap_servers", &source.bootstrap_servers));
      ARROW_RETURN_NOT_OK(reader.RequiredString(node, "topic", &source.topic));
      ARROW_RETURN_NOT_OK(reader.OptionalString(node, "format", &source.format));
      if (source.format != "json") {
        return reader.Error(node["format"],
                            "unknown message format '" + source.format + "' (supported: json)");
      }
    }
  } else if (type == "file") {
    ARROW_RETURN_NOT_OK(reader.RequiredString(node, "path", &source.path));
    ARROW_RETURN_NOT_OK(reader.RequiredString(node, "timestamp_field", &source.timestamp_field));
    ARROW_RETURN_NOT_OK(
        reader.OptionalString(node, "created_timestamp_column", &source.created_timestamp_column));
    ARROW_RETURN_NOT_OK(
        reader.OptionalString(node, "s3_endpoint_override", &source.s3_endpoint_override));
    if (!source.s3_endpoint_override.empty() && !source.path.starts_with("s3://")) {
      return reader.Error(
          node["s3_endpoint_override"],
          "s3_endpoint_override is for a path on S3 (s3://bucket/...), not '" + source.path + "'");
    }
    ARROW_RETURN_NOT_OK(reader.OptionalStringMap(node, "field_mapping", &source.field_mapping));
    for (const char* key :
         {"batch_source", "watermark_delay", "bootstrap_servers", "topic", "format"}) {
      if (node[key]) {
        return reader.Error(node[key], std::string("'") + key +
                                           "' belongs to push and kafka sources, not file sources");
      }
    }
  } else {
    return reader.Error(
        node["type"], "unknown source type '" + type + "' (supported: file, push, kafka, request)");
  }
  ARROW_RETURN_NOT_OK(EndObject(reader, node, &source));
  out->sources.push_back(std::move(source));
  return Status::OK();
}

Status ParseAggregations(YamlReader& reader, const YAML::Node& node, FeatureView* view) {
  return reader.ForEach(node, "aggregations", [&](const YAML::Node& element) {
    ARROW_RETURN_NOT_OK(reader.CheckKeys(
        element, {"column", "function", "time_window", "slide_interval", "name", "description"}));
    AggregationDef aggregation;
    ARROW_RETURN_NOT_OK(reader.RequiredString(element, "column", &aggregation.column));
    ARROW_RETURN_NOT_OK(reader.RequiredString(element, "function", &aggregation.function));
    if (aggregation.function == "avg") aggregation.function = "mean";
    if (aggregation.function == "std") aggregation.function = "stddev";
    if (std::find(std::begin(kAggregationFunctions), std::end(kAggregationFunctions),
                  aggregation.function) == std::end(kAggregationFunctions)) {
      return reader.Error(element["function"],
                          "unknown aggregation function '" + aggregation.function +
                              "' (supported: count, sum, min, max, mean, last, stddev)");
    }
    if (!element["time_window"]) return reader.Error(element, "missing 'time_window'");
    ARROW_RETURN_NOT_OK(
        ParseDurationField(reader, element, "time_window", &aggregation.time_window));
    aggregation.slide_interval = aggregation.time_window;
    ARROW_RETURN_NOT_OK(
        ParseDurationField(reader, element, "slide_interval", &aggregation.slide_interval));
    if (aggregation.time_window.micros <= 0 || aggregation.slide_interval.micros <= 0) {
      return reader.Error(element, "time_window and slide_interval must be positive");
    }
    if (aggregation.time_window.micros % aggregation.slide_interval.micros != 0) {
      return reader.Error(element, "time_window " + FormatDuration(aggregation.time_window) +
                                       " is not a multiple of slide_interval " +
                                       FormatDuration(aggregation.slide_interval));
    }
    aggregation.name = aggregation.function + "_" + aggregation.column + "_" +
                       FormatDuration(aggregation.time_window);  // e.g. mean_price_5m
    ARROW_RETURN_NOT_OK(reader.OptionalString(element, "name", &aggregation.name));
    view->aggregations.push_back(std::move(aggregation));
    return Status::OK();
  });
}

Status ParseFeatureView(YamlReader& reader, const YAML::Node& node, Definitions* out) {
  FeatureView view;
  ARROW_RETURN_NOT_OK(
      BeginObject(reader, node, "feature_view",
                  {"name", "entities", "ttl", "source", "online", "offline", "schema",
                   "aggregations", "allowed_lateness", "tags", "owner", "description"},
                  &view.name));
  ARROW_RETURN_NOT_OK(reader.OptionalStringList(node, "entities", &view.entities));
  std::string ttl = "0";
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, "ttl", &ttl));
  auto duration = ParseDuration(ttl);
  if (!duration.ok()) return reader.Error(node["ttl"], "ttl " + duration.status().message());
  view.ttl = *duration;
  ARROW_RETURN_NOT_OK(reader.RequiredString(node, "source", &view.source));
  ARROW_RETURN_NOT_OK(reader.OptionalBool(node, "online", &view.online));
  ARROW_RETURN_NOT_OK(reader.OptionalBool(node, "offline", &view.offline));
  ARROW_RETURN_NOT_OK(ParseSchema(reader, node, &view.features));
  view.schema_inferred = view.features.empty();
  ARROW_RETURN_NOT_OK(ParseAggregations(reader, node, &view));
  ARROW_RETURN_NOT_OK(ParseDurationField(reader, node, "allowed_lateness", &view.allowed_lateness));
  if (view.allowed_lateness.micros < 0) {
    return reader.Error(node["allowed_lateness"], "allowed_lateness must not be negative");
  }
  for (const char* key : {"allowed_lateness", "offline"}) {
    if (node[key] && !view.is_stream()) {
      return reader.Error(node[key], std::string(key) + " applies to views with aggregations");
    }
  }
  ARROW_RETURN_NOT_OK(EndObject(reader, node, &view));
  out->feature_views.push_back(std::move(view));
  return Status::OK();
}

Status ParseFeatureService(YamlReader& reader, const YAML::Node& node, Definitions* out) {
  FeatureService service;
  ARROW_RETURN_NOT_OK(BeginObject(reader, node, "feature_service",
                                  {"name", "features", "tags", "owner", "description"},
                                  &service.name));
  ARROW_RETURN_NOT_OK(ParseProjections(reader, node, "features", &service.features));
  ARROW_RETURN_NOT_OK(EndObject(reader, node, &service));
  out->feature_services.push_back(std::move(service));
  return Status::OK();
}

Status ParseOnDemandFeatureView(YamlReader& reader, const YAML::Node& node, Definitions* out) {
  OnDemandFeatureView view;
  ARROW_RETURN_NOT_OK(
      BeginObject(reader, node, "on_demand_feature_view",
                  {"name", "sources", "schema", "mode", "expressions", "udf", "substrait_plan",
                   "write_to_online_store", "tags", "owner", "description"},
                  &view.name));
  ARROW_RETURN_NOT_OK(ParseProjections(reader, node, "sources", &view.sources));
  ARROW_RETURN_NOT_OK(ParseSchema(reader, node, &view.features));
  if (view.features.empty()) {
    return reader.Error(node,
                        "an on-demand feature view needs a 'schema' of the features it "
                        "computes");
  }
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, "mode", &view.mode));
  if (view.mode != "expression" && view.mode != "substrait" && !view.is_udf()) {
    return reader.Error(node["mode"], "mode '" + view.mode +
                                          "' is not supported (supported: expression, "
                                          "substrait, pandas, python)");
  }
  if (node["udf"] && !view.is_udf()) {
    return reader.Error(node["udf"], "a 'udf' needs mode pandas or python");
  }
  if (node["substrait_plan"] && view.mode != "substrait") {
    return reader.Error(node["substrait_plan"], "a 'substrait_plan' needs mode substrait");
  }
  if (view.mode != "expression") {
    const bool udf = view.is_udf();
    ARROW_RETURN_NOT_OK(reader.OptionalString(node, udf ? "udf" : "substrait_plan",
                                              udf ? &view.udf : &view.substrait_plan));
    if ((udf ? view.udf : view.substrait_plan).empty() || node["expressions"]) {
      return reader.Error(node, "mode '" + view.mode + "' takes " +
                                    (udf ? "a 'udf' (the source of a Python function)"
                                         : "a 'substrait_plan' (a serialized Substrait plan, "
                                           "base64)") +
                                    " and no 'expressions'");
    }
    ARROW_RETURN_NOT_OK(
        reader.OptionalBool(node, "write_to_online_store", &view.write_to_online_store));
    ARROW_RETURN_NOT_OK(EndObject(reader, node, &view));
    out->on_demand_feature_views.push_back(std::move(view));
    return Status::OK();
  }
  ARROW_RETURN_NOT_OK(reader.OptionalStringMap(node, "expressions", &view.expressions));
  for (const auto& entry : node["expressions"]) {
    view.expression_locations[entry.first.Scalar()] = reader.Location(entry.second);
  }
  for (const Field& field : view.features) {
    if (!view.expressions.count(field.name)) {
      return reader.Error(node["expressions"] ? node["expressions"] : node,
                          "no expression for feature '" + field.name + "'");
    }
  }
  for (const auto& [name, text] : view.expressions) {
    if (view.FindFeature(name) == nullptr) {
      return reader.Error(node["expressions"],
                          "expression '" + name + "' is not a feature of the schema");
    }
  }
  ARROW_RETURN_NOT_OK(
      reader.OptionalBool(node, "write_to_online_store", &view.write_to_online_store));
  ARROW_RETURN_NOT_OK(EndObject(reader, node, &view));
  out->on_demand_feature_views.push_back(std::move(view));
  return Status::OK();
}

}  // namespace

Status ParseDefinitions(const std::string& text, const std::string& file_name, Definitions* out) {
  ARROW_ASSIGN_OR_RAISE(YAML::Node root, ParseYaml(text, file_name));
  if (root.IsNull()) return Status::OK();  // an empty file defines nothing
  YamlReader reader(file_name);
  try {
    ARROW_RETURN_NOT_OK(reader.CheckKeys(root, {"entities", "sources", "feature_views",
                                                "feature_services", "on_demand_feature_views"}));
    using Parser = Status (*)(YamlReader&, const YAML::Node&, Definitions*);
    const std::pair<const char*, Parser> sections[] = {
        {"entities", ParseEntity},
        {"sources", ParseSource},
        {"feature_views", ParseFeatureView},
        {"feature_services", ParseFeatureService},
        {"on_demand_feature_views", ParseOnDemandFeatureView}};
    for (const auto& section : sections) {
      Parser parse = section.second;  // a plain variable: lambdas may not capture bindings
      reader.SetContext("");
      ARROW_RETURN_NOT_OK(reader.ForEach(
          root, section.first, [&](const YAML::Node& node) { return parse(reader, node, out); }));
    }
  } catch (const YAML::Exception& error) {
    return Status::Invalid(file_name, ":", error.mark.line + 1, ": ", error.msg);
  }
  return Status::OK();
}

namespace {

template <typename Visit>
void ForEachLocation(Definitions* definitions, Visit visit) {
  for (auto& entity : definitions->entities) visit(entity.location);
  for (auto& source : definitions->sources) visit(source.location);
  for (auto& view : definitions->feature_views) visit(view.location);
  for (auto& service : definitions->feature_services) visit(service.location);
  for (auto& view : definitions->on_demand_feature_views) visit(view.location);
}

}  // namespace

Status ParsePythonDefinitions(const PythonDefinitions& python, const std::string& file_name,
                              Definitions* out) {
  auto python_line = [&](int yaml_line) {
    return yaml_line >= 1 && static_cast<size_t>(yaml_line) <= python.python_lines.size()
               ? python.python_lines[yaml_line - 1]
               : 0;
  };
  Definitions parsed;
  Status status = ParseDefinitions(python.yaml, file_name, &parsed);
  if (!status.ok()) {
    // "file:N: problem" names a YAML line; point at the Python line instead.
    const std::string& message = status.message();
    const std::string prefix = file_name + ":";
    if (message.starts_with(prefix)) {
      size_t end = message.find(':', prefix.size());
      int line = std::atoi(message.substr(prefix.size()).c_str());
      if (end != std::string::npos && line > 0) {
        return Status::Invalid(file_name, ":", python_line(line), message.substr(end));
      }
    }
    return status;
  }
  ForEachLocation(&parsed,
                  [&](SourceLocation& location) { location.line = python_line(location.line); });
  auto append = [](auto& from, auto& to) {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  };
  append(parsed.entities, out->entities);
  append(parsed.sources, out->sources);
  append(parsed.feature_views, out->feature_views);
  append(parsed.feature_services, out->feature_services);
  append(parsed.on_demand_feature_views, out->on_demand_feature_views);
  return Status::OK();
}

Result<Definitions> LoadDefinitions(const RepoConfig& config, const PythonExporter& python) {
  Definitions definitions;
  ARROW_ASSIGN_OR_RAISE(auto files, ListDefinitionFiles(config));
  std::vector<std::filesystem::path> python_files;
  for (const auto& file : files) {
    if (file.extension() == ".py") python_files.push_back(file);
  }
  std::vector<PythonDefinitions> exported;
  if (!python_files.empty()) {
    if (!python) {
      return Status::Invalid(python_files[0].lexically_relative(config.repo_path).string(),
                             ": Python definition files need the headwater Python package");
    }
    ARROW_ASSIGN_OR_RAISE(exported, python(python_files));
    if (exported.size() != python_files.size()) {
      return Status::Invalid("the Python exporter returned ", exported.size(), " files for ",
                             python_files.size());
    }
  }
  size_t next_python = 0;
  for (const auto& file : files) {
    std::string name = file.lexically_relative(config.repo_path).string();
    if (file.extension() == ".py") {
      ARROW_RETURN_NOT_OK(ParsePythonDefinitions(exported[next_python++], name, &definitions));
      continue;
    }
    auto text = ReadFile(file);
    if (!text.ok()) return Status::IOError(name, ": ", text.status().message());
    ARROW_RETURN_NOT_OK(ParseDefinitions(*text, name, &definitions));
  }
  ARROW_RETURN_NOT_OK(Validate(config, &definitions));
  return definitions;
}

namespace {

// The patterns of the repository's .feastignore (Feast's): one glob per line, relative to the
// repository, '#' starting a comment; a pattern naming a directory ignores all beneath it.
std::vector<std::string> FeastIgnorePatterns(const RepoConfig& config) {
  std::vector<std::string> patterns;
  auto text = ReadFile(config.repo_path / ".feastignore");
  if (!text.ok()) return patterns;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    const size_t first = line.find_first_not_of(" \t\r");
    const size_t last = line.find_last_not_of(" \t\r");
    std::string pattern = first == std::string::npos ? "" : line.substr(first, last - first + 1);
    while (pattern.size() > 1 && pattern.back() == '/') pattern.pop_back();
    if (pattern.starts_with("./")) pattern.erase(0, 2);
    if (!pattern.empty()) patterns.push_back(pattern);
  }
  return patterns;
}

// Whether `relative` (a path inside the repository) or a directory above it matches a pattern.
// `*` stays within one path component, `**` crosses them, as in Python's Path.glob.
bool Ignored(const std::vector<std::string>& patterns, const std::filesystem::path& relative) {
  for (std::filesystem::path at = relative; !at.empty(); at = at.parent_path()) {
    for (const std::string& pattern : patterns) {
      const int flags = pattern.find("**") == std::string::npos ? FNM_PATHNAME : 0;
      if (::fnmatch(pattern.c_str(), at.c_str(), flags) == 0) return true;
    }
  }
  return false;
}

}  // namespace

Result<std::vector<std::filesystem::path>> ListDefinitionFiles(const RepoConfig& config) {
  namespace fs = std::filesystem;
  const std::vector<std::string> ignore = FeastIgnorePatterns(config);
  std::vector<fs::path> files;
  std::error_code error;
  fs::recursive_directory_iterator it(config.repo_path, error), end;
  if (error)
    return Status::IOError("cannot list ", config.repo_path.string(), ": ", error.message());
  for (; it != end; it.increment(error)) {
    if (error)
      return Status::IOError("cannot list ", config.repo_path.string(), ": ", error.message());
    const fs::path& path = it->path();
    std::string name = path.filename().string();
    // Symbolic links to directories are not followed, so a link loop among directories is never
    // walked; one among files fails to resolve here and is reported if it looks like a
    // definition file.
    std::error_code type_error;
    if (it->is_directory(type_error)) {
      if (name.starts_with(".") || name == "__pycache__" || name == "node_modules") {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (name == "feature_store.yaml" || name.starts_with(".")) continue;
    if (path.extension() == ".yaml" || path.extension() == ".yml" || path.extension() == ".py") {
      if (Ignored(ignore, path.lexically_relative(config.repo_path))) continue;
      if (type_error) {
        return Status::IOError(path.lexically_relative(config.repo_path).string(),
                               ": cannot read: ", type_error.message());
      }
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace headwater::registry
