#include "object_members.h"

#include "headwater/core/json_writer.h"
#include "headwater/core/time.h"

namespace headwater::registry {
namespace {

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

std::string JsonFields(const std::vector<Field>& fields) {
  JsonWriter writer;
  writer.BeginArray();
  for (const Field& field : fields) {
    writer.BeginObject().Key("name").String(field.name);
    writer.Key("dtype").String(FormatFeatureType(field.dtype)).EndObject();
  }
  writer.EndArray();
  return writer.Take();
}

std::string JsonProjections(const std::vector<FeatureViewProjection>& projections) {
  JsonWriter writer;
  writer.BeginArray();
  for (const FeatureViewProjection& projection : projections) {
    writer.BeginObject().Key("view").String(projection.view);
    writer.Key("features").Raw(JsonStrings(projection.features)).EndObject();
  }
  writer.EndArray();
  return writer.Take();
}

}  // namespace

Members EntityMembers(const Entity& entity) {
  return {{"name", JsonText(entity.name)},
          {"join_key", JsonText(entity.join_key)},
          {"value_type", JsonText(FormatFeatureType({entity.value_type, false}))},
          {"owner", JsonText(entity.owner)},
          {"description", JsonText(entity.description)},
          {"tags", JsonTags(entity.tags)}};
}

Members SourceMembers(const DataSource& source) {
  Members members{{"name", JsonText(source.name)},
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
                  {"schema", JsonFields(source.schema)},
                  {"owner", JsonText(source.owner)},
                  {"description", JsonText(source.description)},
                  {"tags", JsonTags(source.tags)}};
  if (!source.s3_endpoint_override.empty()) {
    members.insert(members.begin() + 8,
                   {"s3_endpoint_override", JsonText(source.s3_endpoint_override)});
  }
  return members;
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
  return {{"name", JsonText(service.name)},
          {"features", JsonProjections(service.features)},
          {"owner", JsonText(service.owner)},
          {"description", JsonText(service.description)},
          {"tags", JsonTags(service.tags)}};
}

Members OnDemandFeatureViewMembers(const OnDemandFeatureView& view) {
  return {{"name", JsonText(view.name)},
          {"sources", JsonProjections(view.sources)},
          {"features", JsonFields(view.features)},
          {"mode", JsonText(view.mode)},
          {"expressions", JsonTags(view.expressions)},
          {"udf", JsonText(view.udf)},
          {"substrait_plan", JsonText(view.substrait_plan)},
          {"write_to_online_store", view.write_to_online_store ? "true" : "false"},
          {"owner", JsonText(view.owner)},
          {"description", JsonText(view.description)},
          {"tags", JsonTags(view.tags)}};
}

}  // namespace headwater::registry
