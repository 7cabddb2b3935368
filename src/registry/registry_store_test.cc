#include "headwater/registry/registry_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "headwater/registry/loader.h"

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
  registry.materializations["v"] = {{Timestamp{0}, Timestamp{5}}, {Timestamp{5}, Timestamp{9}}};
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

TEST(RegistryStoreTest, WriteIsAtomicAndReadable) {
  auto dir = std::filesystem::temp_directory_path() / ("hw_registry_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto path = dir / "nested" / "registry.json";
  auto missing = ReadRegistry(path, "p");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->version, 0);
  ASSERT_TRUE(WriteRegistry(path, Example()).ok());
  auto read = ReadRegistry(path, "p");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->version, 3);
  EXPECT_FALSE(ReadRegistry(path, "other").ok());
  // No temporary file is left beside it.
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(path.parent_path()))
    files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
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
