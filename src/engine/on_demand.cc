#include "headwater/engine/on_demand.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "headwater/core/time.h"
#include "substrait_plan.h"

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
    case ScalarKind::kJson:  // its JSON text
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

Result<ExprColumn> ExprColumnFromArrow(const arrow::ChunkedArray& values, ExprType type,
                                       std::string_view what) {
  ExprColumn column;
  column.type = type;
  column.length = values.length();
  const auto rows = static_cast<size_t>(values.length());
  if (type == ExprType::kTimestamp) {
    ARROW_ASSIGN_OR_RAISE(auto micros, ToEpochMicros(values, std::string(what)));
    column.ints.assign(micros->raw_values(), micros->raw_values() + rows);
    if (micros->null_count() > 0) {
      column.valid.resize(rows);
      for (size_t row = 0; row < rows; ++row) column.valid[row] = micros->IsValid(row) ? 1 : 0;
    }
    return column;
  }
  const std::shared_ptr<arrow::DataType> target = type == ExprType::kFloat64  ? arrow::float64()
                                                  : type == ExprType::kString ? arrow::utf8()
                                                  : type == ExprType::kBool   ? arrow::boolean()
                                                                              : arrow::int64();
  const bool fits = values.type()->Equals(*target) ||
                    (type == ExprType::kInt64 && arrow::is_integer(values.type()->id())) ||
                    (type == ExprType::kFloat64 && (arrow::is_integer(values.type()->id()) ||
                                                    arrow::is_floating(values.type()->id()))) ||
                    (type == ExprType::kString && values.type()->id() == arrow::Type::LARGE_STRING);
  if (!fits) {
    return Status::Invalid(what, " has type ", values.type()->ToString(), "; expected ",
                           ExprTypeName(type));
  }
  arrow::compute::CastOptions options = arrow::compute::CastOptions::Safe(target);
  ARROW_ASSIGN_OR_RAISE(arrow::Datum cast,
                        arrow::compute::Cast(arrow::Datum(std::make_shared<arrow::ChunkedArray>(
                                                 values.chunks(), values.type())),
                                             options));
  const auto& chunks = cast.chunked_array()->chunks();
  ARROW_ASSIGN_OR_RAISE(
      auto array, chunks.empty() ? arrow::MakeEmptyArray(target) : arrow::Concatenate(chunks));
  if (array->null_count() > 0) {
    column.valid.resize(rows);
    for (size_t row = 0; row < rows; ++row) column.valid[row] = array->IsValid(row) ? 1 : 0;
  }
  switch (type) {
    case ExprType::kFloat64: {
      const double* raw = static_cast<const arrow::DoubleArray&>(*array).raw_values();
      column.doubles.assign(raw, raw + rows);
      break;
    }
    case ExprType::kString: {
      const auto& strings = static_cast<const arrow::StringArray&>(*array);
      column.strings.resize(rows);
      for (size_t row = 0; row < rows; ++row) {
        if (strings.IsValid(row)) column.strings[row] = strings.GetString(row);
      }
      break;
    }
    case ExprType::kBool: {
      const auto& bools = static_cast<const arrow::BooleanArray&>(*array);
      column.ints.resize(rows);
      for (size_t row = 0; row < rows; ++row) column.ints[row] = bools.Value(row) ? 1 : 0;
      break;
    }
    default: {
      const int64_t* raw = static_cast<const arrow::Int64Array&>(*array).raw_values();
      column.ints.assign(raw, raw + rows);
      break;
    }
  }
  return column;
}

void FitToDeclared(const FeatureType& declared, ExprColumn* column) {
  auto fits = [&](size_t row) {
    if (declared.kind == ScalarKind::kInt32) {
      return column->ints[row] >= std::numeric_limits<int32_t>::min() &&
             column->ints[row] <= std::numeric_limits<int32_t>::max();
    }
    const double value = column->type == ExprType::kInt64 ? static_cast<double>(column->ints[row])
                                                          : column->doubles[row];
    return std::abs(value) <= std::numeric_limits<float>::max();
  };
  if (declared.kind != ScalarKind::kInt32 && declared.kind != ScalarKind::kFloat32) return;
  const auto rows = static_cast<size_t>(column->length);
  for (size_t row = 0; row < rows; ++row) {
    if (!column->IsValid(static_cast<int64_t>(row)) || fits(row)) continue;
    if (column->valid.empty()) column->valid.assign(rows, 1);
    column->valid[row] = 0;
  }
}

Result<std::shared_ptr<arrow::Array>> ExprColumnToArrow(const ExprColumn& column) {
  const auto rows = static_cast<size_t>(column.length);
  std::shared_ptr<arrow::Buffer> validity;
  int64_t nulls = 0;
  if (!column.valid.empty()) {
    ARROW_ASSIGN_OR_RAISE(validity, arrow::AllocateBitmap(column.length));
    uint8_t* bits = validity->mutable_data();
    for (size_t row = 0; row < rows; ++row) {
      arrow::bit_util::SetBitTo(bits, static_cast<int64_t>(row), column.valid[row] != 0);
      nulls += column.valid[row] == 0 ? 1 : 0;
    }
    if (nulls == 0) validity.reset();
  }
  std::shared_ptr<arrow::Array> array;
  switch (column.type) {
    case ExprType::kFloat64:
      array = std::make_shared<arrow::DoubleArray>(
          column.length, arrow::Buffer::FromVector(column.doubles), validity, nulls);
      break;
    case ExprType::kInt64:
      array = std::make_shared<arrow::Int64Array>(
          column.length, arrow::Buffer::FromVector(column.ints), validity, nulls);
      break;
    case ExprType::kTimestamp:
      array = std::make_shared<arrow::TimestampArray>(
          arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), column.length,
          arrow::Buffer::FromVector(column.ints), validity, nulls);
      break;
    case ExprType::kBool: {
      arrow::BooleanBuilder builder;
      ARROW_RETURN_NOT_OK(builder.Reserve(column.length));
      for (size_t row = 0; row < rows; ++row) {
        if (column.IsValid(static_cast<int64_t>(row))) {
          builder.UnsafeAppend(column.ints[row] != 0);
        } else {
          builder.UnsafeAppendNull();
        }
      }
      ARROW_ASSIGN_OR_RAISE(array, builder.Finish());
      break;
    }
    case ExprType::kString: {
      arrow::StringBuilder builder;
      ARROW_RETURN_NOT_OK(builder.Reserve(column.length));
      for (size_t row = 0; row < rows; ++row) {
        if (column.IsValid(static_cast<int64_t>(row))) {
          ARROW_RETURN_NOT_OK(builder.Append(column.strings[row]));
        } else {
          ARROW_RETURN_NOT_OK(builder.AppendNull());
        }
      }
      ARROW_ASSIGN_OR_RAISE(array, builder.Finish());
      break;
    }
  }
  return array;
}

Result<std::shared_ptr<arrow::Array>> ExprColumnToArrow(const ExprColumn& column,
                                                        const FeatureType& declared) {
  ARROW_ASSIGN_OR_RAISE(auto array, ExprColumnToArrow(column));
  const auto type = ToArrowType(declared);
  if (array->type()->Equals(*type)) return array;
  ARROW_ASSIGN_OR_RAISE(arrow::Datum cast,
                        arrow::compute::Cast(array, arrow::compute::CastOptions::Unsafe(type)));
  return cast.make_array();
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
  compiled.mode = view.mode;
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
  if (view.is_udf()) return compiled;
  if (view.mode == "substrait") {
    auto fail = [&](const std::string& message) {
      const std::string where = view.location.ToString();
      return Status::Invalid(where, where.empty() ? "" : ": ", "on_demand_feature_view '",
                             view.name, "': ", message);
    };
    auto plan = SubstraitPlan::Make(view.substrait_plan, compiled.inputs);
    if (!plan.ok()) return fail(plan.status().message());
    for (const registry::Field& feature : view.features) {
      auto checked = (*plan)->CheckOutput(feature);
      if (!checked.ok()) return fail(checked.message());
    }
    compiled.plan = std::move(*plan);
    return compiled;
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

const std::vector<int>& CompiledOnDemandView::Reads(size_t feature) const {
  return plan != nullptr ? plan->reads() : expressions[feature].reads();
}

Result<std::vector<ExprColumn>> CompiledOnDemandView::Compute(
    const std::vector<size_t>& wanted, const std::vector<const ExprColumn*>& inputs, int64_t length,
    const std::vector<int64_t>& now_micros) const {
  std::vector<ExprColumn> out;
  auto fail = [&](size_t f, const Status& status) {
    return Status::Invalid("on-demand feature view '", name, "', feature '", features[f].name,
                           "': ", status.message());
  };
  if (plan != nullptr) {
    auto table = plan->Run(inputs, length);
    if (!table.ok()) {
      return Status::Invalid("on-demand feature view '", name, "': ", table.status().message());
    }
    for (size_t f : wanted) {
      auto values = plan->Output(**table, features[f]);
      if (!values.ok()) return fail(f, values.status());
      FitToDeclared(features[f].dtype, &*values);
      out.push_back(std::move(*values));
    }
    return out;
  }
  for (size_t f : wanted) {
    auto values = now_micros.size() == 1
                      ? expressions[f].Evaluate(inputs, length, now_micros.front())
                      : expressions[f].Evaluate(inputs, now_micros);
    if (!values.ok()) return fail(f, values.status());
    FitToDeclared(features[f].dtype, &*values);
    out.push_back(std::move(*values));
  }
  return out;
}

Status CheckEvaluable(const CompiledOnDemandView& view) {
  if (view.mode == "expression" || view.mode == "substrait") return Status::OK();
  return Status::Invalid("on-demand feature view '", view.name, "' runs a Python function (mode ",
                         view.mode,
                         "): read it through the Python SDK (FeatureStore.get_online_features, "
                         "get_historical_features), which runs it in your process; the server "
                         "and the CLI compute mode expression views");
}

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
