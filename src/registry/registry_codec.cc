#include "headwater/registry/registry_codec.h"

#include <rapidjson/document.h>

#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/registry/loader.h"
#include "object_members.h"

namespace headwater::registry {
namespace {

template <typename T>
void WriteObjects(JsonWriter& writer, const char* key, const std::vector<T>& objects,
                  Members (*members)(const T&)) {
  writer.Key(key).BeginArray();
  for (const T& object : objects) {
    writer.BeginObject();
    for (const auto& [name, value] : members(object)) writer.Key(name).Raw(value);
    // Where the object was defined, at the apply that last changed the registry: shown to
    // people (the web UI), not part of the definition, so plan and apply do not compare it.
    if (!object.location.file.empty()) {
      writer.Key("location").BeginObject().Key("file").String(object.location.file);
      writer.Key("line").Int(object.location.line).EndObject();
    }
    writer.EndObject();
  }
  writer.EndArray();
}

// Reading back. Every accessor names the member it wanted, so a damaged file says where.
class JsonObject {
 public:
  JsonObject(const rapidjson::Value& object, std::string what)
      : object_(object), what_(std::move(what)) {}

  Status String(const char* key, std::string* out) const {
    const rapidjson::Value* value = Member(key);
    if (value == nullptr || !value->IsString()) return Missing(key, "a string");
    out->assign(value->GetString(), value->GetStringLength());
    return Status::OK();
  }
  /// For members added within a format version: absent leaves `out` as it is.
  Status OptionalString(const char* key, std::string* out) const {
    return Member(key) == nullptr ? Status::OK() : String(key, out);
  }
  bool Has(const char* key) const { return Member(key) != nullptr; }
  Status Int(const char* key, int64_t* out) const {
    const rapidjson::Value* value = Member(key);
    if (value == nullptr || !value->IsInt64()) return Missing(key, "an integer");
    *out = value->GetInt64();
    return Status::OK();
  }
  Status Bool(const char* key, bool* out) const {
    const rapidjson::Value* value = Member(key);
    if (value == nullptr || !value->IsBool()) return Missing(key, "a boolean");
    *out = value->GetBool();
    return Status::OK();
  }
  Status StringMap(const char* key, std::map<std::string, std::string>* out) const {
    const rapidjson::Value* map = Member(key);
    if (map == nullptr || !map->IsObject()) return Missing(key, "an object");
    for (const auto& field : map->GetObject()) {
      if (!field.value.IsString()) return Missing(key, "strings");
      (*out)[field.name.GetString()] = field.value.GetString();
    }
    return Status::OK();
  }
  Status Strings(const char* key, std::vector<std::string>* out) const {
    ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* array, Array(key));
    for (const auto& element : array->GetArray()) {
      if (!element.IsString()) return Missing(key, "strings");
      out->emplace_back(element.GetString(), element.GetStringLength());
    }
    return Status::OK();
  }
  Result<const rapidjson::Value*> Object(const char* key) const {
    const rapidjson::Value* object = Member(key);
    if (object == nullptr || !object->IsObject()) return Missing(key, "an object");
    return object;
  }
  Result<const rapidjson::Value*> Array(const char* key) const {
    const rapidjson::Value* array = Member(key);
    if (array == nullptr || !array->IsArray()) return Missing(key, "an array");
    return array;
  }
  const std::string& what() const { return what_; }

 private:
  const rapidjson::Value* Member(const char* key) const {
    auto it = object_.FindMember(key);
    return it == object_.MemberEnd() ? nullptr : &it->value;
  }
  Status Missing(const char* key, const char* expected) const {
    return Status::Invalid(what_, ": member '", key, "' is missing or not ", expected);
  }
  const rapidjson::Value& object_;
  std::string what_;
};

Result<FeatureType> ReadType(const JsonObject& object, const char* key) {
  std::string text;
  ARROW_RETURN_NOT_OK(object.String(key, &text));
  auto type = ParseFeatureType(text);
  if (!type.ok()) return Status::Invalid(object.what(), ": ", type.status().message());
  return type;
}

// Names are checked on the way in as at apply, so a hand-edited registry cannot name a path
// outside the repository or a metric label that breaks the exposition format.
Status CheckNameIn(const JsonObject& root, const char* key, const std::string& name) {
  Status named = CheckName(name);
  if (!named.ok()) return Status::Invalid(root.what(), ": ", key, ": ", named.message());
  return Status::OK();
}

template <typename T>
Status ReadObjects(const JsonObject& root, const char* key, std::vector<T>* out,
                   Status (*read)(const JsonObject&, T*)) {
  ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* array, root.Array(key));
  for (const auto& element : array->GetArray()) {
    if (!element.IsObject()) return Status::Invalid(root.what(), ": ", key, " holds a non-object");
    T value;
    JsonObject object(element, root.what() + " " + key);
    ARROW_RETURN_NOT_OK(read(object, &value));
    if (object.Has("location")) {  // added within format version 1
      ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* location, object.Object("location"));
      JsonObject location_json(*location, object.what() + " location");
      int64_t line = 0;
      ARROW_RETURN_NOT_OK(location_json.String("file", &value.location.file));
      ARROW_RETURN_NOT_OK(location_json.Int("line", &line));
      value.location.line = static_cast<int>(line);
    }
    ARROW_RETURN_NOT_OK(CheckNameIn(root, key, value.name));
    out->push_back(std::move(value));
  }
  return Status::OK();
}

// A duration member added within format version 1: absent reads as zero.
Result<Duration> OptionalDuration(const JsonObject& object, const char* key) {
  std::string text = "0";
  ARROW_RETURN_NOT_OK(object.OptionalString(key, &text));
  auto duration = ParseDuration(text);
  if (!duration.ok())
    return Status::Invalid(object.what(), ": ", key, ": ", duration.status().message());
  return *duration;
}

Status ReadProjections(const JsonObject& object, const char* key,
                       std::vector<FeatureViewProjection>* out) {
  ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* list, object.Array(key));
  for (const auto& element : list->GetArray()) {
    if (!element.IsObject()) {
      return Status::Invalid(object.what(), ": ", key, " holds a non-object");
    }
    JsonObject projection_json(element, object.what() + " projection");
    FeatureViewProjection projection;
    ARROW_RETURN_NOT_OK(projection_json.String("view", &projection.view));
    ARROW_RETURN_NOT_OK(projection_json.Strings("features", &projection.features));
    out->push_back(std::move(projection));
  }
  return Status::OK();
}

Status ReadFields(const JsonObject& object, const char* key, std::vector<Field>* out) {
  ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* list, object.Array(key));
  for (const auto& element : list->GetArray()) {
    if (!element.IsObject()) {
      return Status::Invalid(object.what(), ": ", key, " holds a non-object");
    }
    JsonObject field_json(element, object.what() + " field");
    Field field;
    ARROW_RETURN_NOT_OK(field_json.String("name", &field.name));
    ARROW_ASSIGN_OR_RAISE(field.dtype, ReadType(field_json, "dtype"));
    out->push_back(std::move(field));
  }
  return Status::OK();
}

Status ReadEntity(const JsonObject& object, Entity* entity) {
  ARROW_RETURN_NOT_OK(object.String("name", &entity->name));
  ARROW_RETURN_NOT_OK(object.String("join_key", &entity->join_key));
  ARROW_ASSIGN_OR_RAISE(auto type, ReadType(object, "value_type"));
  entity->value_type = type.kind;
  ARROW_RETURN_NOT_OK(object.OptionalString("owner", &entity->owner));
  ARROW_RETURN_NOT_OK(object.String("description", &entity->description));
  return object.StringMap("tags", &entity->tags);
}

Status ReadSource(const JsonObject& object, DataSource* source) {
  ARROW_RETURN_NOT_OK(object.String("name", &source->name));
  std::string type = "file";
  ARROW_RETURN_NOT_OK(object.OptionalString("type", &type));
  source->type = type == "push"      ? SourceType::kPush
                 : type == "kafka"   ? SourceType::kKafka
                 : type == "request" ? SourceType::kRequest
                                     : SourceType::kFile;
  if (object.Has("schema")) ARROW_RETURN_NOT_OK(ReadFields(object, "schema", &source->schema));
  ARROW_RETURN_NOT_OK(object.OptionalString("batch_source", &source->batch_source));
  ARROW_ASSIGN_OR_RAISE(source->watermark_delay, OptionalDuration(object, "watermark_delay"));
  ARROW_RETURN_NOT_OK(object.OptionalString("bootstrap_servers", &source->bootstrap_servers));
  ARROW_RETURN_NOT_OK(object.OptionalString("topic", &source->topic));
  ARROW_RETURN_NOT_OK(object.OptionalString("format", &source->format));
  ARROW_RETURN_NOT_OK(object.String("path", &source->path));
  ARROW_RETURN_NOT_OK(object.String("timestamp_field", &source->timestamp_field));
  ARROW_RETURN_NOT_OK(object.String("created_timestamp_column", &source->created_timestamp_column));
  ARROW_RETURN_NOT_OK(object.OptionalString("s3_endpoint_override", &source->s3_endpoint_override));
  ARROW_RETURN_NOT_OK(object.StringMap("field_mapping", &source->field_mapping));
  ARROW_RETURN_NOT_OK(object.OptionalString("owner", &source->owner));
  ARROW_RETURN_NOT_OK(object.String("description", &source->description));
  return object.StringMap("tags", &source->tags);
}

Status ReadFeatureView(const JsonObject& object, FeatureView* view) {
  ARROW_RETURN_NOT_OK(object.String("name", &view->name));
  ARROW_RETURN_NOT_OK(object.Strings("entities", &view->entities));
  std::string ttl;
  ARROW_RETURN_NOT_OK(object.String("ttl", &ttl));
  ARROW_ASSIGN_OR_RAISE(view->ttl, ParseDuration(ttl));
  ARROW_RETURN_NOT_OK(object.String("source", &view->source));
  ARROW_RETURN_NOT_OK(object.Bool("online", &view->online));
  if (object.Has("offline")) ARROW_RETURN_NOT_OK(object.Bool("offline", &view->offline));
  ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* features, object.Array("features"));
  for (const auto& element : features->GetArray()) {
    if (!element.IsObject()) return Status::Invalid(object.what(), ": features holds a non-object");
    JsonObject field_json(element, object.what() + " feature");
    Field field;
    ARROW_RETURN_NOT_OK(field_json.String("name", &field.name));
    ARROW_ASSIGN_OR_RAISE(field.dtype, ReadType(field_json, "dtype"));
    view->features.push_back(std::move(field));
  }
  ARROW_RETURN_NOT_OK(object.Bool("schema_inferred", &view->schema_inferred));
  if (object.Has("aggregations")) {
    ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* aggregations, object.Array("aggregations"));
    for (const auto& element : aggregations->GetArray()) {
      if (!element.IsObject()) {
        return Status::Invalid(object.what(), ": aggregations holds a non-object");
      }
      JsonObject aggregation_json(element, object.what() + " aggregation");
      AggregationDef aggregation;
      ARROW_RETURN_NOT_OK(aggregation_json.String("column", &aggregation.column));
      ARROW_RETURN_NOT_OK(aggregation_json.String("function", &aggregation.function));
      ARROW_ASSIGN_OR_RAISE(aggregation.time_window,
                            OptionalDuration(aggregation_json, "time_window"));
      ARROW_ASSIGN_OR_RAISE(aggregation.slide_interval,
                            OptionalDuration(aggregation_json, "slide_interval"));
      ARROW_RETURN_NOT_OK(aggregation_json.String("name", &aggregation.name));
      view->aggregations.push_back(std::move(aggregation));
    }
  }
  ARROW_ASSIGN_OR_RAISE(view->allowed_lateness, OptionalDuration(object, "allowed_lateness"));
  if (view->is_stream()) {
    ARROW_RETURN_NOT_OK(object.String("windows_path", &view->windows.path));
    view->windows.name = view->name + " windows";
    view->windows.timestamp_field = "event_timestamp";
  }
  ARROW_RETURN_NOT_OK(object.String("owner", &view->owner));
  ARROW_RETURN_NOT_OK(object.String("description", &view->description));
  return object.StringMap("tags", &view->tags);
}

Status ReadOnDemandFeatureView(const JsonObject& object, OnDemandFeatureView* view) {
  ARROW_RETURN_NOT_OK(object.String("name", &view->name));
  ARROW_RETURN_NOT_OK(ReadProjections(object, "sources", &view->sources));
  ARROW_RETURN_NOT_OK(ReadFields(object, "features", &view->features));
  ARROW_RETURN_NOT_OK(object.String("mode", &view->mode));
  ARROW_RETURN_NOT_OK(object.StringMap("expressions", &view->expressions));
  ARROW_RETURN_NOT_OK(object.OptionalString("udf", &view->udf));
  ARROW_RETURN_NOT_OK(object.OptionalString("substrait_plan", &view->substrait_plan));
  ARROW_RETURN_NOT_OK(object.Bool("write_to_online_store", &view->write_to_online_store));
  ARROW_RETURN_NOT_OK(object.String("owner", &view->owner));
  ARROW_RETURN_NOT_OK(object.String("description", &view->description));
  return object.StringMap("tags", &view->tags);
}

Status ReadFeatureService(const JsonObject& object, FeatureService* service) {
  ARROW_RETURN_NOT_OK(object.String("name", &service->name));
  ARROW_RETURN_NOT_OK(ReadProjections(object, "features", &service->features));
  ARROW_RETURN_NOT_OK(object.String("owner", &service->owner));
  ARROW_RETURN_NOT_OK(object.String("description", &service->description));
  return object.StringMap("tags", &service->tags);
}

}  // namespace

std::string RegistryToJson(const Registry& registry, int indent) {
  JsonWriter writer(indent);
  writer.BeginObject();
  writer.Key("format_version").Int(Registry::kFormatVersion);
  writer.Key("project").String(registry.project);
  writer.Key("version").Int(registry.version);
  writer.Key("last_updated").String(FormatTimestamp(registry.last_updated));
  const Definitions& d = registry.definitions;
  WriteObjects(writer, "entities", d.entities, EntityMembers);
  WriteObjects(writer, "sources", d.sources, SourceMembers);
  WriteObjects(writer, "feature_views", d.feature_views, FeatureViewMembers);
  WriteObjects(writer, "feature_services", d.feature_services, FeatureServiceMembers);
  WriteObjects(writer, "on_demand_feature_views", d.on_demand_feature_views,
               OnDemandFeatureViewMembers);
  writer.Key("materializations").BeginObject();
  for (const auto& [view, intervals] : registry.materializations) {
    writer.Key(view).BeginArray();
    for (const MaterializationInterval& interval : intervals) {
      writer.BeginObject().Key("start").String(FormatTimestamp(interval.start));
      writer.Key("end").String(FormatTimestamp(interval.end));
      if (interval.written_at.micros != 0) {
        writer.Key("written_at").String(FormatTimestamp(interval.written_at));
        writer.Key("keys_written").Int(interval.keys_written);
      }
      writer.EndObject();
    }
    writer.EndArray();
  }
  writer.EndObject();
  writer.EndObject();
  std::string out = writer.Take();
  out.push_back('\n');
  return out;
}

Result<Registry> RegistryFromJson(const std::string& text, const std::string& what) {
  rapidjson::Document document;
  ARROW_RETURN_NOT_OK(ParseJson(text, "registry " + what, &document));
  if (!document.IsObject()) return Status::Invalid(what, " is not a registry file: not an object");
  JsonObject root(document, what);
  int64_t format_version = 0;
  ARROW_RETURN_NOT_OK(root.Int("format_version", &format_version));
  if (format_version != Registry::kFormatVersion) {
    return Status::Invalid(what, " has registry format ", format_version, "; this headwater reads ",
                           Registry::kFormatVersion);
  }
  Registry registry;
  ARROW_RETURN_NOT_OK(root.String("project", &registry.project));
  ARROW_RETURN_NOT_OK(root.Int("version", &registry.version));
  std::string updated;
  ARROW_RETURN_NOT_OK(root.String("last_updated", &updated));
  ARROW_ASSIGN_OR_RAISE(registry.last_updated, ParseTimestamp(updated));
  Definitions& d = registry.definitions;
  ARROW_RETURN_NOT_OK(ReadObjects(root, "entities", &d.entities, ReadEntity));
  ARROW_RETURN_NOT_OK(ReadObjects(root, "sources", &d.sources, ReadSource));
  ARROW_RETURN_NOT_OK(ReadObjects(root, "feature_views", &d.feature_views, ReadFeatureView));
  ARROW_RETURN_NOT_OK(
      ReadObjects(root, "feature_services", &d.feature_services, ReadFeatureService));
  if (root.Has("on_demand_feature_views")) {  // added within format version 1
    ARROW_RETURN_NOT_OK(ReadObjects(root, "on_demand_feature_views", &d.on_demand_feature_views,
                                    ReadOnDemandFeatureView));
  }
  if (!root.Has("materializations")) return registry;
  ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* materializations, root.Object("materializations"));
  for (const auto& view : materializations->GetObject()) {
    if (!view.value.IsArray()) return Status::Invalid(what, ": materializations must hold arrays");
    const std::string name(view.name.GetString(), view.name.GetStringLength());
    ARROW_RETURN_NOT_OK(CheckNameIn(root, "materializations", name));
    auto& intervals = registry.materializations[name];
    for (const auto& element : view.value.GetArray()) {
      if (!element.IsObject()) return Status::Invalid(what, ": a materialization is not an object");
      JsonObject interval_json(element, what + " materialization");
      std::string start, end;
      ARROW_RETURN_NOT_OK(interval_json.String("start", &start));
      ARROW_RETURN_NOT_OK(interval_json.String("end", &end));
      MaterializationInterval interval;
      ARROW_ASSIGN_OR_RAISE(interval.start, ParseTimestamp(start));
      ARROW_ASSIGN_OR_RAISE(interval.end, ParseTimestamp(end));
      if (interval_json.Has("written_at")) {  // added within format version 1
        std::string written_at;
        ARROW_RETURN_NOT_OK(interval_json.String("written_at", &written_at));
        ARROW_ASSIGN_OR_RAISE(interval.written_at, ParseTimestamp(written_at));
        ARROW_RETURN_NOT_OK(interval_json.Int("keys_written", &interval.keys_written));
      }
      intervals.push_back(interval);
    }
  }
  return registry;
}

}  // namespace headwater::registry
