// Expression::Evaluate: each node computes a whole column from its children's columns, in flat
// loops — as cheap for one online row as it is fast for a training set.

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "expression_node.h"
#include "headwater/core/time.h"

namespace headwater::engine {
namespace {

using Node = Expression::Node;

struct Context {
  const std::vector<const ExprColumn*>& inputs;
  int64_t length;
  int64_t now;
  const int64_t* nows = nullptr;  // per row, when given
};

ExprColumn Empty(ExprType type, int64_t length) {
  ExprColumn out;
  out.type = type;
  out.length = length;
  out.valid.assign(static_cast<size_t>(length), 1);
  const auto n = static_cast<size_t>(length);
  switch (type) {
    case ExprType::kFloat64:
      out.doubles.assign(n, 0.0);
      break;
    case ExprType::kString:
      out.strings.assign(n, std::string());
      break;
    default:
      out.ints.assign(n, 0);
      break;
  }
  return out;
}

void SetNull(ExprColumn& column, int64_t row) {
  if (column.valid.empty()) column.valid.assign(static_cast<size_t>(column.length), 1);
  column.valid[static_cast<size_t>(row)] = 0;
}

// Rows valid in both (empty: all of them).
std::vector<uint8_t> BothValid(const ExprColumn& a, const ExprColumn& b) {
  if (a.valid.empty()) return b.valid;
  if (b.valid.empty()) return a.valid;
  std::vector<uint8_t> valid(a.valid.size());
  for (size_t i = 0; i < valid.size(); ++i) valid[i] = a.valid[i] & b.valid[i];
  return valid;
}

// Non-finite results are null.
void NullNonFinite(ExprColumn& column) {
  const double* values = column.doubles.data();
  bool all_finite = true;
  for (int64_t i = 0; i < column.length; ++i) all_finite &= std::isfinite(values[i]);
  if (all_finite) return;
  for (int64_t i = 0; i < column.length; ++i) {
    if (!std::isfinite(values[i])) SetNull(column, i);
  }
}

// A floating result that is not finite is null.
void SetReal(ExprColumn& column, int64_t row, double value) {
  if (std::isfinite(value)) {
    column.doubles[static_cast<size_t>(row)] = value;
  } else {
    SetNull(column, row);
  }
}

bool BothValid(const ExprColumn& a, const ExprColumn& b, int64_t row) {
  return a.IsValid(row) && b.IsValid(row);
}

// Python's %: the result takes the divisor's sign.
int64_t FloorModulo(int64_t a, int64_t b) {
  if (b == -1) return 0;  // INT64_MIN % -1 overflows in C++
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double FloorModulo(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

template <typename T>
int Compare(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

bool Holds(ExprOp op, int order) {
  switch (op) {
    case ExprOp::kEqual:
      return order == 0;
    case ExprOp::kNotEqual:
      return order != 0;
    case ExprOp::kLess:
      return order < 0;
    case ExprOp::kLessEqual:
      return order <= 0;
    case ExprOp::kGreater:
      return order > 0;
    default:
      return order >= 0;
  }
}

// One side of a Float64 operation: a column, or a literal's value for every row.
struct RealOperand {
  const ExprColumn* column = nullptr;
  double scalar = 0;
};

// Float64 arithmetic, one tight loop per operator: what the training-set sizes run.
template <typename Op>
ExprColumn RealArithmetic(const RealOperand& a, const RealOperand& b, int64_t n, Op op) {
  ExprColumn out;
  out.type = ExprType::kFloat64;
  out.length = n;
  static const ExprColumn kAllValid;
  out.valid = BothValid(a.column ? *a.column : kAllValid, b.column ? *b.column : kAllValid);
  out.doubles.resize(static_cast<size_t>(n));
  double* z = out.doubles.data();
  if (a.column && b.column) {
    const double* x = a.column->doubles.data();
    const double* y = b.column->doubles.data();
    for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y[i]);
  } else if (a.column) {
    const double* x = a.column->doubles.data();
    for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], b.scalar);
  } else {
    const double* y = b.column->doubles.data();
    for (int64_t i = 0; i < n; ++i) z[i] = op(a.scalar, y[i]);
  }
  NullNonFinite(out);  // also x / 0 and fmod(x, 0)
  return out;
}

std::optional<ExprColumn> RealBinary(ExprOp op, const RealOperand& a, const RealOperand& b,
                                     int64_t n) {
  switch (op) {
    case ExprOp::kAdd:
      return RealArithmetic(a, b, n, [](double x, double y) { return x + y; });
    case ExprOp::kSubtract:
      return RealArithmetic(a, b, n, [](double x, double y) { return x - y; });
    case ExprOp::kMultiply:
      return RealArithmetic(a, b, n, [](double x, double y) { return x * y; });
    case ExprOp::kDivide:
      return RealArithmetic(a, b, n, [](double x, double y) { return x / y; });
    case ExprOp::kModulo:
      return RealArithmetic(a, b, n, [](double x, double y) { return FloorModulo(x, y); });
    default:
      return std::nullopt;
  }
}

ExprColumn Binary(ExprOp op, ExprType type, const ExprColumn& a, const ExprColumn& b, int64_t n) {
  if (type == ExprType::kFloat64 && a.type == ExprType::kFloat64) {
    auto out = RealBinary(op, RealOperand{&a}, RealOperand{&b}, n);
    if (out) return std::move(*out);
  }
  ExprColumn out = Empty(type, n);
  if (op == ExprOp::kAnd || op == ExprOp::kOr) {
    // Three-valued: a false (and) or a true (or) decides whatever the other side is.
    const int64_t decisive = op == ExprOp::kOr ? 1 : 0;
    for (int64_t i = 0; i < n; ++i) {
      const bool av = a.IsValid(i), bv = b.IsValid(i);
      const int64_t x = a.ints[static_cast<size_t>(i)], y = b.ints[static_cast<size_t>(i)];
      if ((av && x == decisive) || (bv && y == decisive)) {
        out.ints[static_cast<size_t>(i)] = decisive;
      } else if (av && bv) {
        out.ints[static_cast<size_t>(i)] = 1 - decisive;
      } else {
        SetNull(out, i);
      }
    }
    return out;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!BothValid(a, b, i)) {
      SetNull(out, i);
      continue;
    }
    const auto r = static_cast<size_t>(i);
    switch (op) {
      case ExprOp::kConcat:
        out.strings[r] = a.strings[r] + b.strings[r];
        continue;
      case ExprOp::kEqual:
      case ExprOp::kNotEqual:
      case ExprOp::kLess:
      case ExprOp::kLessEqual:
      case ExprOp::kGreater:
      case ExprOp::kGreaterEqual: {
        int order;
        if (a.type == ExprType::kFloat64) {
          order = Compare(a.doubles[r], b.doubles[r]);
        } else if (a.type == ExprType::kString) {
          order = Compare(a.strings[r], b.strings[r]);
        } else {
          order = Compare(a.ints[r], b.ints[r]);
        }
        out.ints[r] = Holds(op, order) ? 1 : 0;
        continue;
      }
      default:
        break;
    }
    if (a.type == ExprType::kTimestamp) {  // subtract: seconds between them
      int64_t micros;
      if (__builtin_sub_overflow(a.ints[r], b.ints[r], &micros)) {
        SetNull(out, i);
      } else {
        out.doubles[r] = static_cast<double>(micros) / 1e6;
      }
      continue;
    }
    if (type == ExprType::kInt64) {
      const int64_t x = a.ints[r], y = b.ints[r];
      int64_t z = 0;
      bool overflow = false;
      switch (op) {
        case ExprOp::kAdd:
          overflow = __builtin_add_overflow(x, y, &z);
          break;
        case ExprOp::kSubtract:
          overflow = __builtin_sub_overflow(x, y, &z);
          break;
        case ExprOp::kMultiply:
          overflow = __builtin_mul_overflow(x, y, &z);
          break;
        default:  // modulo
          overflow = y == 0;
          if (!overflow) z = FloorModulo(x, y);
          break;
      }
      if (overflow) {
        SetNull(out, i);
      } else {
        out.ints[r] = z;
      }
      continue;
    }
    const double x = a.doubles[r], y = b.doubles[r];
    switch (op) {
      case ExprOp::kAdd:
        SetReal(out, i, x + y);
        break;
      case ExprOp::kSubtract:
        SetReal(out, i, x - y);
        break;
      case ExprOp::kMultiply:
        SetReal(out, i, x * y);
        break;
      case ExprOp::kDivide:
        if (y == 0) {
          SetNull(out, i);
        } else {
          SetReal(out, i, x / y);
        }
        break;
      default:  // modulo
        if (y == 0) {
          SetNull(out, i);
        } else {
          SetReal(out, i, FloorModulo(x, y));
        }
        break;
    }
  }
  return out;
}

std::string FormatReal(double value) { return fmt::format("{}", value); }

ExprColumn Cast(const ExprColumn& in, ExprType to, int64_t n) {
  if (to == ExprType::kFloat64 && in.type == ExprType::kInt64) {
    ExprColumn out;
    out.type = to;
    out.length = n;
    out.valid = in.valid;
    out.doubles.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      out.doubles[static_cast<size_t>(i)] = static_cast<double>(in.ints[static_cast<size_t>(i)]);
    }
    return out;
  }
  ExprColumn out = Empty(to, n);
  for (int64_t i = 0; i < n; ++i) {
    if (!in.IsValid(i)) {
      SetNull(out, i);
      continue;
    }
    const auto r = static_cast<size_t>(i);
    switch (to) {
      case ExprType::kBool:
        if (in.type == ExprType::kFloat64) {
          out.ints[r] = in.doubles[r] != 0;
        } else if (in.type == ExprType::kString) {
          const std::string& s = in.strings[r];
          if (s == "true" || s == "True" || s == "TRUE") {
            out.ints[r] = 1;
          } else if (s == "false" || s == "False" || s == "FALSE") {
            out.ints[r] = 0;
          } else {
            SetNull(out, i);
          }
        } else {
          out.ints[r] = in.ints[r] != 0;
        }
        break;
      case ExprType::kInt64:
        if (in.type == ExprType::kFloat64) {
          const double v = std::trunc(in.doubles[r]);  // toward zero, as Python's int()
          if (std::isfinite(v) && v >= -9.223372036854775808e18 && v < 9.223372036854775808e18) {
            out.ints[r] = static_cast<int64_t>(v);
          } else {
            SetNull(out, i);
          }
        } else if (in.type == ExprType::kString) {
          const std::string& s = in.strings[r];
          auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), out.ints[r]);
          if (error != std::errc() || end != s.data() + s.size()) SetNull(out, i);
        } else if (in.type == ExprType::kTimestamp) {  // Unix seconds
          out.ints[r] = in.ints[r] / 1'000'000 - (in.ints[r] % 1'000'000 < 0 ? 1 : 0);
        } else {
          out.ints[r] = in.ints[r];
        }
        break;
      case ExprType::kFloat64:
        if (in.type == ExprType::kString) {
          const std::string& s = in.strings[r];
          double v = 0;
          auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), v);
          if (error != std::errc() || end != s.data() + s.size()) {
            SetNull(out, i);
          } else {
            SetReal(out, i, v);
          }
        } else {
          SetReal(out, i, static_cast<double>(in.ints[r]));
        }
        break;
      case ExprType::kString:
        switch (in.type) {
          case ExprType::kBool:
            out.strings[r] = in.ints[r] ? "true" : "false";
            break;
          case ExprType::kInt64:
            out.strings[r] = std::to_string(in.ints[r]);
            break;
          case ExprType::kFloat64:
            out.strings[r] = FormatReal(in.doubles[r]);
            break;
          case ExprType::kTimestamp:
            out.strings[r] = FormatTimestamp(Timestamp{in.ints[r]});
            break;
          case ExprType::kString:
            out.strings[r] = in.strings[r];
            break;
        }
        break;
      case ExprType::kTimestamp:
        if (in.type == ExprType::kString) {
          auto parsed = ParseTimestamp(in.strings[r]);
          if (parsed.ok()) {
            out.ints[r] = parsed->micros;
          } else {
            SetNull(out, i);
          }
        } else {  // Unix seconds
          int64_t micros;
          if (__builtin_mul_overflow(in.ints[r], int64_t{1'000'000}, &micros)) {
            SetNull(out, i);
          } else {
            out.ints[r] = micros;
          }
        }
        break;
    }
  }
  return out;
}

double RoundHalfEven(double value, int64_t digits) {
  if (digits == 0) return std::nearbyint(value);
  const double scale = std::pow(10.0, static_cast<double>(digits));
  return std::nearbyint(value * scale) / scale;  // as NumPy rounds
}

Result<ExprColumn> Evaluate(const Node& node, const Context& context);

Result<std::vector<ExprColumn>> EvaluateChildren(const Node& node, const Context& context) {
  std::vector<ExprColumn> columns;
  for (const auto& child : node.children) {
    ARROW_ASSIGN_OR_RAISE(auto column, Evaluate(*child, context));
    columns.push_back(std::move(column));
  }
  return columns;
}

// Row `r` of `from` (valid, of out's type) into `out`.
void CopyValue(const ExprColumn& from, size_t r, ExprColumn& out) {
  if (out.type == ExprType::kFloat64) {
    out.doubles[r] = from.doubles[r];
  } else if (out.type == ExprType::kString) {
    out.strings[r] = from.strings[r];
  } else {
    out.ints[r] = from.ints[r];
  }
}

Result<ExprColumn> Call(const Node& node, const Context& context) {
  const int64_t n = context.length;
  ARROW_ASSIGN_OR_RAISE(auto args, EvaluateChildren(node, context));
  ExprColumn out = Empty(node.type, n);
  for (int64_t i = 0; i < n; ++i) {
    const auto r = static_cast<size_t>(i);
    switch (node.function) {
      case ExprFunction::kCoalesce:
      case ExprFunction::kLeast:
      case ExprFunction::kGreatest: {
        // coalesce: the first value; least/greatest: the extreme of the values, nulls skipped.
        const ExprColumn* best = nullptr;
        for (const ExprColumn& arg : args) {
          if (!arg.IsValid(i)) continue;
          if (best == nullptr) {
            best = &arg;
            if (node.function == ExprFunction::kCoalesce) break;
            continue;
          }
          int order = node.type == ExprType::kFloat64  ? Compare(arg.doubles[r], best->doubles[r])
                      : node.type == ExprType::kString ? Compare(arg.strings[r], best->strings[r])
                                                       : Compare(arg.ints[r], best->ints[r]);
          if ((node.function == ExprFunction::kLeast && order < 0) ||
              (node.function == ExprFunction::kGreatest && order > 0)) {
            best = &arg;
          }
        }
        if (best == nullptr) {
          SetNull(out, i);
        } else {
          CopyValue(*best, r, out);
        }
        continue;
      }
      case ExprFunction::kConcat:  // nulls skipped, as SQL's concat()
        for (const ExprColumn& arg : args) {
          if (arg.IsValid(i)) out.strings[r] += arg.strings[r];
        }
        continue;
      case ExprFunction::kNow:
        out.ints[r] = context.nows != nullptr ? context.nows[r] : context.now;
        continue;
      default:
        break;
    }
    bool valid = true;
    for (const ExprColumn& arg : args) valid = valid && arg.IsValid(i);
    if (!valid) {
      SetNull(out, i);
      continue;
    }
    const ExprColumn& x = args[0];
    switch (node.function) {
      case ExprFunction::kAbs:
        if (node.type == ExprType::kInt64) {
          if (x.ints[r] == std::numeric_limits<int64_t>::min()) {
            SetNull(out, i);
          } else {
            out.ints[r] = x.ints[r] < 0 ? -x.ints[r] : x.ints[r];
          }
        } else {
          SetReal(out, i, std::fabs(x.doubles[r]));
        }
        break;
      case ExprFunction::kFloor:
      case ExprFunction::kCeil:
        if (node.type == ExprType::kInt64) {
          out.ints[r] = x.ints[r];
        } else {
          SetReal(out, i,
                  node.function == ExprFunction::kFloor ? std::floor(x.doubles[r])
                                                        : std::ceil(x.doubles[r]));
        }
        break;
      case ExprFunction::kLog:
        SetReal(out, i, x.doubles[r] > 0 ? std::log(x.doubles[r]) : NAN);
        break;
      case ExprFunction::kExp:
        SetReal(out, i, std::exp(x.doubles[r]));
        break;
      case ExprFunction::kSqrt:
        SetReal(out, i, x.doubles[r] >= 0 ? std::sqrt(x.doubles[r]) : NAN);
        break;
      case ExprFunction::kPow:
        SetReal(out, i, std::pow(x.doubles[r], args[1].doubles[r]));
        break;
      case ExprFunction::kRound:
        SetReal(out, i, RoundHalfEven(x.doubles[r], args.size() == 2 ? args[1].ints[r] : 0));
        break;
      case ExprFunction::kLength: {
        int64_t characters = 0;  // UTF-8 code points
        for (unsigned char c : x.strings[r]) characters += (c & 0xC0) != 0x80;
        out.ints[r] = characters;
        break;
      }
      default:
        break;
    }
  }
  return out;
}

const ExprColumn* InputOf(const Node& node, const Context& context) {
  const ExprColumn* input = context.inputs[static_cast<size_t>(node.input)];
  if (input == nullptr || input->length != context.length || input->type != node.type) {
    return nullptr;
  }
  return input;
}

Status BadInput(const Node& node, const Context& context) {
  return Status::Invalid("expression input ", node.input, " is missing or not ", context.length,
                         " ", ExprTypeName(node.type), " values");
}

// A child's column: an input as it is (not copied), anything else computed into `storage`.
Result<const ExprColumn*> Operand(const Node& node, const Context& context, ExprColumn* storage) {
  if (node.kind == Node::Kind::kInput) {
    const ExprColumn* input = InputOf(node, context);
    if (input == nullptr) return BadInput(node, context);
    return input;
  }
  ARROW_ASSIGN_OR_RAISE(*storage, Evaluate(node, context));
  return storage;
}

Result<ExprColumn> Evaluate(const Node& node, const Context& context) {
  const int64_t n = context.length;
  switch (node.kind) {
    case Node::Kind::kLiteral: {
      ExprColumn out = Empty(node.type, n);
      for (int64_t i = 0; i < n; ++i) {
        const auto r = static_cast<size_t>(i);
        if (node.null) {
          SetNull(out, i);
        } else if (node.type == ExprType::kFloat64) {
          out.doubles[r] = node.real;
        } else if (node.type == ExprType::kString) {
          out.strings[r] = node.text;
        } else {
          out.ints[r] = node.integer;
        }
      }
      return out;
    }
    case Node::Kind::kInput: {
      const ExprColumn* input = InputOf(node, context);
      if (input == nullptr) return BadInput(node, context);
      return *input;
    }
    case Node::Kind::kNegate: {
      ARROW_ASSIGN_OR_RAISE(auto x, Evaluate(*node.children[0], context));
      for (int64_t i = 0; i < n; ++i) {
        const auto r = static_cast<size_t>(i);
        if (x.type == ExprType::kFloat64) {
          x.doubles[r] = -x.doubles[r];
        } else if (x.ints[r] == std::numeric_limits<int64_t>::min()) {
          SetNull(x, i);
        } else {
          x.ints[r] = -x.ints[r];
        }
      }
      return x;
    }
    case Node::Kind::kNot: {
      ARROW_ASSIGN_OR_RAISE(auto x, Evaluate(*node.children[0], context));
      for (int64_t& v : x.ints) v = 1 - v;
      return x;
    }
    case Node::Kind::kIsNull:
    case Node::Kind::kIsNotNull: {
      ARROW_ASSIGN_OR_RAISE(auto x, Evaluate(*node.children[0], context));
      ExprColumn out = Empty(ExprType::kBool, n);
      for (int64_t i = 0; i < n; ++i) {
        out.ints[static_cast<size_t>(i)] = x.IsValid(i) == (node.kind == Node::Kind::kIsNotNull);
      }
      return out;
    }
    case Node::Kind::kBinary: {
      ExprColumn storage[2];
      const ExprColumn* operands[2];
      RealOperand reals[2];
      for (int side = 0; side < 2; ++side) {
        const Node& child = *node.children[static_cast<size_t>(side)];
        if (child.kind == Node::Kind::kLiteral && !child.null && child.type == ExprType::kFloat64) {
          reals[side].scalar = child.real;  // no column of n copies
          operands[side] = nullptr;
          continue;
        }
        ARROW_ASSIGN_OR_RAISE(operands[side], Operand(child, context, &storage[side]));
        reals[side].column = operands[side];
      }
      if (node.type == ExprType::kFloat64 && node.children[0]->type == ExprType::kFloat64 &&
          (operands[0] != nullptr || operands[1] != nullptr)) {
        auto out = RealBinary(node.op, reals[0], reals[1], n);
        if (out) return std::move(*out);
      }
      for (int side = 0; side < 2; ++side) {
        if (operands[side] == nullptr) {
          ARROW_ASSIGN_OR_RAISE(storage[side],
                                Evaluate(*node.children[static_cast<size_t>(side)], context));
          operands[side] = &storage[side];
        }
      }
      return Binary(node.op, node.type, *operands[0], *operands[1], n);
    }
    case Node::Kind::kCall:
      return Call(node, context);
    case Node::Kind::kCase: {
      ARROW_ASSIGN_OR_RAISE(auto parts, EvaluateChildren(node, context));
      ExprColumn out = Empty(node.type, n);
      for (int64_t i = 0; i < n; ++i) {
        const auto r = static_cast<size_t>(i);
        const ExprColumn* chosen = &parts.back();
        for (size_t w = 0; w + 1 < parts.size(); w += 2) {
          if (parts[w].IsValid(i) && parts[w].ints[r] != 0) {  // a null condition is false
            chosen = &parts[w + 1];
            break;
          }
        }
        if (!chosen->IsValid(i)) {
          SetNull(out, i);
        } else {
          CopyValue(*chosen, r, out);
        }
      }
      return out;
    }
    case Node::Kind::kCast: {
      ExprColumn storage;
      ARROW_ASSIGN_OR_RAISE(const ExprColumn* x, Operand(*node.children[0], context, &storage));
      if (x->type == node.type) return *x;
      return Cast(*x, node.type, n);
    }
  }
  return Status::Invalid("unknown expression node");
}

}  // namespace

Result<ExprColumn> Expression::Evaluate(const std::vector<const ExprColumn*>& inputs,
                                        int64_t length, int64_t now_micros) const {
  return engine::Evaluate(*root_, Context{inputs, length, now_micros});
}

Result<ExprColumn> Expression::Evaluate(const std::vector<const ExprColumn*>& inputs,
                                        const std::vector<int64_t>& now_micros) const {
  const auto length = static_cast<int64_t>(now_micros.size());
  return engine::Evaluate(*root_, Context{inputs, length, 0, now_micros.data()});
}

}  // namespace headwater::engine
