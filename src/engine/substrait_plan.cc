#include "substrait_plan.h"

#include <arrow/acero/exec_plan.h>
#include <arrow/acero/options.h>
#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/engine/substrait/api.h>
#include <arrow/util/base64.h>

#include <algorithm>

#include "headwater/engine/on_demand.h"

namespace headwater::engine {
namespace {

// Converts the plan, answering each named table it reads with `table_for(schema)`.
Result<arrow::engine::PlanInfo> Convert(
    const arrow::Buffer& plan,
    const std::function<Result<std::shared_ptr<arrow::Table>>(const arrow::Schema&)>& table_for) {
  arrow::engine::ConversionOptions options;
  options.named_table_provider =
      [&](const std::vector<std::string>&,
          const arrow::Schema& schema) -> Result<arrow::acero::Declaration> {
    ARROW_ASSIGN_OR_RAISE(auto table, table_for(schema));
    return arrow::acero::Declaration("table_source",
                                     arrow::acero::TableSourceNodeOptions(std::move(table)));
  };
  return arrow::engine::DeserializePlan(plan, nullptr, nullptr, options);
}

int FindInput(const ExprInputs& inputs, const std::string& name) {
  auto it = std::find_if(inputs.begin(), inputs.end(),
                         [&](const auto& input) { return input.first == name; });
  return it == inputs.end() ? -1 : static_cast<int>(it - inputs.begin());
}

}  // namespace

Result<std::shared_ptr<const SubstraitPlan>> SubstraitPlan::Make(std::string_view base64,
                                                                 const ExprInputs& inputs) {
  // Acero runs the plan with Arrow's compute functions, registered once per process.
  static const Status initialized = arrow::compute::Initialize();
  ARROW_RETURN_NOT_OK(initialized);
  auto bytes = arrow::util::base64_decode(base64);
  if (!bytes.ok() || bytes->empty()) {
    return Status::Invalid("its substrait_plan is not a base64-encoded Substrait plan");
  }
  auto plan = std::make_shared<SubstraitPlan>();
  plan->plan_ = arrow::Buffer::FromString(std::move(*bytes));
  plan->inputs_ = inputs;
  Status unknown_input;  // said as it is, not as a plan that does not load
  auto empty_table = [&](const arrow::Schema& schema) -> Result<std::shared_ptr<arrow::Table>> {
    for (const auto& field : schema.fields()) {
      const int input = FindInput(inputs, field->name());
      if (input < 0) {
        std::string names;
        for (const auto& [name, type] : inputs) names += (names.empty() ? "" : ", ") + name;
        unknown_input =
            Status::Invalid("its Substrait plan reads a column '", field->name(),
                            "', which is not an input of the view (inputs: ", names, ")");
        return unknown_input;
      }
      if (std::find(plan->reads_.begin(), plan->reads_.end(), input) == plan->reads_.end()) {
        plan->reads_.push_back(input);
      }
    }
    return arrow::Table::MakeEmpty(std::make_shared<arrow::Schema>(schema.fields()));
  };
  auto info = Convert(*plan->plan_, empty_table);
  if (!unknown_input.ok()) return unknown_input;
  if (!info.ok()) {
    return Status::Invalid("its Substrait plan does not load: ", info.status().message());
  }
  auto output = arrow::acero::DeclarationToSchema(info->root.declaration);
  if (!output.ok()) {
    return Status::Invalid("its Substrait plan does not run: ", output.status().message());
  }
  plan->output_ = *output;
  if (static_cast<size_t>(plan->output_->num_fields()) == info->names.size()) {
    ARROW_ASSIGN_OR_RAISE(plan->output_, plan->output_->WithNames(info->names));
  }
  return plan;
}

Status SubstraitPlan::CheckOutput(const registry::Field& feature) const {
  auto field = output_->GetFieldByName(feature.name);
  if (field == nullptr) {
    return Status::Invalid("its Substrait plan has no output column '", feature.name,
                           "' (it outputs: ", output_->ToString(), ")");
  }
  auto type = ExprTypeOf(feature.dtype);
  if (!type) {
    return Status::Invalid("feature '", feature.name, "' is declared ",
                           FormatFeatureType(feature.dtype),
                           ", which on-demand views do not compute");
  }
  ARROW_ASSIGN_OR_RAISE(auto empty, arrow::ChunkedArray::MakeEmpty(field->type()));
  auto converted =
      ExprColumnFromArrow(*empty, *type, "its Substrait plan's column '" + feature.name + "'");
  if (!converted.ok()) {
    return Status::Invalid(converted.status().message(), " for feature '", feature.name,
                           "' (declared ", FormatFeatureType(feature.dtype), ")");
  }
  return Status::OK();
}

Result<std::shared_ptr<arrow::Table>> SubstraitPlan::Run(
    const std::vector<const ExprColumn*>& inputs, int64_t length) const {
  auto input_table = [&](const arrow::Schema& schema) -> Result<std::shared_ptr<arrow::Table>> {
    arrow::ArrayVector arrays;
    for (const auto& field : schema.fields()) {
      const int input = FindInput(inputs_, field->name());
      if (input < 0 || inputs[static_cast<size_t>(input)] == nullptr) {
        return Status::Invalid("no values for the plan's input column '", field->name(), "'");
      }
      ARROW_ASSIGN_OR_RAISE(auto array, ExprColumnToArrow(*inputs[static_cast<size_t>(input)]));
      if (!array->type()->Equals(*field->type())) {
        ARROW_ASSIGN_OR_RAISE(
            arrow::Datum cast,
            arrow::compute::Cast(array, arrow::compute::CastOptions::Safe(field->type())));
        array = cast.make_array();
      }
      arrays.push_back(std::move(array));
    }
    return arrow::Table::Make(std::make_shared<arrow::Schema>(schema.fields()), arrays, length);
  };
  ARROW_ASSIGN_OR_RAISE(auto info, Convert(*plan_, input_table));
  ARROW_ASSIGN_OR_RAISE(auto output, arrow::acero::DeclarationToTable(
                                         std::move(info.root.declaration), /*use_threads=*/false));
  if (output->num_rows() != length) {
    return Status::Invalid("its Substrait plan returned ", output->num_rows(), " rows for ", length,
                           " (an on-demand view computes one row per row read)");
  }
  if (static_cast<size_t>(output->num_columns()) == info.names.size()) {
    ARROW_ASSIGN_OR_RAISE(output, output->RenameColumns(info.names));
  }
  return output;
}

Result<ExprColumn> SubstraitPlan::Output(const arrow::Table& output,
                                         const registry::Field& feature) const {
  auto column = output.GetColumnByName(feature.name);
  if (column == nullptr) {
    return Status::Invalid("its Substrait plan gave no column '", feature.name, "'");
  }
  return ExprColumnFromArrow(*column, *ExprTypeOf(feature.dtype),
                             "its Substrait plan's column '" + feature.name + "'");
}

}  // namespace headwater::engine
