// Feast's listings of the applied registry: `<kind> list` as a table of Feast's columns (or JSON)
// and `<kind> describe NAME` as the registry holds the object. An adapter over the core.

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <iostream>

#include "commands.h"
#include "headwater/core/json_writer.h"
#include "headwater/registry/registry_codec.h"
#include "headwater/store/feature_store.h"

namespace headwater::cli {
namespace {

using registry::Definitions;
using Row = std::vector<std::string>;

// One object of the listing: its name, tags, table cells (after the name).
struct Listed {
  std::string name;
  const registry::Tags* tags;
  Row cells;
};

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The objects of `kind` with Feast's columns (feast <kind> list), and the registry member
// holding them.
std::pair<Row, std::vector<Listed>> Objects(const Definitions& d, const std::string& kind,
                                            std::string* member) {
  std::vector<Listed> out;
  if (kind == "entities") {
    *member = "entities";
    for (const auto& e : d.entities) {
      out.push_back({e.name, &e.tags, {e.description, FormatFeatureType({e.value_type, false})}});
    }
    return {{"NAME", "DESCRIPTION", "TYPE"}, out};
  }
  if (kind == "data-sources") {
    *member = "sources";
    for (const auto& s : d.sources) {  // Feast's class names
      const char* classes[] = {"FileSource", "PushSource", "KafkaSource", "RequestSource"};
      out.push_back({s.name, &s.tags, {classes[static_cast<int>(s.type)]}});
    }
    return {{"NAME", "CLASS"}, out};
  }
  if (kind == "feature-services") {
    *member = "feature_services";
    for (const auto& s : d.feature_services) {
      std::vector<std::string> features;
      for (const auto& projection : s.features) {
        std::vector<std::string> names = projection.features;
        if (names.empty()) {  // the whole view
          if (const auto* view = d.FindFeatureView(projection.view)) {
            for (const auto& field : view->features) names.push_back(field.name);
          } else if (const auto* on_demand = d.FindOnDemandFeatureView(projection.view)) {
            for (const auto& field : on_demand->features) names.push_back(field.name);
          }
        }
        for (const auto& feature : names) features.push_back(projection.view + ":" + feature);
      }
      out.push_back({s.name, &s.tags, {Join(features)}});
    }
    return {{"NAME", "FEATURES"}, out};
  }
  if (kind == "on-demand-feature-views") {
    *member = "on_demand_feature_views";
    for (const auto& v : d.on_demand_feature_views) out.push_back({v.name, &v.tags, {}});
    return {{"NAME"}, out};
  }
  *member = "feature_views";  // feature-views: plain and stream views, then on-demand ones
  for (const auto& v : d.feature_views) {
    out.push_back(
        {v.name, &v.tags, {Join(v.entities), v.is_stream() ? "StreamFeatureView" : "FeatureView"}});
  }
  for (const auto& v : d.on_demand_feature_views) {
    std::vector<std::string> entities;
    for (const auto& source : v.sources) {
      if (const auto* view = d.FindFeatureView(source.view)) {
        for (const auto& e : view->entities) {
          if (std::find(entities.begin(), entities.end(), e) == entities.end()) {
            entities.push_back(e);
          }
        }
      }
    }
    out.push_back(
        {v.name, &v.tags, {entities.empty() ? "n/a" : Join(entities), "OnDemandFeatureView"}});
  }
  return {{"NAME", "ENTITIES", "TYPE"}, out};
}

// Every "key:value" of `wanted` among `tags`.
Result<bool> HasTags(const registry::Tags& tags, const std::vector<std::string>& wanted) {
  for (const std::string& pair : wanted) {
    const size_t colon = pair.find(':');
    if (colon == std::string::npos) {
      return Status::Invalid("--tags: '", pair, "' is not key:value");
    }
    auto found = tags.find(pair.substr(0, colon));
    if (found == tags.end() || found->second != pair.substr(colon + 1)) return false;
  }
  return true;
}

// Columns padded to their widest cell, two spaces apart (Feast's plain tables).
void PrintTable(const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const Row& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto print = [&](const Row& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += c + 1 == row.size() ? row[c] : fmt::format("{:<{}}  ", row[c], width[c]);
    }
    std::cout << line << "\n";
  };
  print(header);
  for (const Row& row : rows) print(row);
}

}  // namespace

Status RunListing(const GlobalOptions& global, const ListingArguments& arguments) {
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto applied, store->Applied());
  std::string member;
  auto [header, objects] = Objects(applied->registry.definitions, arguments.kind, &member);
  if (arguments.action == "list") {
    std::vector<Row> rows;
    JsonWriter json;
    json.BeginArray();
    for (const Listed& object : objects) {
      ARROW_ASSIGN_OR_RAISE(bool wanted, HasTags(*object.tags, arguments.tags));
      if (!wanted) continue;
      Row row = {object.name};
      row.insert(row.end(), object.cells.begin(), object.cells.end());
      json.BeginObject();
      for (size_t c = 0; c < header.size(); ++c) {
        std::string key = header[c];
        std::transform(key.begin(), key.end(), key.begin(), ::tolower);
        json.Key(key).String(row[c]);
      }
      json.EndObject();
      rows.push_back(std::move(row));
    }
    json.EndArray();
    if (arguments.json) {
      std::cout << json.Take() << "\n";
    } else {
      PrintTable(header, rows);
    }
    return Status::OK();
  }
  // describe: the object as the registry file holds it.
  rapidjson::Document document;
  document.Parse(registry::RegistryToJson(applied->registry, 0).c_str());
  if (document.HasMember(member.c_str()) && document[member.c_str()].IsArray()) {
    for (const auto& object : document[member.c_str()].GetArray()) {
      if (object.IsObject() && object.HasMember("name") && object["name"].IsString() &&
          arguments.name == object["name"].GetString()) {
        rapidjson::StringBuffer text;
        rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(text);
        writer.SetIndent(' ', 2);
        object.Accept(writer);
        std::cout << text.GetString() << "\n";
        return Status::OK();
      }
    }
  }
  std::string singular = arguments.kind.substr(0, arguments.kind.size() - 1);
  if (arguments.kind == "entities") singular = "entity";
  return Status::KeyError("no ", singular, " named '", arguments.name, "' is applied");
}

}  // namespace headwater::cli
