#include "headwater/engine/on_demand.h"

#include <gtest/gtest.h>

#include "headwater/registry/loader.h"

namespace headwater::engine {
namespace {

// Feast's quickstart: driver_hourly_stats and a request source, plus views that go wrong.
constexpr const char* kDefinitions = R"(
sources:
  - name: vals_to_add
    type: request
    schema: [{name: val_to_add, dtype: Int64}, {name: val_to_add_2, dtype: Int64}]
feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    source: stats
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: acc_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}
  - name: other_stats
    entities: [driver]
    source: stats
    schema: [{name: conv_rate, dtype: Float64}]
on_demand_feature_views:
  - name: transformed_conv_rate
    sources: [driver_hourly_stats, vals_to_add]
    schema:
      - {name: conv_rate_plus_val1, dtype: Float64}
      - {name: conv_rate_plus_val2, dtype: Float64}
      - {name: fresh, dtype: Bool}
    expressions:
      conv_rate_plus_val1: conv_rate + val_to_add
      conv_rate_plus_val2: driver_hourly_stats.conv_rate + vals_to_add.val_to_add_2
      fresh: now() - driver_hourly_stats.event_timestamp < 3600
)";

registry::Definitions Parse(const std::string& extra = "") {
  registry::Definitions definitions;
  Status parsed = registry::ParseDefinitions(kDefinitions + extra, "defs.yaml", &definitions);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString();
  return definitions;
}

TEST(OnDemandTest, FeastsQuickstartViewCompiles) {
  auto compiled = CompileOnDemandViews(Parse());
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  ASSERT_EQ(compiled->size(), 1u);
  const CompiledOnDemandView& view = (*compiled)[0];
  EXPECT_EQ(view.expressions.size(), 3u);
  EXPECT_EQ(view.expressions[2].type(), ExprType::kBool);
  // conv_rate (Float32) reads as Float64; the event time and both request fields are inputs.
  std::vector<std::string> names;
  for (const auto& input : view.inputs) names.push_back(input.first);
  for (const char* name :
       {"driver_hourly_stats.conv_rate", "conv_rate", "driver_hourly_stats.event_timestamp",
        "val_to_add", "vals_to_add.val_to_add_2"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

TEST(OnDemandTest, ErrorsNameTheFileLineViewFeatureAndToken) {
  auto compiled = CompileOnDemandViews(Parse(R"(
  - name: bad
    sources: [driver_hourly_stats]
    schema: [{name: f, dtype: Float64}]
    expressions:
      f: conv_rate * * 2
)"));
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.status().message(),
            "defs.yaml:34: on_demand_feature_view 'bad', feature 'f': at column 13 ('*'): "
            "expected a value, an input or a function");
  compiled = CompileOnDemandViews(Parse(R"(
  - name: narrowing
    sources: [driver_hourly_stats]
    schema: [{name: f, dtype: Int64}]
    expressions: {f: conv_rate * 2}
)"));
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find(
                "feature 'f': the expression gives Float64 but the schema declares Int64"),
            std::string::npos)
      << compiled.status().message();
}

TEST(OnDemandTest, ANameTwoSourcesShareMustBeQualified) {
  auto compiled = CompileOnDemandViews(Parse(R"(
  - name: both
    sources: [driver_hourly_stats, other_stats]
    schema: [{name: f, dtype: Float64}]
    expressions: {f: conv_rate}
)"));
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find("unknown input 'conv_rate'"), std::string::npos);
  compiled = CompileOnDemandViews(Parse(R"(
  - name: both
    sources: [driver_hourly_stats, other_stats]
    schema: [{name: f, dtype: Float64}]
    expressions: {f: driver_hourly_stats.conv_rate - other_stats.conv_rate}
)"));
  EXPECT_TRUE(compiled.ok()) << compiled.status().ToString();
}

}  // namespace
}  // namespace headwater::engine
