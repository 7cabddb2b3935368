#include <gtest/gtest.h>

#include "headwater/registry/loader.h"

namespace headwater::registry {
namespace {

Definitions Parse(const std::string& yaml) {
  Definitions out;
  auto status = ParseDefinitions(yaml, "defs.yaml", &out);
  EXPECT_TRUE(status.ok()) << status.message();
  return out;
}

std::string ParseError(const std::string& yaml) {
  Definitions out;
  auto status = ParseDefinitions(yaml, "defs.yaml", &out);
  EXPECT_FALSE(status.ok()) << "expected an error for:\n" << yaml;
  return status.message();
}

constexpr const char* kDriverExample = R"(
entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64, description: "d", tags: {a: b}, owner: o}
sources:
  - name: driver_stats_source
    type: file
    path: data/driver_stats.parquet
    timestamp_field: event_timestamp
    created_timestamp_column: created
    field_mapping: {trips: avg_daily_trips}
feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    ttl: 1d
    source: driver_stats_source
    online: false
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}
    tags: {team: drivers}
    owner: "me"
feature_services:
  - name: driver_activity
    features:
      - driver_hourly_stats
      - driver_hourly_stats: [conv_rate]
)";

TEST(ParseDefinitionsTest, ReadsTheDriverExample) {
  Definitions d = Parse(kDriverExample);
  ASSERT_EQ(d.entities.size(), 1u);
  EXPECT_EQ(d.entities[0].join_key, "driver_id");
  EXPECT_EQ(d.entities[0].tags.at("a"), "b");
  EXPECT_EQ(d.entities[0].owner, "o");
  EXPECT_EQ(d.entities[0].location.ToString(), "defs.yaml:3");
  ASSERT_EQ(d.sources.size(), 1u);
  EXPECT_EQ(d.sources[0].field_mapping.at("trips"), "avg_daily_trips");
  ASSERT_EQ(d.feature_views.size(), 1u);
  const FeatureView& view = d.feature_views[0];
  EXPECT_EQ(view.ttl.micros, 86400LL * 1000000);
  EXPECT_FALSE(view.online);
  EXPECT_FALSE(view.schema_inferred);
  ASSERT_EQ(view.features.size(), 2u);
  EXPECT_EQ(view.features[0].dtype.kind, ScalarKind::kFloat32);
  ASSERT_EQ(d.feature_services.size(), 1u);
  EXPECT_TRUE(d.feature_services[0].features[0].features.empty());
  EXPECT_EQ(d.feature_services[0].features[1].features, std::vector<std::string>{"conv_rate"});
}

TEST(ParseDefinitionsTest, EmptyFileDefinesNothing) {
  Definitions d = Parse("");
  EXPECT_TRUE(d.entities.empty());
}

TEST(ParseDefinitionsTest, EntityJoinKeyDefaultsToItsName) {
  Definitions d = Parse("entities: [{name: user}]");
  EXPECT_EQ(d.entities[0].join_key, "user");
  EXPECT_EQ(d.entities[0].value_type, ScalarKind::kInt64);
}

TEST(ParseDefinitionsTest, ErrorsNameFileLineAndObject) {
  std::string error = ParseError("feature_views:\n  - name: v\n    source: s\n    ttl: 1x\n");
  EXPECT_NE(error.find("defs.yaml:4"), std::string::npos) << error;
  EXPECT_NE(error.find("feature_view 'v'"), std::string::npos) << error;
  EXPECT_NE(error.find("'1x' is not a duration"), std::string::npos) << error;
}

TEST(ParseDefinitionsTest, UnknownFieldsAreErrors) {
  std::string error = ParseError("feature_views:\n  - name: v\n    source: s\n    ttll: 1d\n");
  EXPECT_NE(error.find("defs.yaml:4"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown field 'ttll'"), std::string::npos) << error;
  EXPECT_NE(ParseError("entitees: []").find("unknown field 'entitees'"), std::string::npos);
}

TEST(ParseDefinitionsTest, RejectsMalformedValues) {
  EXPECT_NE(ParseError("entities: [{name: e, value_type: FLOAT}]").find("join key must be"),
            std::string::npos);
  EXPECT_NE(ParseError("entities: [{name: e, join_keys: [a, b]}]").find("exactly one join key"),
            std::string::npos);
  EXPECT_NE(ParseError("feature_views: [{name: v, source: s, schema: [{name: f, dtype: Flot}]}]")
                .find("unknown type 'Flot'"),
            std::string::npos);
  EXPECT_NE(ParseError("feature_views: [{name: v}]").find("missing required field 'source'"),
            std::string::npos);
  EXPECT_NE(
      ParseError("feature_views: [{name: v, source: s, online: maybe}]").find("true or false"),
      std::string::npos);
  EXPECT_NE(ParseError("sources: [{name: s, type: kafkaa, path: p, timestamp_field: t}]")
                .find("unknown source type"),
            std::string::npos);
  EXPECT_NE(ParseError("feature_services: [{name: s, features: []}]").find("non-empty list"),
            std::string::npos);
  EXPECT_NE(ParseError("entities: {name: e}").find("must be a list"), std::string::npos);
  EXPECT_NE(ParseError("entities: [[1, 2]]").find("expected a mapping"), std::string::npos);
  EXPECT_NE(ParseError("entities: [{name: [a, b]}]").find("single value"), std::string::npos);
}

TEST(ParseDefinitionsTest, RequestSourcesAndOnDemandViews) {
  Definitions d;
  ASSERT_TRUE(ParseDefinitions(
                  "sources:\n"
                  "  - {name: vals, type: request, schema: [{name: val_to_add, dtype: Int64}]}\n"
                  "on_demand_feature_views:\n"
                  "  - name: transformed\n"
                  "    sources: [stats, {vals: [val_to_add]}]\n"
                  "    schema: [{name: plus, dtype: Float64}]\n"
                  "    expressions: {plus: conv_rate + val_to_add}\n"
                  "    write_to_online_store: true\n",
                  "defs.yaml", &d)
                  .ok());
  ASSERT_EQ(d.sources.size(), 1u);
  EXPECT_EQ(d.sources[0].type, SourceType::kRequest);
  EXPECT_EQ(d.sources[0].schema[0].name, "val_to_add");
  ASSERT_EQ(d.on_demand_feature_views.size(), 1u);
  const OnDemandFeatureView& view = d.on_demand_feature_views[0];
  EXPECT_EQ(view.sources[1].view, "vals");
  EXPECT_EQ(view.sources[1].features, std::vector<std::string>{"val_to_add"});
  EXPECT_EQ(view.expressions.at("plus"), "conv_rate + val_to_add");
  EXPECT_EQ(view.expression_locations.at("plus").line, 7);
  EXPECT_TRUE(view.write_to_online_store);
  const std::string odfv =
      "on_demand_feature_views: [{name: o, sources: [v], schema: [{name: f, dtype: Float64}]";
  EXPECT_NE(ParseError(odfv + ", expressions: {g: 1}}]").find("no expression for feature 'f'"),
            std::string::npos);
  EXPECT_NE(ParseError(odfv + ", expressions: {f: 1, g: 2}}]")
                .find("expression 'g' is not a feature of the schema"),
            std::string::npos);
  EXPECT_NE(ParseError(odfv + ", mode: pandas, expressions: {f: 1}}]")
                .find("mode 'pandas' takes a 'udf' (the source of a Python function) and no "
                      "'expressions'"),
            std::string::npos);
  EXPECT_NE(ParseError(odfv + ", mode: sql, expressions: {f: 1}}]")
                .find("mode 'sql' is not supported (supported: expression, substrait, pandas, "
                      "python)"),
            std::string::npos);
  EXPECT_NE(ParseError(odfv + ", mode: substrait, expressions: {f: 1}}]")
                .find("mode 'substrait' takes a 'substrait_plan' (a serialized Substrait plan, "
                      "base64) and no 'expressions'"),
            std::string::npos);
  EXPECT_NE(ParseError(odfv + ", substrait_plan: AAAA, expressions: {f: 1}}]")
                .find("a 'substrait_plan' needs mode substrait"),
            std::string::npos);
  EXPECT_NE(ParseError(odfv + ", udf: 'def f(x): return x', expressions: {f: 1}}]")
                .find("a 'udf' needs mode pandas or python"),
            std::string::npos);
  EXPECT_NE(ParseError("on_demand_feature_views: [{name: o, sources: [v], expressions: {}}]")
                .find("needs a 'schema'"),
            std::string::npos);
  EXPECT_NE(ParseError("sources: [{name: r, type: request}]").find("needs a 'schema'"),
            std::string::npos);
  EXPECT_NE(ParseError("sources: [{name: r, type: request, path: p, schema: [{name: a, dtype: "
                       "Int64}]}]")
                .find("a request source has only a schema, not 'path'"),
            std::string::npos);
  EXPECT_NE(ParseError("sources: [{name: s, path: p, timestamp_field: t, schema: []}]")
                .find("'schema' belongs to request sources"),
            std::string::npos);
}

TEST(ParseDefinitionsTest, InvalidYamlReportsPosition) {
  std::string error = ParseError("entities:\n  - {name: e\n");
  EXPECT_NE(error.find("defs.yaml:"), std::string::npos) << error;
  EXPECT_NE(error.find("invalid YAML"), std::string::npos) << error;
}

TEST(ParseDefinitionsTest, HostileInputDoesNotCrash) {
  for (const char* text : {"\x00\x01\x02", "[", "{", "- - - -", "&a [*a]", "!!binary AAAA",
                           "entities: [{name: e, tags: [1]}]", "? [a]\n: b",
                           "entities: [{name: e, join_keys: {a: b}}]"}) {
    Definitions out;
    (void)ParseDefinitions(text, "x.yaml", &out);  // must return, never crash or throw
  }
}

TEST(ParseDefinitionsTest, EveryObjectNameFollowsOneRule) {
  for (const char* good : {"driver", "7day-stats_v2", "A", "_x"}) {
    EXPECT_TRUE(CheckName(good).ok()) << good;
    Parse(std::string("entities: [{name: ") + good + "}]\n");
  }
  EXPECT_TRUE(CheckName(std::string(kMaxNameLength, 'x')).ok());
  for (std::string bad : std::initializer_list<std::string>{
           "../x", "a/b", "..", ".", "", "-x", "a b", "a\"b", "a\nb", "caf\xc3\xa9", "a:b",
           std::string(kMaxNameLength + 1, 'x')}) {
    EXPECT_FALSE(CheckName(bad).ok()) << bad;
  }
  for (const char* kind : {"entities", "sources", "feature_views", "feature_services"}) {
    std::string error = ParseError(std::string(kind) + ":\n  - name: ../escape\n");
    EXPECT_NE(error.find("defs.yaml:2:"), std::string::npos) << error;
    EXPECT_NE(error.find("letters, digits"), std::string::npos) << error;
  }
}

TEST(ParseDefinitionsTest, DuplicateKeysAreErrorsWithTheirLine) {
  std::string error = ParseError("entities:\n  - {name: a, name: b}\n");
  EXPECT_NE(error.find("defs.yaml:2: duplicate key 'name' (first at line 2)"), std::string::npos)
      << error;
  error = ParseError("entities: []\nsources: []\nentities:\n  - {name: c}\n");
  EXPECT_NE(error.find("defs.yaml:3: duplicate key 'entities' (first at line 1)"),
            std::string::npos)
      << error;
  error = ParseError("entities:\n  - name: a\n    tags: {x: 1, y: 2, x: 3}\n");
  EXPECT_NE(error.find("duplicate key 'x'"), std::string::npos) << error;
}

TEST(ParseDefinitionsTest, DeepNestingIsRefusedNamingTheLimit) {
  for (int depth : {64, 65, 1999, 2000, 100000}) {
    std::string text = "entities: " + std::string(depth, '[') + std::string(depth, ']') + "\n";
    Definitions out;
    Status status = ParseDefinitions(text, "deep.yaml", &out);
    ASSERT_FALSE(status.ok());
    if (depth >= 64) {  // with the root mapping, 64 brackets are 65 levels
      EXPECT_NE(status.message().find("deep.yaml:1:"), std::string::npos) << status.message();
      EXPECT_NE(status.message().find("deeper than 64 levels"), std::string::npos)
          << status.message();
    }
  }
  std::string block = "x:\n";
  for (int level = 1; level < 70; ++level) block += std::string(level * 2, ' ') + "- y:\n";
  EXPECT_NE(ParseError(block).find("deeper than 64 levels"), std::string::npos);
}

TEST(ParseDefinitionsTest, AliasExpansionIsBounded) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 30; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  EXPECT_NE(ParseError(text).find("nodes once aliases are expanded"), std::string::npos);
}

TEST(ParseDefinitionsTest, OversizedFilesAreRefusedBeforeParsing) {
  std::string text = "# " + std::string(17 << 20, 'x') + "\n";
  EXPECT_NE(ParseError(text).find("at most"), std::string::npos);
}

}  // namespace
}  // namespace headwater::registry
