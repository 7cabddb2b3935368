#include "headwater/core/types.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <cmath>


namespace headwater {
namespace {

TEST(FeatureTypeTest, ParsesFeastNamesAndRoundTrips) {
  for (const char* name : {"Int32", "Int64", "Float32", "Float64", "String", "Bytes", "Bool",
                           "UnixTimestamp", "Array(Int64)", "Array(String)"}) {
    auto type = ParseFeatureType(name);
    ASSERT_TRUE(type.ok()) << name;
    EXPECT_EQ(FormatFeatureType(*type), name);
    EXPECT_EQ(*FromArrowType(*ToArrowType(*type)), *type) << name;
  }
  EXPECT_EQ(ParseFeatureType("INT64")->kind, ScalarKind::kInt64);
  EXPECT_EQ(ParseFeatureType("DOUBLE")->kind, ScalarKind::kFloat64);
  EXPECT_TRUE(ParseFeatureType("FLOAT_LIST")->is_array);
}

TEST(FeatureTypeTest, RejectsUnknownNames) {
  for (const char* bad : {"", "int64", "Array(Foo)", "Array(", "Decimal", "Array(Array(Int64))"}) {
    auto type = ParseFeatureType(bad);
    ASSERT_FALSE(type.ok()) << bad;
    EXPECT_NE(type.status().message().find("unknown type"), std::string::npos);
  }
}

TEST(FeatureTypeTest, ArrowVariantsMapToOneType) {
  EXPECT_EQ(FromArrowType(*arrow::large_utf8())->kind, ScalarKind::kString);
  EXPECT_EQ(FromArrowType(*arrow::timestamp(arrow::TimeUnit::NANO))->kind,
            ScalarKind::kUnixTimestamp);
  EXPECT_TRUE(FromArrowType(*arrow::large_list(arrow::float64()))->is_array);
  EXPECT_FALSE(FromArrowType(*arrow::decimal128(10, 2)).ok());
}

TEST(KeyKindsCompatibleTest, IntegersMatchIntegersOnly) {
  EXPECT_TRUE(KeyKindsCompatible(ScalarKind::kInt32, ScalarKind::kInt64));
  EXPECT_TRUE(KeyKindsCompatible(ScalarKind::kString, ScalarKind::kString));
  EXPECT_FALSE(KeyKindsCompatible(ScalarKind::kString, ScalarKind::kInt64));
  EXPECT_FALSE(KeyKindsCompatible(ScalarKind::kBytes, ScalarKind::kString));
}

}  // namespace
}  // namespace headwater
