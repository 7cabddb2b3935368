#pragma once
// On-demand feature views compiled: each feature's expression (engine/expression.h) checked
// against the view's inputs and its declared type. Apply and plan compile every view before
// anything changes, so a bad expression is an error naming the file, line, view, feature and
// token; reads (online and training data) evaluate what was compiled.
//
// A view's inputs, by the names its expressions use:
// - each feature of a source feature view (all, or those listed): `view.feature`, and `feature`
//   alone when no other source has a feature of that name;
// - each source feature view's event time: `view.event_timestamp`;
// - each field of a request source: `field`, and `source.field`.
// Features of types expressions do not compute with (Bytes, arrays) are not inputs.

#include <arrow/type_fwd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "headwater/engine/expression.h"
#include "headwater/registry/definitions.h"

namespace headwater::engine {

/// Where an input's values come from.
struct OnDemandInput {
  enum class Kind { kFeature, kEventTimestamp, kRequestField };
  Kind kind = Kind::kFeature;
  std::string source;  // feature view or request source
  std::string field;   // feature or request field ("" for an event time)
  ExprType type = ExprType::kFloat64;
};

class SubstraitPlan;

/// One on-demand view, compiled.
struct CompiledOnDemandView {
  std::string name;
  std::string mode;   // "expression" or "substrait"; for "pandas" and "python" (a Python
                      // function) nothing to compute with
  ExprInputs inputs;  // names as the expressions (or the plan's input table) use them
  std::vector<OnDemandInput> origins;  // per input
  std::vector<registry::Field> features;
  std::vector<Expression> expressions;        // per feature, mode expression
  std::shared_ptr<const SubstraitPlan> plan;  // mode substrait

  /// The inputs (indexes into `inputs`) computing feature `feature` reads.
  const std::vector<int>& Reads(size_t feature) const;

  /// Computes the features `wanted` (indexes into `features`) over `inputs` (one per input, in
  /// order; those no wanted feature reads may be null), each `length` rows long. `now_micros`
  /// is what now() returns: one time for every row, or one per row. Each result is fitted to
  /// its declared type (FitToDeclared). Errors name the view and the feature.
  Result<std::vector<ExprColumn>> Compute(const std::vector<size_t>& wanted,
                                          const std::vector<const ExprColumn*>& inputs,
                                          int64_t length,
                                          const std::vector<int64_t>& now_micros) const;
};

/// Compiles every on-demand view of `definitions` (validated by registry::Validate): parses and
/// type-checks expressions; decodes a Substrait plan, checks that its input table names only
/// inputs of the view and that its output has every feature in a type that converts.
/// Views of a Python function get their inputs and nothing to compute with.
Result<std::vector<CompiledOnDemandView>> CompileOnDemandViews(
    const registry::Definitions& definitions);

/// Invalid, explaining where it runs, for a view of a Python function: its features are read
/// through the Python SDK, which runs the function in the caller's process.
Status CheckEvaluable(const CompiledOnDemandView& view);

/// The expression type a feature of `type` is read as, or nullopt when expressions do not
/// compute with it.
std::optional<ExprType> ExprTypeOf(const FeatureType& type);

/// A column of values (any Arrow type that casts to `type`'s: integers, floats, strings,
/// booleans; timestamps of any unit, dates, or ISO 8601 text for kTimestamp) as an expression
/// input. Invalid, naming `what`, when it does not convert.
Result<ExprColumn> ExprColumnFromArrow(const arrow::ChunkedArray& values, ExprType type,
                                       std::string_view what);

/// Nulls the values of `column` that a feature of `declared` cannot hold (an Int32 out of range,
/// a Float32 beyond its largest finite value), online and offline alike.
void FitToDeclared(const FeatureType& declared, ExprColumn* column);

/// A column as an Arrow array of its own type (float64, int64, utf8, boolean, timestamp[us]).
Result<std::shared_ptr<arrow::Array>> ExprColumnToArrow(const ExprColumn& column);

/// A computed column as an Arrow array of the feature type it was declared with.
Result<std::shared_ptr<arrow::Array>> ExprColumnToArrow(const ExprColumn& column,
                                                        const FeatureType& declared);

}  // namespace headwater::engine
