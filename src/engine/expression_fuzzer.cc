// libFuzzer target: arbitrary text as an on-demand expression. It must compile or be refused
// with a reason; what compiles must evaluate over inputs with nulls and extreme values, to a
// column of its type and length, without crashing.
#include <cstdlib>
#include <limits>
#include <string>

#include "headwater/engine/expression.h"

using namespace headwater;
using engine::ExprColumn;
using engine::ExprType;

namespace {

ExprColumn Column(ExprType type) {
  ExprColumn column;
  column.type = type;
  column.length = 4;
  column.valid = {1, 1, 1, 0};
  switch (type) {
    case ExprType::kFloat64:
      column.doubles = {0.0, -1.5, std::numeric_limits<double>::max(), 0};
      break;
    case ExprType::kString:
      column.strings = {"", "é'x", "12", ""};
      break;
    case ExprType::kBool:
      column.ints = {0, 1, 1, 0};
      break;
    default:
      column.ints = {0, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                     0};
      break;
  }
  return column;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const engine::ExprInputs inputs = {{"v.x", ExprType::kFloat64},
                                            {"n", ExprType::kInt64},
                                            {"s", ExprType::kString},
                                            {"b", ExprType::kBool},
                                            {"v.event_timestamp", ExprType::kTimestamp}};
  static const ExprColumn columns[] = {Column(ExprType::kFloat64), Column(ExprType::kInt64),
                                       Column(ExprType::kString), Column(ExprType::kBool),
                                       Column(ExprType::kTimestamp)};
  auto compiled = engine::Expression::Compile(
      std::string_view(reinterpret_cast<const char*>(data), size), inputs);
  if (!compiled.ok()) {
    if (compiled.status().message().empty()) std::abort();
    return 0;
  }
  auto result = compiled->Evaluate(
      {&columns[0], &columns[1], &columns[2], &columns[3], &columns[4]}, 4, 1'700'000'000'000'000);
  if (!result.ok() || result->length != 4 || result->type != compiled->type()) std::abort();
  const size_t expected = result->type == ExprType::kFloat64  ? result->doubles.size()
                          : result->type == ExprType::kString ? result->strings.size()
                                                              : result->ints.size();
  if (expected != 4 || (!result->valid.empty() && result->valid.size() != 4)) std::abort();
  return 0;
}
