#pragma once
// Mode substrait of an on-demand view (Feast's): a serialized Substrait plan, as Ibis compiles
// one from a function of a table, run by Arrow's Substrait consumer and Acero. The plan reads
// one input table (every named table it reads is the same one, as in Feast): its columns are
// inputs of the view by the names expressions use (`conv_rate`, `driver_hourly_stats.conv_rate`,
// `val_to_add`); its output has a column per feature of the view, by name (others are ignored).

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "headwater/engine/expression.h"
#include "headwater/registry/definitions.h"

namespace headwater::engine {

class SubstraitPlan {
 public:
  /// Decodes `base64` and converts the plan once, checking that every column of its input table
  /// is one of `inputs` (and converts to the type the plan declares for it).
  static Result<std::shared_ptr<const SubstraitPlan>> Make(std::string_view base64,
                                                           const ExprInputs& inputs);

  /// The inputs (indexes into the `inputs` given to Make) the plan reads.
  const std::vector<int>& reads() const { return reads_; }

  /// Invalid unless the plan's output has a column named `feature.name` of a type that converts
  /// to the feature's.
  Status CheckOutput(const registry::Field& feature) const;

  /// Runs the plan over `inputs` (as CompiledOnDemandView::Compute takes them), `length` rows,
  /// in the calling thread. Its output, as many rows.
  Result<std::shared_ptr<arrow::Table>> Run(const std::vector<const ExprColumn*>& inputs,
                                            int64_t length) const;

  /// The output column of `feature` as an expression column of the feature's type.
  Result<ExprColumn> Output(const arrow::Table& output, const registry::Field& feature) const;

 private:
  std::shared_ptr<arrow::Buffer> plan_;
  ExprInputs inputs_;
  std::vector<int> reads_;
  std::shared_ptr<arrow::Schema> output_;
};

}  // namespace headwater::engine
