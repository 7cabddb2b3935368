#include "headwater/registry/registry_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "headwater/registry/loader.h"
#include "headwater/registry/registry_diff.h"

namespace headwater::registry {
namespace {

Registry Example() {
  Registry registry;
  registry.project = "p";
  registry.version = 3;
  registry.last_updated = *ParseTimestamp("2024-05-01T10:00:00Z");
  Definitions& d = registry.definitions;
  d.entities.push_back(
      {"driver", "driver_id", ScalarKind::kInt64, "team@x", "desc \"quoted\"", {{"a", "b"}}, {}});
  DataSource source;
  source.name = "src";
  source.path = "data/x.parquet";
  source.timestamp_field = "ts";
  source.field_mapping = {{"a", "b"}};
  d.sources.push_back(source);
  FeatureView view;
  view.name = "v";
  view.entities = {"driver"};
  view.ttl = *ParseDuration("1d");
  view.source = "src";
  view.features = {{"f", {ScalarKind::kFloat32, false}}, {"g", {ScalarKind::kInt64, true}}};
  d.feature_views.push_back(view);
  d.feature_services.push_back({"svc", {{"v", {}}, {"v", {"f"}}}, "", "", {}, {}});
  DataSource request;
  request.name = "vals";
  request.type = SourceType::kRequest;
  request.schema = {{"val_to_add", {ScalarKind::kInt64, false}}};
  d.sources.push_back(request);
  OnDemandFeatureView on_demand;
  on_demand.name = "plus";
  on_demand.sources = {{"v", {"f"}}, {"vals", {}}};
  on_demand.features = {{"f_plus", {ScalarKind::kFloat64, false}}};
  on_demand.expressions = {{"f_plus", "f + val_to_add"}};
  on_demand.write_to_online_store = true;
  d.on_demand_feature_views.push_back(on_demand);
  registry.materializations["v"] = {{Timestamp{0}, Timestamp{5}},
                                    {Timestamp{5}, Timestamp{9}, Timestamp{20}, 42}};
  d.feature_views[0].location = {"defs/views.yaml", 12};
  return registry;
}

TEST(RegistryStoreTest, JsonRoundTrips) {
  Registry registry = Example();
  std::string json = RegistryToJson(registry);
  auto parsed = RegistryFromJson(json, "r.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(RegistryToJson(*parsed), json);
  EXPECT_EQ(parsed->definitions.feature_views[0].features[1].dtype,
            (FeatureType{ScalarKind::kInt64, true}));
  EXPECT_EQ(parsed->definitions.sources[1].type, SourceType::kRequest);
  EXPECT_EQ(parsed->definitions.on_demand_feature_views[0].expressions.at("f_plus"),
            "f + val_to_add");
  // Where an object was defined, and when and how much an interval wrote, are kept.
  EXPECT_EQ(parsed->definitions.feature_views[0].location.ToString(), "defs/views.yaml:12");
  EXPECT_EQ(parsed->materializations.at("v")[1].written_at.micros, 20);
  EXPECT_EQ(parsed->materializations.at("v")[1].keys_written, 42);
  EXPECT_EQ(parsed->materializations.at("v")[0].keys_written, 0);
  // A registry written before on-demand views reads as having none.
  std::string old = json;
  old.erase(old.find(",\n  \"on_demand_feature_views\""),
            old.find(",\n  \"materializations\"") - old.find(",\n  \"on_demand_feature_views\""));
  auto before = RegistryFromJson(old, "old.json");
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_TRUE(before->definitions.on_demand_feature_views.empty());
}

TEST(RegistryStoreTest, DamagedFilesAreErrors) {
  EXPECT_FALSE(RegistryFromJson("", "r").ok());
  EXPECT_FALSE(RegistryFromJson("{", "r").ok());
  EXPECT_FALSE(RegistryFromJson("[]", "r").ok());
  EXPECT_NE(RegistryFromJson(R"({"format_version": 99})", "r").status().message().find("format 99"),
            std::string::npos);
  std::string json = RegistryToJson(Example());
  json.replace(json.find("\"ttl\": \"1d\""), 11, "\"ttl\": 5");
  EXPECT_NE(RegistryFromJson(json, "r").status().message().find("'ttl'"), std::string::npos);
}

RepoConfig ConfigIn(const std::filesystem::path& root, const std::string& project = "p") {
  RepoConfig config;
  config.repo_path = root;
  config.project = project;
  config.registry_path = root / "nested" / "registry.json";
  return config;
}

std::filesystem::path TemporaryDirectory(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(RegistryStoreTest, WriteIsAtomicAndReadable) {
  auto dir = TemporaryDirectory("hw_registry_");
  RepoConfig config = ConfigIn(dir);
  auto missing = ReadRegistry(config);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->version, 0);
  ASSERT_TRUE(WriteRegistry(config.registry_path, Example()).ok());
  auto read = ReadRegistry(config);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->version, 3);
  EXPECT_FALSE(ReadRegistry(ConfigIn(dir, "other")).ok());
  // No temporary file is left beside it.
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(config.registry_path.parent_path()))
    files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(dir);
}

TEST(RegistryStoreTest, HandEditedNamesAreRefused) {
  for (const char* kind : {"\"driver\"", "\"src\"", "\"v\"", "\"svc\""}) {
    std::string json = RegistryToJson(Example());
    size_t at = json.find("\"name\": " + std::string(kind));
    ASSERT_NE(at, std::string::npos) << kind;
    json.replace(at, 8 + std::string(kind).size(), "\"name\": \"../../escape\"");
    auto parsed = RegistryFromJson(json, "r.json");
    ASSERT_FALSE(parsed.ok()) << kind;
    EXPECT_NE(parsed.status().message().find("r.json"), std::string::npos);
    EXPECT_NE(parsed.status().message().find("'../../escape'"), std::string::npos)
        << parsed.status().message();
  }
  std::string json = RegistryToJson(Example());
  json.replace(json.find("\"v\": ["), 4, "\"a\\nb\"");
  EXPECT_FALSE(RegistryFromJson(json, "r.json").ok());
}

TEST(RegistryStoreTest, StreamWindowsAreDerivedNotRead) {
  auto dir = TemporaryDirectory("hw_windows_");
  RepoConfig config = ConfigIn(dir);
  config.offline_store.path = "data/offline";
  Registry registry = Example();
  FeatureView& view = registry.definitions.feature_views[0];
  view.aggregations.push_back({"f", "sum", Duration{60'000'000}, Duration{60'000'000}, "s"});
  view.windows.path = "/etc";
  ASSERT_TRUE(WriteRegistry(config.registry_path, registry).ok());
  auto read = ReadRegistry(config);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->definitions.feature_views[0].windows.path, "data/offline/v");
  std::filesystem::remove_all(dir);
}

TEST(RegistryStoreTest, DamagedOrMisplacedRegistriesAreClearErrors) {
  auto dir = TemporaryDirectory("hw_damaged_");
  RepoConfig config = ConfigIn(dir);
  std::filesystem::create_directories(config.registry_path);
  auto read = ReadRegistry(config);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("is a directory"), std::string::npos);
  std::filesystem::remove(config.registry_path);
  std::ofstream(config.registry_path) << std::string(200000, '[') << std::string(200000, ']');
  read = ReadRegistry(config);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("more than 64 deep"), std::string::npos)
      << read.status().message();
  std::filesystem::remove_all(dir);
}

TEST(RegistryStoreTest, DiffNamesAddedChangedAndDeletedObjects) {
  Definitions before = Example().definitions;
  Definitions after = before;
  after.feature_views[0].ttl = *ParseDuration("2d");
  after.feature_views[0].description = "new";
  after.entities.push_back({"rider", "rider_id", ScalarKind::kString, "", "", {}, {}});
  after.feature_services.clear();
  auto changes = Diff(before, after);
  EXPECT_EQ(FormatChanges(changes),
            "+ entity rider\n~ feature_view v (ttl, description)\n- feature_service svc\n");
  EXPECT_TRUE(Diff(before, before).empty());
}

}  // namespace
}  // namespace headwater::registry
