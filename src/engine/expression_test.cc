#include "headwater/engine/expression.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace headwater::engine {
namespace {

using Maybe = std::optional<double>;

ExprColumn Reals(std::vector<Maybe> values) {
  ExprColumn column;
  column.type = ExprType::kFloat64;
  column.length = static_cast<int64_t>(values.size());
  for (const Maybe& value : values) {
    column.valid.push_back(value.has_value());
    column.doubles.push_back(value.value_or(0));
  }
  return column;
}

ExprColumn Integers(ExprType type, std::vector<std::optional<int64_t>> values) {
  ExprColumn column;
  column.type = type;
  column.length = static_cast<int64_t>(values.size());
  for (const auto& value : values) {
    column.valid.push_back(value.has_value());
    column.ints.push_back(value.value_or(0));
  }
  return column;
}

ExprColumn Texts(std::vector<std::optional<std::string>> values) {
  ExprColumn column;
  column.type = ExprType::kString;
  column.length = static_cast<int64_t>(values.size());
  for (const auto& value : values) {
    column.valid.push_back(value.has_value());
    column.strings.push_back(value.value_or(""));
  }
  return column;
}

constexpr int64_t kNow = 1'700'000'000'000'000;

// Feast's quickstart inputs and a few more, three rows each.
class ExpressionTest : public ::testing::Test {
 protected:
  ExpressionTest()
      : conv_rate_(Reals({0.5, std::nullopt, 0.25})),
        trips_(Integers(ExprType::kInt64, {10, 0, std::numeric_limits<int64_t>::max()})),
        val_to_add_(Integers(ExprType::kInt64, {1, 2, 3})),
        name_(Texts({"ab", "é", std::nullopt})),
        seen_(Integers(ExprType::kTimestamp, {kNow - 90'000'000, kNow, std::nullopt})),
        active_(Integers(ExprType::kBool, {1, 0, std::nullopt})) {}

  Result<ExprColumn> Run(const std::string& text) {
    const ExprInputs inputs = {{"driver_hourly_stats.conv_rate", ExprType::kFloat64},
                               {"driver_hourly_stats.trips", ExprType::kInt64},
                               {"val_to_add", ExprType::kInt64},
                               {"name", ExprType::kString},
                               {"driver_hourly_stats.event_timestamp", ExprType::kTimestamp},
                               {"active", ExprType::kBool}};
    ARROW_ASSIGN_OR_RAISE(auto expression, Expression::Compile(text, inputs));
    return expression.Evaluate({&conv_rate_, &trips_, &val_to_add_, &name_, &seen_, &active_}, 3,
                               kNow);
  }

  std::vector<Maybe> RealsOf(const std::string& text) {
    auto column = Run(text);
    EXPECT_TRUE(column.ok()) << text << ": " << column.status().ToString();
    std::vector<Maybe> out;
    if (!column.ok()) return out;
    for (int64_t i = 0; i < column->length; ++i) {
      if (!column->IsValid(i)) {
        out.push_back(std::nullopt);
      } else if (column->type == ExprType::kFloat64) {
        out.push_back(column->doubles[static_cast<size_t>(i)]);
      } else {
        out.push_back(static_cast<double>(column->ints[static_cast<size_t>(i)]));
      }
    }
    return out;
  }

  std::string ErrorOf(const std::string& text) {
    auto column = Run(text);
    EXPECT_FALSE(column.ok()) << text;
    return column.ok() ? "" : column.status().message();
  }

  ExprColumn conv_rate_, trips_, val_to_add_, name_, seen_, active_;
};

TEST_F(ExpressionTest, FeastQuickstartTransformation) {
  EXPECT_EQ(RealsOf("driver_hourly_stats.conv_rate + val_to_add"),
            (std::vector<Maybe>{1.5, std::nullopt, 3.25}));
  auto compiled = Expression::Compile("conv_rate + val_to_add", {{"conv_rate", ExprType::kFloat64},
                                                                 {"x", ExprType::kBool},
                                                                 {"val_to_add", ExprType::kInt64}});
  ASSERT_TRUE(compiled.ok());
  EXPECT_EQ(compiled->type(), ExprType::kFloat64);
  EXPECT_EQ(compiled->reads(), (std::vector<int>{0, 2}));
}

TEST_F(ExpressionTest, IntegersStayIntegersUntilTheyMeetFloatsOrDivision) {
  auto column = Run("val_to_add * 2 + 1");
  ASSERT_TRUE(column.ok());
  EXPECT_EQ(column->type, ExprType::kInt64);
  EXPECT_EQ(column->ints, (std::vector<int64_t>{3, 5, 7}));
  EXPECT_EQ(RealsOf("val_to_add / 2"), (std::vector<Maybe>{0.5, 1.0, 1.5}));
  EXPECT_EQ(RealsOf("-val_to_add % 2"), (std::vector<Maybe>{1, 0, 1}));  // Python's sign
  EXPECT_EQ(RealsOf("7.5 % -2"), (std::vector<Maybe>{-0.5, -0.5, -0.5}));
}

TEST_F(ExpressionTest, WhatCannotBeComputedIsNullNeverAnError) {
  const std::vector<Maybe> nulls = {std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(RealsOf("val_to_add / 0"), nulls);
  EXPECT_EQ(RealsOf("val_to_add % 0"), nulls);
  EXPECT_EQ(RealsOf("driver_hourly_stats.trips / (driver_hourly_stats.trips - 10)"),
            (std::vector<Maybe>{std::nullopt, 0.0, 1.0}));
  // Int64 overflow, log(0), sqrt(-1), exp(1000), 0/0.
  EXPECT_EQ(RealsOf("driver_hourly_stats.trips + 1"), (std::vector<Maybe>{11, 1, std::nullopt}));
  EXPECT_EQ(RealsOf("log(val_to_add - 1)"),
            (std::vector<Maybe>{std::nullopt, std::log(1.0), std::log(2.0)}));
  EXPECT_EQ(RealsOf("sqrt(-1.0 * val_to_add)"), nulls);
  EXPECT_EQ(RealsOf("exp(1000 * val_to_add)"), nulls);
  EXPECT_EQ(RealsOf("abs(-9223372036854775807 - val_to_add)"), nulls);
}

TEST_F(ExpressionTest, NullsFollowSqlRules) {
  EXPECT_EQ(RealsOf("coalesce(driver_hourly_stats.conv_rate, val_to_add)"),
            (std::vector<Maybe>{0.5, 2.0, 0.25}));
  EXPECT_EQ(RealsOf("driver_hourly_stats.conv_rate is null"), (std::vector<Maybe>{0, 1, 0}));
  EXPECT_EQ(RealsOf("name is not null"), (std::vector<Maybe>{1, 1, 0}));
  // Three-valued logic: false and null is false, true or null is true.
  EXPECT_EQ(RealsOf("active and driver_hourly_stats.conv_rate > 0.3"),
            (std::vector<Maybe>{1, 0, 0}));
  EXPECT_EQ(RealsOf("active or driver_hourly_stats.conv_rate > 0.3"),
            (std::vector<Maybe>{1, std::nullopt, std::nullopt}));
  EXPECT_EQ(RealsOf("not active"), (std::vector<Maybe>{0, 1, std::nullopt}));
  // least/greatest skip nulls; a null condition is false.
  EXPECT_EQ(RealsOf("greatest(driver_hourly_stats.conv_rate, 0.3)"),
            (std::vector<Maybe>{0.5, 0.3, 0.3}));
  EXPECT_EQ(RealsOf("if(active, 1, 2)"), (std::vector<Maybe>{1, 2, 2}));
}

TEST_F(ExpressionTest, CaseRoundStringsAndTime) {
  EXPECT_EQ(RealsOf("case when val_to_add = 1 then 10 when val_to_add >= 2 and val_to_add < 3 "
                    "then 20.5 end"),
            (std::vector<Maybe>{10, 20.5, std::nullopt}));
  EXPECT_EQ(RealsOf("round(val_to_add + 0.5)"), (std::vector<Maybe>{2, 2, 4}));  // half to even
  EXPECT_EQ(RealsOf("round(driver_hourly_stats.conv_rate * 10, 1)"),
            (std::vector<Maybe>{5, std::nullopt, 2.5}));
  EXPECT_EQ(RealsOf("floor(-2.5) + ceil(2.1)"), (std::vector<Maybe>{0, 0, 0}));
  EXPECT_EQ(RealsOf("length(name)"), (std::vector<Maybe>{2, 1, std::nullopt}));  // code points
  auto joined = Run("name || '-' || cast(val_to_add as String)");
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->strings[0], "ab-1");
  EXPECT_FALSE(joined->IsValid(2));
  auto concat = Run("concat(name, 'x')");  // concat() skips nulls
  ASSERT_TRUE(concat.ok());
  EXPECT_EQ(concat->strings[2], "x");
  // Seconds since a feature's event timestamp, at request time.
  EXPECT_EQ(RealsOf("now() - driver_hourly_stats.event_timestamp"),
            (std::vector<Maybe>{90, 0, std::nullopt}));
  EXPECT_EQ(RealsOf("cast(cast('2024-05-01T00:00:01Z' as UnixTimestamp) as Int64)"),
            (std::vector<Maybe>{1714521601, 1714521601, 1714521601}));
  EXPECT_EQ(RealsOf("cast('12x' as Int64) is null"), (std::vector<Maybe>{1, 1, 1}));
  EXPECT_EQ(RealsOf("cast(-2.7 as Int64)"), (std::vector<Maybe>{-2, -2, -2}));
  EXPECT_EQ(RealsOf("CAST(1e300 * 1e10 AS INT64) IS NULL"), (std::vector<Maybe>{1, 1, 1}));
}

TEST_F(ExpressionTest, ErrorsNameThePositionAndToken) {
  EXPECT_EQ(ErrorOf("conv_rate + 1"),
            "at column 1 ('conv_rate'): unknown input 'conv_rate' (inputs: "
            "driver_hourly_stats.conv_rate, driver_hourly_stats.trips, val_to_add, name, "
            "driver_hourly_stats.event_timestamp, active)");
  EXPECT_EQ(ErrorOf("val_to_add + name"), "at column 12 ('+'): '+' takes numbers, not String");
  EXPECT_EQ(ErrorOf("val_to_add = name"), "at column 12 ('='): a comparison of Int64 and String");
  EXPECT_EQ(ErrorOf("frobnicate(1)"), "at column 1 ('frobnicate'): unknown function 'frobnicate'");
  EXPECT_EQ(ErrorOf("sqrt(1, 2)"), "at column 1 ('sqrt'): sqrt() takes 1 argument");
  EXPECT_EQ(ErrorOf("val_to_add ; 1"),
            "at column 12 (';'): not a character of the expression language");
  EXPECT_EQ(ErrorOf("'open"), "at column 1: a text literal without its closing quote");
  EXPECT_EQ(ErrorOf("1 2"), "at column 3 ('2'): unexpected after the expression");
  EXPECT_EQ(ErrorOf("(1 + 2"), "at column 7 (the end): expected ')'");
  EXPECT_EQ(ErrorOf("if(val_to_add, 1, 2)"),
            "at column 1 ('if'): if()'s condition must be Bool, not Int64");
  EXPECT_EQ(ErrorOf("99999999999999999999"),
            "at column 1 ('99999999999999999999'): an integer beyond Int64");
  EXPECT_NE(ErrorOf(std::string(100, '(') + "1" + std::string(100, ')')).find("nested too deep"),
            std::string::npos);
  std::string chain = "1";
  for (int i = 0; i < 300; ++i) chain += " + 1";
  EXPECT_NE(ErrorOf(chain).find("too deep"), std::string::npos);
}

}  // namespace
}  // namespace headwater::engine
