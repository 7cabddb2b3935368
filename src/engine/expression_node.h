#pragma once
// The typed tree of an Expression (expression.h), shared by its parser and its evaluator.
// Private to engine.

#include <memory>
#include <string>
#include <vector>

#include "headwater/engine/expression.h"

namespace headwater::engine {

enum class ExprOp {
  kAdd,
  kSubtract,  // of timestamps: seconds, a Float64
  kMultiply,
  kDivide,
  kModulo,
  kConcat,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kAnd,
  kOr,
};

enum class ExprFunction {
  kCoalesce,
  kAbs,
  kLog,
  kExp,
  kSqrt,
  kPow,
  kRound,
  kFloor,
  kCeil,
  kLeast,
  kGreatest,
  kLength,
  kConcat,
  kNow,
};

struct Expression::Node {
  enum class Kind {
    kLiteral,
    kInput,
    kNegate,
    kNot,
    kBinary,
    kIsNull,
    kIsNotNull,
    kCall,
    kCase,
    kCast
  };
  Kind kind = Kind::kLiteral;
  ExprType type = ExprType::kFloat64;
  // kLiteral: a null when `null`, else the value in the field of its type.
  bool null = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  int input = -1;                                   // kInput
  ExprOp op = ExprOp::kAdd;                         // kBinary; operands share a type
  ExprFunction function = ExprFunction::kCoalesce;  // kCall; arguments share a type but length
  // Operands, arguments; kCase: when, then, when, then, ..., then the else (a null literal when
  // none was written); kCast: the operand, cast to `type`.
  std::vector<std::shared_ptr<const Node>> children;
  int height = 1;  // of the tree below it, bounded so that evaluating it cannot exhaust a stack
};

}  // namespace headwater::engine
