#include "headwater/registry/registry_store.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "headwater/core/file.h"
#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/registry/loader.h"

namespace headwater::registry {
namespace {

// An object as (member, compact JSON value) pairs: the unit both serialisation and diff use.
using Members = std::vector<std::pair<std::string, std::string>>;

std::string JsonText(std::string_view value) {
  std::string out;
  AppendJsonString(out, value);
  return out;
}

std::string JsonTags(const std::map<std::string, std::string>& tags) {
  JsonWriter writer;
  writer.BeginObject();
  for (const auto& [key, value] : tags) writer.Key(key).String(value);
  writer.EndObject();
  return writer.Take();
}

std::string JsonStrings(const std::vector<std::string>& values) {
  JsonWriter writer;
  writer.BeginArray();
  for (const auto& value : values) writer.String(value);
  writer.EndArray();
  return writer.Take();
}

Members EntityMembers(const Entity& entity) {
  return {{"name", JsonText(entity.name)},
          {"join_key", JsonText(entity.join_key)},
          {"value_type", JsonText(FormatFeatureType({entity.value_type, false}))},
          {"owner", JsonText(entity.owner)},
          {"description", JsonText(entity.description)},
          {"tags", JsonTags(entity.tags)}};
}

Members SourceMembers(const DataSource& source) {
  return {{"name", JsonText(source.name)},
          {"type", JsonText(SourceTypeName(source.type))},
          {"batch_source", JsonText(source.batch_source)},
          {"watermark_delay", JsonText(FormatDuration(source.watermark_delay))},
          {"bootstrap_servers", JsonText(source.bootstrap_servers)},
          {"topic", JsonText(source.topic)},
          {"format", JsonText(source.format)},
          {"path", JsonText(source.path)},
          {"timestamp_field", JsonText(source.timestamp_field)},
          {"created_timestamp_column", JsonText(source.created_timestamp_column)},
          {"field_mapping", JsonTags(source.field_mapping)},
          {"owner", JsonText(source.owner)},
          {"description", JsonText(source.description)},
          {"tags", JsonTags(source.tags)}};
}

Members FeatureViewMembers(const FeatureView& view) {
  JsonWriter features;
  features.BeginArray();
  for (const Field& field : view.features) {
    features.BeginObject().Key("name").String(field.name);
    features.Key("dtype").String(FormatFeatureType(field.dtype)).EndObject();
  }
  features.EndArray();
  JsonWriter aggregations;
  aggregations.BeginArray();
  for (const AggregationDef& aggregation : view.aggregations) {
    aggregations.BeginObject().Key("column").String(aggregation.column);
    aggregations.Key("function").String(aggregation.function);
    aggregations.Key("time_window").String(FormatDuration(aggregation.time_window));
    aggregations.Key("slide_interval").String(FormatDuration(aggregation.slide_interval));
    aggregations.Key("name").String(aggregation.name).EndObject();
  }
  aggregations.EndArray();
  return {{"name", JsonText(view.name)},
          {"entities", JsonStrings(view.entities)},
          {"aggregations", aggregations.Take()},
          {"allowed_lateness", JsonText(FormatDuration(view.allowed_lateness))},
          {"windows_path", JsonText(view.windows.path)},
          {"ttl", JsonText(FormatDuration(view.ttl))},
          {"source", JsonText(view.source)},
          {"online", view.online ? "true" : "false"},
          {"offline", view.offline ? "true" : "false"},
          {"features", features.Take()},
          {"schema_inferred", view.schema_inferred ? "true" : "false"},
          {"owner", JsonText(view.owner)},
          {"description", JsonText(view.description)},
          {"tags", JsonTags(view.tags)}};
}

Members FeatureServiceMembers(const FeatureService& service) {
  JsonWriter features;
  features.BeginArray();
  for (const FeatureViewProjection& projection : service.features) {
    features.BeginObject().Key("view").String(projection.view);
    features.Key("features").Raw(JsonStrings(projection.features)).EndObject();
  }
  features.EndArray();
  return {{"name", JsonText(service.name)},
          {"features", features.Take()},
          {"owner", JsonText(service.owner)},
          {"description", JsonText(service.description)},
          {"tags", JsonTags(service.tags)}};
}

template <typename T>
void WriteObjects(JsonWriter& writer, const char* key, const std::vector<T>& objects,
                  Members (*members)(const T&)) {
  writer.Key(key).BeginArray();
  for (const T& object : objects) {
    writer.BeginObject();
    for (const auto& [name, value] : members(object)) writer.Key(name).Raw(value);
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
    ARROW_RETURN_NOT_OK(read(JsonObject(element, root.what() + " " + key), &value));
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
  source->type = type == "push"    ? SourceType::kPush
                 : type == "kafka" ? SourceType::kKafka
                                   : SourceType::kFile;
  ARROW_RETURN_NOT_OK(object.OptionalString("batch_source", &source->batch_source));
  ARROW_ASSIGN_OR_RAISE(source->watermark_delay, OptionalDuration(object, "watermark_delay"));
  ARROW_RETURN_NOT_OK(object.OptionalString("bootstrap_servers", &source->bootstrap_servers));
  ARROW_RETURN_NOT_OK(object.OptionalString("topic", &source->topic));
  ARROW_RETURN_NOT_OK(object.OptionalString("format", &source->format));
  ARROW_RETURN_NOT_OK(object.String("path", &source->path));
  ARROW_RETURN_NOT_OK(object.String("timestamp_field", &source->timestamp_field));
  ARROW_RETURN_NOT_OK(object.String("created_timestamp_column", &source->created_timestamp_column));
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

Status ReadFeatureService(const JsonObject& object, FeatureService* service) {
  ARROW_RETURN_NOT_OK(object.String("name", &service->name));
  ARROW_ASSIGN_OR_RAISE(const rapidjson::Value* features, object.Array("features"));
  for (const auto& element : features->GetArray()) {
    if (!element.IsObject()) return Status::Invalid(object.what(), ": features holds a non-object");
    JsonObject projection_json(element, object.what() + " projection");
    FeatureViewProjection projection;
    ARROW_RETURN_NOT_OK(projection_json.String("view", &projection.view));
    ARROW_RETURN_NOT_OK(projection_json.Strings("features", &projection.features));
    service->features.push_back(std::move(projection));
  }
  ARROW_RETURN_NOT_OK(object.String("owner", &service->owner));
  ARROW_RETURN_NOT_OK(object.String("description", &service->description));
  return object.StringMap("tags", &service->tags);
}

template <typename T>
void DiffObjects(const std::vector<T>& before, const std::vector<T>& after, const char* type,
                 Members (*members)(const T&), std::vector<Change>* changes,
                 std::vector<Change>* deletions) {
  for (const T& object : after) {
    auto old = std::find_if(before.begin(), before.end(),
                            [&](const T& o) { return o.name == object.name; });
    if (old == before.end()) {
      changes->push_back({Change::Kind::kAdd, type, object.name, {}});
      continue;
    }
    Members a = members(*old), b = members(object);
    std::vector<std::string> fields;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].second != b[i].second) fields.push_back(a[i].first);
    }
    if (!fields.empty()) changes->push_back({Change::Kind::kUpdate, type, object.name, fields});
  }
  for (const T& object : before) {
    bool kept =
        std::any_of(after.begin(), after.end(), [&](const T& o) { return o.name == object.name; });
    if (!kept) deletions->push_back({Change::Kind::kDelete, type, object.name, {}});
  }
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
  writer.Key("materializations").BeginObject();
  for (const auto& [view, intervals] : registry.materializations) {
    writer.Key(view).BeginArray();
    for (const MaterializationInterval& interval : intervals) {
      writer.BeginObject().Key("start").String(FormatTimestamp(interval.start));
      writer.Key("end").String(FormatTimestamp(interval.end)).EndObject();
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
      intervals.push_back(interval);
    }
  }
  return registry;
}

Result<Registry> ReadRegistry(const RepoConfig& config) {
  const std::filesystem::path& path = config.registry_path;
  std::error_code error;
  if (!std::filesystem::exists(path, error) && !error) {
    Registry empty;
    empty.project = config.project;
    return empty;
  }
  ARROW_ASSIGN_OR_RAISE(std::string text, ReadFile(path));
  ARROW_ASSIGN_OR_RAISE(Registry registry, RegistryFromJson(text, path.string()));
  if (registry.project != config.project) {
    return Status::Invalid("registry ", path.string(), " belongs to project '", registry.project,
                           "', not '", config.project, "'");
  }
  // Derived paths come from the configuration and the (checked) names, never from the file.
  for (FeatureView& view : registry.definitions.feature_views) {
    if (view.is_stream()) {
      ARROW_ASSIGN_OR_RAISE(view.windows, WindowsSource(config, view));
    }
  }
  return registry;
}

Status WriteRegistry(const std::filesystem::path& path, const Registry& registry) {
  return WriteFileAtomically(path, RegistryToJson(registry));
}

Result<RegistryLock> RegistryLock::Acquire(const std::filesystem::path& registry_path) {
  std::error_code error;
  std::filesystem::create_directories(registry_path.parent_path(), error);
  std::string lock_path = registry_path.string() + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open lock file ", lock_path);
  if (::flock(fd, LOCK_EX) != 0) {
    ::close(fd);
    return Status::IOError("cannot lock ", lock_path);
  }
  return RegistryLock(fd);
}

RegistryLock::~RegistryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

std::vector<Change> Diff(const Definitions& before, const Definitions& after) {
  std::vector<Change> changes, deletions;
  DiffObjects(before.entities, after.entities, "entity", EntityMembers, &changes, &deletions);
  DiffObjects(before.sources, after.sources, "data_source", SourceMembers, &changes, &deletions);
  DiffObjects(before.feature_views, after.feature_views, "feature_view", FeatureViewMembers,
              &changes, &deletions);
  DiffObjects(before.feature_services, after.feature_services, "feature_service",
              FeatureServiceMembers, &changes, &deletions);
  changes.insert(changes.end(), deletions.begin(), deletions.end());
  return changes;
}

std::string FormatChanges(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& change : changes) {
    char sign = change.kind == Change::Kind::kAdd      ? '+'
                : change.kind == Change::Kind::kUpdate ? '~'
                                                       : '-';
    out += std::string(1, sign) + " " + change.object_type + " " + change.name;
    if (!change.fields.empty()) {
      out += " (";
      for (size_t i = 0; i < change.fields.size(); ++i) out += (i ? ", " : "") + change.fields[i];
      out += ")";
    }
    out += "\n";
  }
  return out;
}

}  // namespace headwater::registry
