#include <arrow/api.h>
#include <arrow/engine/substrait/util.h>
#include <arrow/util/base64.h>
#include <gtest/gtest.h>

#include "headwater/engine/on_demand.h"
#include "headwater/registry/loader.h"

namespace headwater::engine {
namespace {

// A plan as Ibis compiles one for Feast's substrait mode: a projection over a table `t` of the
// view's inputs (each declared fp64). Written as Substrait's JSON form, since Arrow's producer
// serializes no projections.
std::string Field(int index) {
  return R"({"selection": {"directReference": {"structField": {"field": )" + std::to_string(index) +
         R"(}}, "rootReference": {}}})";
}

std::string Add(const std::string& a, const std::string& b) {
  return R"({"scalarFunction": {"functionReference": 1, "outputType": {"fp64": {"nullability":
      "NULLABILITY_NULLABLE"}}, "arguments": [{"value": )" +
         a + R"(}, {"value": )" + b + "}]}}";
}

std::string PlanOf(const std::vector<std::string>& table,
                   const std::vector<std::string>& expressions,
                   const std::vector<std::string>& names) {
  auto quoted = [](const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "\"" : ", \"") + item + "\"";
    return out;
  };
  std::string types, exprs, mapping;
  for (size_t i = 0; i < table.size(); ++i) {
    types += std::string(i ? ", " : "") + R"({"fp64": {"nullability": "NULLABILITY_NULLABLE"}})";
  }
  for (size_t i = 0; i < expressions.size(); ++i) {
    exprs += (i ? ", " : "") + expressions[i];
    mapping += (i ? ", " : "") + std::to_string(table.size() + i);
  }
  const std::string json = R"({
    "extensionUris": [{"extensionUriAnchor": 1, "uri":
      "https://github.com/substrait-io/substrait/blob/main/extensions/functions_arithmetic.yaml"}],
    "extensions": [{"extensionFunction": {"extensionUriReference": 1, "functionAnchor": 1,
                                          "name": "add"}}],
    "relations": [{"root": {"input": {"project": {
      "common": {"emit": {"outputMapping": [)" +
                           mapping + R"(]}},
      "input": {"read": {
        "baseSchema": {"names": [)" +
                           quoted(table) + R"(],
                       "struct": {"types": [)" +
                           types + R"(],
                                  "nullability": "NULLABILITY_REQUIRED"}},
        "namedTable": {"names": ["t"]}}},
      "expressions": [)" + exprs +
                           R"(]}},
      "names": [)" + quoted(names) +
                           R"(]}}]})";
  auto plan = arrow::engine::SerializeJsonPlan(json);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return arrow::util::base64_encode(plan.ValueOrDie()->ToString());
}

std::string Definitions(const std::string& plan, const std::string& dtype = "Float64") {
  return R"(
sources:
  - name: vals_to_add
    type: request
    schema: [{name: val_to_add, dtype: Int64}]
feature_views:
  - name: driver_hourly_stats
    entities: [driver]
    source: stats
    schema: [{name: conv_rate, dtype: Float32}, {name: acc_rate, dtype: Float32}]
on_demand_feature_views:
  - name: transformed_conv_rate
    sources: [driver_hourly_stats, vals_to_add]
    schema: [{name: conv_rate_plus_val1, dtype: )" +
         dtype + R"(}]
    mode: substrait
    substrait_plan: )" +
         plan + "\n";
}

Result<std::vector<CompiledOnDemandView>> Compile(const std::string& text) {
  registry::Definitions definitions;
  ARROW_RETURN_NOT_OK(registry::ParseDefinitions(text, "defs.yaml", &definitions));
  return CompileOnDemandViews(definitions);
}

std::string ConvRatePlusVal() {
  return PlanOf({"conv_rate", "val_to_add"}, {Add(Field(0), Field(1))}, {"conv_rate_plus_val1"});
}

TEST(SubstraitPlanTest, RunsOverTheViewsInputsWithNullsPropagating) {
  auto compiled = Compile(Definitions(ConvRatePlusVal()));
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  const CompiledOnDemandView& view = (*compiled)[0];
  ASSERT_NE(view.plan, nullptr);
  std::vector<const ExprColumn*> inputs(view.inputs.size(), nullptr);
  ExprColumn conv_rate{ExprType::kFloat64, 3, {1, 0, 1}, {}, {0.5, 0, 0.25}, {}};
  ExprColumn val_to_add{ExprType::kInt64, 3, {}, {1000, 1, 2}, {}, {}};
  for (int i : view.Reads(0)) {
    const std::string& name = view.inputs[static_cast<size_t>(i)].first;
    inputs[static_cast<size_t>(i)] = name == "conv_rate" ? &conv_rate : &val_to_add;
  }
  EXPECT_EQ(view.Reads(0).size(), 2u);
  auto values = view.Compute({0}, inputs, 3, {0});
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  const ExprColumn& out = (*values)[0];
  EXPECT_EQ(out.doubles[0], 1000.5);
  EXPECT_FALSE(out.IsValid(1));
  EXPECT_EQ(out.doubles[2], 2.25);
}

TEST(SubstraitPlanTest, ErrorsNameTheViewAndWhatIsWrong) {
  auto compiled = Compile(Definitions("bm90IGEgcGxhbg=="));  // "not a plan"
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find(
                "defs.yaml:12: on_demand_feature_view 'transformed_conv_rate': its Substrait "
                "plan does not load"),
            std::string::npos)
      << compiled.status().message();

  compiled = Compile(Definitions("'%%%'"));
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find("is not a base64-encoded Substrait plan"),
            std::string::npos)
      << compiled.status().message();

  compiled = Compile(Definitions(PlanOf({"conv_rat"}, {Field(0)}, {"conv_rate_plus_val1"})));
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find(
                "reads a column 'conv_rat', which is not an input of the view"),
            std::string::npos)
      << compiled.status().message();

  compiled = Compile(Definitions(ConvRatePlusVal(), "String"));
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find("has type double; expected String for feature "
                                             "'conv_rate_plus_val1' (declared String)"),
            std::string::npos)
      << compiled.status().message();

  compiled = Compile(Definitions(PlanOf({"conv_rate"}, {Field(0)}, {"other"})));
  ASSERT_FALSE(compiled.ok());
  EXPECT_NE(compiled.status().message().find("has no output column 'conv_rate_plus_val1'"),
            std::string::npos)
      << compiled.status().message();
}

}  // namespace
}  // namespace headwater::engine
