#include "headwater/engine/on_demand.h"

#include <algorithm>
#include <map>

namespace headwater::engine {

std::optional<ExprType> ExprTypeOf(const FeatureType& type) {
  if (type.is_array) return std::nullopt;
  switch (type.kind) {
    case ScalarKind::kInt32:
    case ScalarKind::kInt64:
      return ExprType::kInt64;
    case ScalarKind::kFloat32:
    case ScalarKind::kFloat64:
      return ExprType::kFloat64;
    case ScalarKind::kString:
      return ExprType::kString;
    case ScalarKind::kBool:
      return ExprType::kBool;
    case ScalarKind::kUnixTimestamp:
      return ExprType::kTimestamp;
    case ScalarKind::kBytes:
      return std::nullopt;
  }
  return std::nullopt;
}

namespace {

// Whether a value of `computed` can be stored as a feature of `declared`.
bool Fits(ExprType computed, const FeatureType& declared) {
  auto wanted = ExprTypeOf(declared);
  if (!wanted) return false;
  if (*wanted == ExprType::kFloat64)
    return computed == ExprType::kFloat64 || computed == ExprType::kInt64;
  return computed == *wanted;
}

Result<CompiledOnDemandView> Compile(const registry::Definitions& definitions,
                                     const registry::OnDemandFeatureView& view) {
  CompiledOnDemandView compiled;
  compiled.name = view.name;
  compiled.features = view.features;
  std::map<std::string, int> feature_names;  // short name -> how many sources have it
  std::vector<std::pair<std::string, OnDemandInput>> qualified, short_names;
  for (const registry::FeatureViewProjection& projection : view.sources) {
    auto listed = [&](const std::string& name) {
      return projection.features.empty() ||
             std::find(projection.features.begin(), projection.features.end(), name) !=
                 projection.features.end();
    };
    if (const registry::FeatureView* source = definitions.FindFeatureView(projection.view)) {
      for (const registry::Field& feature : source->features) {
        auto type = ExprTypeOf(feature.dtype);
        if (!type || !listed(feature.name)) continue;
        OnDemandInput input{OnDemandInput::Kind::kFeature, source->name, feature.name, *type};
        qualified.emplace_back(source->name + "." + feature.name, input);
        short_names.emplace_back(feature.name, input);
        ++feature_names[feature.name];
      }
      qualified.emplace_back(source->name + ".event_timestamp",
                             OnDemandInput{OnDemandInput::Kind::kEventTimestamp, source->name, "",
                                           ExprType::kTimestamp});
      continue;
    }
    const registry::DataSource* request = definitions.FindSource(projection.view);
    if (request == nullptr) return Status::Invalid("unknown source '", projection.view, "'");
    for (const registry::Field& field : request->schema) {
      auto type = ExprTypeOf(field.dtype);
      if (!type || !listed(field.name)) continue;
      OnDemandInput input{OnDemandInput::Kind::kRequestField, request->name, field.name, *type};
      qualified.emplace_back(request->name + "." + field.name, input);
      short_names.emplace_back(field.name, input);
      ++feature_names[field.name];
    }
  }
  for (auto& [name, input] : qualified) {
    compiled.inputs.emplace_back(name, input.type);
    compiled.origins.push_back(input);
  }
  for (auto& [name, input] : short_names) {
    if (feature_names[name] != 1) continue;  // ambiguous: only the qualified names
    compiled.inputs.emplace_back(name, input.type);
    compiled.origins.push_back(input);
  }
  for (const registry::Field& feature : view.features) {
    auto text = view.expressions.find(feature.name);
    auto located = view.expression_locations.find(feature.name);
    const std::string where =
        (located != view.expression_locations.end() ? located->second : view.location).ToString();
    auto fail = [&](const std::string& message) {
      return Status::Invalid(where, where.empty() ? "" : ": ", "on_demand_feature_view '",
                             view.name, "', feature '", feature.name, "': ", message);
    };
    if (text == view.expressions.end()) return fail("no expression");
    auto expression = Expression::Compile(text->second, compiled.inputs);
    if (!expression.ok()) return fail(expression.status().message());
    if (!Fits(expression->type(), feature.dtype)) {
      return fail("the expression gives " + std::string(ExprTypeName(expression->type())) +
                  " but the schema declares " + FormatFeatureType(feature.dtype) +
                  " (cast it, or declare the type)");
    }
    compiled.expressions.push_back(std::move(*expression));
  }
  return compiled;
}

}  // namespace

Result<std::vector<CompiledOnDemandView>> CompileOnDemandViews(
    const registry::Definitions& definitions) {
  std::vector<CompiledOnDemandView> out;
  for (const registry::OnDemandFeatureView& view : definitions.on_demand_feature_views) {
    ARROW_ASSIGN_OR_RAISE(auto compiled, Compile(definitions, view));
    out.push_back(std::move(compiled));
  }
  return out;
}

}  // namespace headwater::engine
