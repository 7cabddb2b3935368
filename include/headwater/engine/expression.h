#pragma once
// The expression language of on-demand feature views (`mode: expression`): one expression per
// output field over the view's inputs — features of other views, their event timestamps, and
// request values. Parsed and type-checked once (at apply), evaluated column at a time over flat
// arrays: the same code for one online request of one row and for a training set of millions,
// so serving and training cannot disagree.
//
// Grammar (lowest precedence first):
//   or:      and ('or' and)*
//   and:     not ('and' not)*
//   not:     'not' not | compare
//   compare: sum [('=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=') sum | 'is' ['not'] 'null']
//   sum:     product (('+' | '-' | '||') product)*
//   product: unary (('*' | '/' | '%') unary)*
//   unary:   '-' unary | primary
//   primary: number | 'text' | true | false | null | name ['.' name] | name '(' [or (',' or)*] ')'
//            | '(' or ')' | case (when or then or)+ [else or] end | cast '(' or as type ')'
// Keywords and function names are case-insensitive; input names are not.
//
// Semantics (docs/on_demand.md): nulls propagate, except `is [not] null`, `coalesce`, `if`/`case`
// conditions (null is false), three-valued `and`/`or`, and least/greatest (which skip nulls).
// Int64 arithmetic that overflows, division or `%` by zero, and any floating result that is not
// finite (log(0), sqrt(-1), exp(1000)) give null, never an error or a crash. `/` is true
// division (a Float64, as in Python); `%` takes the divisor's sign (as in Python); round() halves
// to even (as NumPy and pandas).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "headwater/core/status.h"

namespace headwater::engine {

/// The types expressions compute with. Narrower inputs widen (Int32 to Int64, Float32 to
/// Float64); timestamps are UTC microseconds.
enum class ExprType { kBool, kInt64, kFloat64, kString, kTimestamp };

/// "Bool", "Int64", "Float64", "String", "UnixTimestamp" (Feast's names).
std::string_view ExprTypeName(ExprType type);

/// One column an expression reads or computes: `length` values of one type, flat, with validity.
struct ExprColumn {
  ExprType type = ExprType::kFloat64;
  int64_t length = 0;
  std::vector<uint8_t> valid;        // one per row, 1 = a value; empty when every row has one
  std::vector<int64_t> ints;         // kBool (0 or 1), kInt64, kTimestamp
  std::vector<double> doubles;       // kFloat64
  std::vector<std::string> strings;  // kString

  bool IsValid(int64_t row) const { return valid.empty() || valid[static_cast<size_t>(row)] != 0; }
};

/// An expression's inputs, by name (`view.feature`, `view.event_timestamp`, a request field),
/// with their types.
using ExprInputs = std::vector<std::pair<std::string, ExprType>>;

/// A parsed and type-checked expression. Immutable; Evaluate may run on many threads at once.
class Expression {
 public:
  /// Parses `text` and checks it against `inputs`. An error names the position (1-based
  /// column), the offending token and what is wrong, e.g.
  /// "at column 12 ('foo'): unknown input 'foo' (inputs: a, b)".
  static Result<Expression> Compile(std::string_view text, const ExprInputs& inputs);

  ExprType type() const;
  /// Which inputs (indexes into Compile's `inputs`) it reads, ascending.
  const std::vector<int>& reads() const { return reads_; }

  /// Evaluates over `inputs` (one per Compile input, in order; those not in reads() may be
  /// null), each `length` rows long. `now_micros` is the request time `now()` returns.
  Result<ExprColumn> Evaluate(const std::vector<const ExprColumn*>& inputs, int64_t length,
                              int64_t now_micros) const;
  /// The same with a time per row (training data: each entity row's time), as many rows.
  Result<ExprColumn> Evaluate(const std::vector<const ExprColumn*>& inputs,
                              const std::vector<int64_t>& now_micros) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::vector<int> reads_;
};

}  // namespace headwater::engine
