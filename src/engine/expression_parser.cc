// Expression::Compile: a lexer and a recursive-descent parser that type-check as they build the
// tree (expression_node.h), inserting casts where numbers of two types meet.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>

#include "expression_node.h"

namespace headwater::engine {
namespace {

using NodePtr = std::shared_ptr<const Expression::Node>;
using Node = Expression::Node;

struct Token {
  enum class Kind { kNumber, kText, kName, kSymbol, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;   // as written; kText: the value, quotes removed
  size_t column = 0;  // 1-based
};

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsNumeric(ExprType type) { return type == ExprType::kInt64 || type == ExprType::kFloat64; }

bool IsNullLiteral(const Expression::Node& node) {
  return node.kind == Expression::Node::Kind::kLiteral && node.null;
}

// A value of `type`, or a bare null (which takes any type).
bool Takes(const Expression::Node& node, ExprType type) {
  return node.type == type || IsNullLiteral(node);
}

class Parser {
 public:
  Parser(std::string_view text, const ExprInputs& inputs) : text_(text), inputs_(inputs) {}

  Result<NodePtr> Parse(std::vector<int>* reads) {
    ARROW_RETURN_NOT_OK(Lex());
    ARROW_ASSIGN_OR_RAISE(NodePtr root, ParseOr());
    if (Peek().kind != Token::Kind::kEnd) return Fail(Peek(), "unexpected after the expression");
    reads->assign(reads_.begin(), reads_.end());
    return root;
  }

 private:
  Status Lex() {
    size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      Token token;
      token.column = i + 1;
      if (std::isdigit(static_cast<unsigned char>(c)) ||
          (c == '.' && i + 1 < text_.size() &&
           std::isdigit(static_cast<unsigned char>(text_[i + 1])))) {
        size_t j = i;
        while (j < text_.size() &&
               (std::isdigit(static_cast<unsigned char>(text_[j])) || text_[j] == '.'))
          ++j;
        if (j < text_.size() && (text_[j] == 'e' || text_[j] == 'E')) {
          ++j;
          if (j < text_.size() && (text_[j] == '+' || text_[j] == '-')) ++j;
          while (j < text_.size() && std::isdigit(static_cast<unsigned char>(text_[j]))) ++j;
        }
        token.kind = Token::Kind::kNumber;
        token.text = std::string(text_.substr(i, j - i));
        i = j;
      } else if (c == '\'') {
        token.kind = Token::Kind::kText;
        size_t j = i + 1;
        for (;; ++j) {
          if (j >= text_.size()) {
            return Status::Invalid("at column ", token.column,
                                   ": a text literal without its closing quote");
          }
          if (text_[j] == '\'') {
            if (j + 1 < text_.size() && text_[j + 1] == '\'') {
              token.text += '\'';
              ++j;
              continue;
            }
            break;
          }
          token.text += text_[j];
        }
        i = j + 1;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t j = i;
        while (j < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '_'))
          ++j;
        token.kind = Token::Kind::kName;
        token.text = std::string(text_.substr(i, j - i));
        i = j;
      } else {
        static constexpr std::string_view kTwo[] = {"==", "!=", "<>", "<=", ">=", "||"};
        token.kind = Token::Kind::kSymbol;
        std::string_view two = text_.substr(i, 2);
        if (std::find(std::begin(kTwo), std::end(kTwo), two) != std::end(kTwo)) {
          token.text = std::string(two);
          i += 2;
        } else if (std::string_view("+-*/%=<>(),.").find(c) != std::string_view::npos) {
          token.text = std::string(1, c);
          ++i;
        } else {
          return Status::Invalid("at column ", token.column, " ('", std::string(1, c),
                                 "'): not a character of the expression language");
        }
      }
      tokens_.push_back(std::move(token));
    }
    Token end;
    end.column = text_.size() + 1;
    tokens_.push_back(end);
    return Status::OK();
  }

  const Token& Peek() const { return tokens_[position_]; }
  const Token& Next() { return tokens_[position_ == tokens_.size() - 1 ? position_ : position_++]; }
  bool IsKeyword(const Token& token, std::string_view word) const {
    return token.kind == Token::Kind::kName && Lower(token.text) == word;
  }
  bool IsSymbol(const Token& token, std::string_view symbol) const {
    return token.kind == Token::Kind::kSymbol && token.text == symbol;
  }
  bool Accept(std::string_view word_or_symbol) {
    const Token& token = Peek();
    if (IsSymbol(token, word_or_symbol) || IsKeyword(token, word_or_symbol)) {
      Next();
      return true;
    }
    return false;
  }

  Status Fail(const Token& token, std::string_view what) const {
    if (token.kind == Token::Kind::kEnd) {
      return Status::Invalid("at column ", token.column, " (the end): ", what);
    }
    return Status::Invalid("at column ", token.column, " ('", token.text, "'): ", what);
  }
  Status Expect(std::string_view word_or_symbol) {
    if (Accept(word_or_symbol)) return Status::OK();
    return Fail(Peek(), fmt::format("expected '{}'", word_or_symbol));
  }

  static NodePtr Cast(NodePtr node, ExprType type) {
    if (node->type == type) return node;
    if (node->kind == Node::Kind::kLiteral && !node->null && node->type == ExprType::kInt64 &&
        type == ExprType::kFloat64) {  // folded: 2 in `x * 2` is 2.0
      auto literal = std::make_shared<Node>(*node);
      literal->type = type;
      literal->real = static_cast<double>(node->integer);
      return literal;
    }
    auto cast = std::make_shared<Node>();
    cast->kind = Node::Kind::kCast;
    cast->type = type;
    cast->height = node->height + 1;
    cast->children = {std::move(node)};
    return cast;
  }

  // A node with its children set: its height, bounded.
  Result<NodePtr> Made(const Token& at, std::shared_ptr<Node> node) const {
    for (const NodePtr& child : node->children)
      node->height = std::max(node->height, child->height + 1);
    if (node->height > kMaxHeight) {
      return Fail(at, fmt::format("the expression is too deep (more than {} operations nested)",
                                  kMaxHeight));
    }
    return NodePtr(std::move(node));
  }

  // Numbers of two types meet as Float64; otherwise the types must be equal (a null literal,
  // typed Float64 by default, takes the other side's type).
  Result<ExprType> Common(const Token& at, std::vector<NodePtr>* nodes, std::string_view what) {
    std::optional<ExprType> common;
    for (const NodePtr& node : *nodes) {
      if (IsNullLiteral(*node)) continue;
      if (!common) {
        common = node->type;
      } else if (*common != node->type) {
        if (IsNumeric(*common) && IsNumeric(node->type)) {
          common = ExprType::kFloat64;
        } else {
          return Fail(at, fmt::format("{} of {} and {}", what, ExprTypeName(*common),
                                      ExprTypeName(node->type)));
        }
      }
    }
    const ExprType type = common.value_or(ExprType::kFloat64);
    for (NodePtr& node : *nodes) node = Cast(node, type);
    return type;
  }

  Result<NodePtr> Binary(const Token& at, ExprOp op, NodePtr left, NodePtr right) {
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kBinary;
    node->op = op;
    std::vector<NodePtr> operands = {std::move(left), std::move(right)};
    switch (op) {
      case ExprOp::kAnd:
      case ExprOp::kOr:
        for (const NodePtr& operand : operands) {
          if (!Takes(*operand, ExprType::kBool)) {
            return Fail(at, fmt::format("'{}' takes Bool operands, not {}", at.text,
                                        ExprTypeName(operand->type)));
          }
        }
        for (NodePtr& operand : operands) operand = Cast(operand, ExprType::kBool);
        node->type = ExprType::kBool;
        break;
      case ExprOp::kConcat: {
        for (const NodePtr& operand : operands) {
          if (!Takes(*operand, ExprType::kString)) {
            return Fail(at, fmt::format("'||' joins String values, not {} (cast it)",
                                        ExprTypeName(operand->type)));
          }
        }
        for (NodePtr& operand : operands) operand = Cast(operand, ExprType::kString);
        node->type = ExprType::kString;
        break;
      }
      case ExprOp::kSubtract:
        if (operands[0]->type == ExprType::kTimestamp &&
            operands[1]->type == ExprType::kTimestamp) {
          node->type = ExprType::kFloat64;  // seconds between them
          break;
        }
        [[fallthrough]];
      case ExprOp::kAdd:
      case ExprOp::kMultiply:
      case ExprOp::kDivide:
      case ExprOp::kModulo: {
        for (const NodePtr& operand : operands) {
          if (!IsNumeric(operand->type)) {
            return Fail(at, fmt::format("'{}' takes numbers, not {}", at.text,
                                        ExprTypeName(operand->type)));
          }
        }
        ARROW_ASSIGN_OR_RAISE(ExprType type, Common(at, &operands, "arithmetic"));
        if (op == ExprOp::kDivide) {
          for (NodePtr& operand : operands) operand = Cast(operand, ExprType::kFloat64);
          type = ExprType::kFloat64;
        }
        node->type = type;
        break;
      }
      default: {  // comparisons
        ARROW_RETURN_NOT_OK(Common(at, &operands, "a comparison").status());
        node->type = ExprType::kBool;
        break;
      }
    }
    node->children = std::move(operands);
    return Made(at, node);
  }

  // Left-associative operators of one precedence over `next`'s operands.
  Result<NodePtr> ParseChain(Result<NodePtr> (Parser::*next)(),
                             std::initializer_list<std::pair<std::string_view, ExprOp>> ops) {
    ARROW_ASSIGN_OR_RAISE(NodePtr left, (this->*next)());
    for (;;) {
      auto op = std::find_if(ops.begin(), ops.end(), [&](const auto& candidate) {
        return IsSymbol(Peek(), candidate.first) || IsKeyword(Peek(), candidate.first);
      });
      if (op == ops.end()) return left;
      const Token at = Next();
      ARROW_ASSIGN_OR_RAISE(NodePtr right, (this->*next)());
      ARROW_ASSIGN_OR_RAISE(left, Binary(at, op->second, left, right));
    }
  }

  Result<NodePtr> ParseOr() { return ParseChain(&Parser::ParseAnd, {{"or", ExprOp::kOr}}); }
  Result<NodePtr> ParseAnd() { return ParseChain(&Parser::ParseNot, {{"and", ExprOp::kAnd}}); }

  Result<NodePtr> ParseNot() {
    if (!IsKeyword(Peek(), "not")) return ParseCompare();
    const Token at = Next();
    if (++depth_ > kMaxDepth) return Fail(at, "nested too deep");
    ARROW_ASSIGN_OR_RAISE(NodePtr operand, ParseNot());
    --depth_;
    if (!Takes(*operand, ExprType::kBool)) {
      return Fail(at, fmt::format("'not' takes a Bool, not {}", ExprTypeName(operand->type)));
    }
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kNot;
    node->type = ExprType::kBool;
    node->children = {Cast(operand, ExprType::kBool)};
    return Made(at, node);
  }

  Result<NodePtr> ParseCompare() {
    ARROW_ASSIGN_OR_RAISE(NodePtr left, ParseSum());
    if (IsKeyword(Peek(), "is")) {
      Next();
      const bool negated = Accept("not");
      ARROW_RETURN_NOT_OK(Expect("null"));
      auto node = std::make_shared<Node>();
      node->kind = negated ? Node::Kind::kIsNotNull : Node::Kind::kIsNull;
      node->type = ExprType::kBool;
      node->children = {left};
      return Made(Peek(), node);
    }
    static const std::map<std::string, ExprOp> kComparisons = {
        {"=", ExprOp::kEqual},     {"==", ExprOp::kEqual},       {"!=", ExprOp::kNotEqual},
        {"<>", ExprOp::kNotEqual}, {"<", ExprOp::kLess},         {"<=", ExprOp::kLessEqual},
        {">", ExprOp::kGreater},   {">=", ExprOp::kGreaterEqual}};
    if (Peek().kind != Token::Kind::kSymbol) return left;
    auto found = kComparisons.find(Peek().text);
    if (found == kComparisons.end()) return left;
    const Token at = Next();
    ARROW_ASSIGN_OR_RAISE(NodePtr right, ParseSum());
    return Binary(at, found->second, left, right);
  }

  Result<NodePtr> ParseSum() {
    return ParseChain(&Parser::ParseProduct,
                      {{"+", ExprOp::kAdd}, {"-", ExprOp::kSubtract}, {"||", ExprOp::kConcat}});
  }

  Result<NodePtr> ParseProduct() {
    return ParseChain(&Parser::ParseUnary,
                      {{"*", ExprOp::kMultiply}, {"/", ExprOp::kDivide}, {"%", ExprOp::kModulo}});
  }

  Result<NodePtr> ParseUnary() {
    if (!IsSymbol(Peek(), "-")) return ParsePrimary();
    const Token at = Next();
    if (++depth_ > kMaxDepth) return Fail(at, "nested too deep");
    ARROW_ASSIGN_OR_RAISE(NodePtr operand, ParseUnary());
    --depth_;
    if (!IsNumeric(operand->type)) {
      return Fail(at, fmt::format("'-' takes a number, not {}", ExprTypeName(operand->type)));
    }
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kNegate;
    node->type = operand->type;
    node->children = {operand};
    return Made(at, node);
  }

  Result<NodePtr> Literal(const Token& token) {
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kLiteral;
    if (token.kind == Token::Kind::kText) {
      node->type = ExprType::kString;
      node->text = token.text;
      return NodePtr(node);
    }
    const std::string& text = token.text;
    const char* end = text.data() + text.size();
    if (text.find_first_of(".eE") == std::string::npos) {
      auto [stop, error] = std::from_chars(text.data(), end, node->integer);
      if (error != std::errc() || stop != end) return Fail(token, "an integer beyond Int64");
      node->type = ExprType::kInt64;
    } else {
      auto [stop, error] = std::from_chars(text.data(), end, node->real);
      if (error != std::errc() || stop != end) return Fail(token, "not a number");
      node->type = ExprType::kFloat64;
    }
    return NodePtr(node);
  }

  Result<NodePtr> ParsePrimary() {
    const Token token = Next();
    if (token.kind == Token::Kind::kNumber || token.kind == Token::Kind::kText)
      return Literal(token);
    if (IsSymbol(token, "(")) {
      if (++depth_ > kMaxDepth) return Fail(token, "nested too deep");
      ARROW_ASSIGN_OR_RAISE(NodePtr inner, ParseOr());
      --depth_;
      ARROW_RETURN_NOT_OK(Expect(")"));
      return inner;
    }
    if (token.kind != Token::Kind::kName)
      return Fail(token, "expected a value, an input or a function");
    const std::string word = Lower(token.text);
    if (word == "true" || word == "false" || word == "null") {
      auto node = std::make_shared<Node>();
      node->kind = Node::Kind::kLiteral;
      node->type = word == "null" ? ExprType::kFloat64 : ExprType::kBool;
      node->null = word == "null";
      node->integer = word == "true";
      return NodePtr(node);
    }
    if (word == "case") return ParseCase(token);
    if (word == "cast") return ParseCast(token);
    if (IsSymbol(Peek(), "(")) return ParseCall(token, word);
    std::string name = token.text;
    if (IsSymbol(Peek(), ".")) {
      Next();
      const Token field = Next();
      if (field.kind != Token::Kind::kName) return Fail(field, "expected a name after '.'");
      name += "." + field.text;
    }
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (inputs_[i].first != name) continue;
      auto node = std::make_shared<Node>();
      node->kind = Node::Kind::kInput;
      node->type = inputs_[i].second;
      node->input = static_cast<int>(i);
      reads_.push_back(node->input);
      std::sort(reads_.begin(), reads_.end());
      reads_.erase(std::unique(reads_.begin(), reads_.end()), reads_.end());
      return NodePtr(node);
    }
    std::string names;
    for (const auto& input : inputs_) names += (names.empty() ? "" : ", ") + input.first;
    Token at = token;
    at.text = name;
    return Fail(
        at, fmt::format("unknown input '{}' (inputs: {})", name, names.empty() ? "none" : names));
  }

  Result<NodePtr> ParseCase(const Token& at) {
    if (++depth_ > kMaxDepth) return Fail(at, "nested too deep");
    std::vector<NodePtr> conditions, values;
    while (IsKeyword(Peek(), "when")) {
      const Token when = Next();
      ARROW_ASSIGN_OR_RAISE(NodePtr condition, ParseOr());
      if (!Takes(*condition, ExprType::kBool)) {
        return Fail(when,
                    fmt::format("a condition must be Bool, not {}", ExprTypeName(condition->type)));
      }
      conditions.push_back(Cast(condition, ExprType::kBool));
      ARROW_RETURN_NOT_OK(Expect("then"));
      ARROW_ASSIGN_OR_RAISE(NodePtr value, ParseOr());
      values.push_back(value);
    }
    if (conditions.empty()) return Fail(Peek(), "expected 'when'");
    NodePtr otherwise;
    if (Accept("else")) {
      ARROW_ASSIGN_OR_RAISE(otherwise, ParseOr());
    } else {
      auto null = std::make_shared<Node>();
      null->kind = Node::Kind::kLiteral;
      null->null = true;
      otherwise = null;
    }
    ARROW_RETURN_NOT_OK(Expect("end"));
    --depth_;
    return MakeCase(at, std::move(conditions), std::move(values), std::move(otherwise));
  }

  Result<NodePtr> MakeCase(const Token& at, std::vector<NodePtr> conditions,
                           std::vector<NodePtr> values, NodePtr otherwise) {
    values.push_back(std::move(otherwise));
    ARROW_ASSIGN_OR_RAISE(ExprType type, Common(at, &values, "results"));
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kCase;
    node->type = type;
    for (size_t i = 0; i < conditions.size(); ++i) {
      node->children.push_back(conditions[i]);
      node->children.push_back(values[i]);
    }
    node->children.push_back(values.back());
    return Made(at, node);
  }

  Result<NodePtr> ParseCast(const Token& at) {
    ARROW_RETURN_NOT_OK(Expect("("));
    if (++depth_ > kMaxDepth) return Fail(at, "nested too deep");
    ARROW_ASSIGN_OR_RAISE(NodePtr operand, ParseOr());
    --depth_;
    ARROW_RETURN_NOT_OK(Expect("as"));
    const Token name = Next();
    static const std::map<std::string, ExprType> kTypes = {{"bool", ExprType::kBool},
                                                           {"boolean", ExprType::kBool},
                                                           {"int32", ExprType::kInt64},
                                                           {"int64", ExprType::kInt64},
                                                           {"integer", ExprType::kInt64},
                                                           {"float32", ExprType::kFloat64},
                                                           {"float64", ExprType::kFloat64},
                                                           {"float", ExprType::kFloat64},
                                                           {"double", ExprType::kFloat64},
                                                           {"string", ExprType::kString},
                                                           {"unixtimestamp", ExprType::kTimestamp},
                                                           {"timestamp", ExprType::kTimestamp}};
    auto type = kTypes.find(Lower(name.text));
    if (name.kind != Token::Kind::kName || type == kTypes.end()) {
      return Fail(name,
                  "expected a type: Bool, Int32, Int64, Float32, Float64, String, UnixTimestamp");
    }
    ARROW_RETURN_NOT_OK(Expect(")"));
    const bool to_time = type->second == ExprType::kTimestamp;
    const bool from_time = operand->type == ExprType::kTimestamp;
    const bool null = IsNullLiteral(*operand);
    if ((to_time && !from_time && !null && operand->type != ExprType::kInt64 &&
         operand->type != ExprType::kString) ||
        (from_time && !to_time && type->second != ExprType::kInt64 &&
         type->second != ExprType::kString)) {
      return Fail(at, fmt::format("cannot cast {} to {}", ExprTypeName(operand->type),
                                  ExprTypeName(type->second)));
    }
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kCast;
    node->type = type->second;
    node->children = {operand};
    return Made(at, node);
  }

  Result<NodePtr> ParseCall(const Token& at, const std::string& name) {
    Next();  // '('
    if (++depth_ > kMaxDepth) return Fail(at, "nested too deep");
    std::vector<NodePtr> arguments;
    if (!IsSymbol(Peek(), ")")) {
      do {
        ARROW_ASSIGN_OR_RAISE(NodePtr argument, ParseOr());
        arguments.push_back(std::move(argument));
      } while (Accept(","));
    }
    ARROW_RETURN_NOT_OK(Expect(")"));
    --depth_;
    auto count = [&](size_t low, size_t high) -> Status {
      if (arguments.size() >= low && arguments.size() <= high) return Status::OK();
      return Fail(at, low == high
                          ? fmt::format("{}() takes {} argument{}", name, low, low == 1 ? "" : "s")
                          : fmt::format("{}() takes {} to {} arguments", name, low, high));
    };
    auto numbers = [&]() -> Status {
      for (const NodePtr& argument : arguments) {
        if (!IsNumeric(argument->type)) {
          return Fail(
              at, fmt::format("{}() takes numbers, not {}", name, ExprTypeName(argument->type)));
        }
      }
      return Status::OK();
    };
    auto node = std::make_shared<Node>();
    node->kind = Node::Kind::kCall;
    if (name == "if") {
      ARROW_RETURN_NOT_OK(count(3, 3));
      if (!Takes(*arguments[0], ExprType::kBool)) {
        return Fail(at, fmt::format("if()'s condition must be Bool, not {}",
                                    ExprTypeName(arguments[0]->type)));
      }
      return MakeCase(at, {Cast(arguments[0], ExprType::kBool)}, {arguments[1]}, arguments[2]);
    }
    static const std::map<std::string, ExprFunction> kFunctions = {
        {"coalesce", ExprFunction::kCoalesce}, {"abs", ExprFunction::kAbs},
        {"log", ExprFunction::kLog},           {"ln", ExprFunction::kLog},
        {"exp", ExprFunction::kExp},           {"sqrt", ExprFunction::kSqrt},
        {"pow", ExprFunction::kPow},           {"power", ExprFunction::kPow},
        {"round", ExprFunction::kRound},       {"floor", ExprFunction::kFloor},
        {"ceil", ExprFunction::kCeil},         {"least", ExprFunction::kLeast},
        {"min", ExprFunction::kLeast},         {"greatest", ExprFunction::kGreatest},
        {"max", ExprFunction::kGreatest},      {"length", ExprFunction::kLength},
        {"concat", ExprFunction::kConcat},     {"now", ExprFunction::kNow}};
    auto found = kFunctions.find(name);
    if (found == kFunctions.end()) {
      Token named = at;
      return Fail(named, fmt::format("unknown function '{}'", name));
    }
    node->function = found->second;
    switch (node->function) {
      case ExprFunction::kCoalesce:
      case ExprFunction::kLeast:
      case ExprFunction::kGreatest: {
        ARROW_RETURN_NOT_OK(count(1, 1000));
        ARROW_ASSIGN_OR_RAISE(node->type,
                              Common(at, &arguments, std::string(name) + "()'s arguments"));
        break;
      }
      case ExprFunction::kAbs:
      case ExprFunction::kFloor:
      case ExprFunction::kCeil:
        ARROW_RETURN_NOT_OK(count(1, 1));
        ARROW_RETURN_NOT_OK(numbers());
        node->type = arguments[0]->type;
        break;
      case ExprFunction::kLog:
      case ExprFunction::kExp:
      case ExprFunction::kSqrt:
        ARROW_RETURN_NOT_OK(count(1, 1));
        ARROW_RETURN_NOT_OK(numbers());
        arguments[0] = Cast(arguments[0], ExprType::kFloat64);
        node->type = ExprType::kFloat64;
        break;
      case ExprFunction::kPow:
        ARROW_RETURN_NOT_OK(count(2, 2));
        ARROW_RETURN_NOT_OK(numbers());
        for (NodePtr& argument : arguments) argument = Cast(argument, ExprType::kFloat64);
        node->type = ExprType::kFloat64;
        break;
      case ExprFunction::kRound:
        ARROW_RETURN_NOT_OK(count(1, 2));
        ARROW_RETURN_NOT_OK(numbers());
        arguments[0] = Cast(arguments[0], ExprType::kFloat64);
        if (arguments.size() == 2 && arguments[1]->type != ExprType::kInt64) {
          return Fail(at, "round()'s digits must be an Int64");
        }
        node->type = ExprType::kFloat64;
        break;
      case ExprFunction::kLength:
        ARROW_RETURN_NOT_OK(count(1, 1));
        if (arguments[0]->type != ExprType::kString) {
          return Fail(
              at, fmt::format("length() takes a String, not {}", ExprTypeName(arguments[0]->type)));
        }
        node->type = ExprType::kInt64;
        break;
      case ExprFunction::kConcat:
        ARROW_RETURN_NOT_OK(count(1, 1000));
        for (NodePtr& argument : arguments) {
          if (!Takes(*argument, ExprType::kString)) {
            return Fail(at, fmt::format("concat() joins String values, not {} (cast it)",
                                        ExprTypeName(argument->type)));
          }
          argument = Cast(argument, ExprType::kString);
        }
        node->type = ExprType::kString;
        break;
      case ExprFunction::kNow:
        ARROW_RETURN_NOT_OK(count(0, 0));
        node->type = ExprType::kTimestamp;
        break;
    }
    node->children = std::move(arguments);
    return Made(at, node);
  }

  static constexpr int kMaxDepth = 64;    // of brackets, calls and prefixes while parsing
  static constexpr int kMaxHeight = 256;  // of the tree
  std::string_view text_;
  const ExprInputs& inputs_;
  std::vector<Token> tokens_;
  size_t position_ = 0;
  int depth_ = 0;
  std::vector<int> reads_;
};

}  // namespace

std::string_view ExprTypeName(ExprType type) {
  switch (type) {
    case ExprType::kBool:
      return "Bool";
    case ExprType::kInt64:
      return "Int64";
    case ExprType::kFloat64:
      return "Float64";
    case ExprType::kString:
      return "String";
    case ExprType::kTimestamp:
      return "UnixTimestamp";
  }
  return "?";
}

Result<Expression> Expression::Compile(std::string_view text, const ExprInputs& inputs) {
  Parser parser(text, inputs);
  Expression expression;
  ARROW_ASSIGN_OR_RAISE(expression.root_, parser.Parse(&expression.reads_));
  return expression;
}

ExprType Expression::type() const { return root_->type; }

}  // namespace headwater::engine
