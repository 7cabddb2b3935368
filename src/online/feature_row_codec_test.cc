#include "headwater/online/feature_row_codec.h"

#include <arrow/api.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include "headwater/core/json_writer.h"

namespace headwater::online {
namespace {

// Renders visited values as JSON, as the server does.
class JsonVisitor final : public ValueVisitor {
 public:
  void Null() override { out_.Null(); }
  void Int(int64_t value) override { out_.Int(value); }
  void Float(float value) override { out_.Float(value); }
  void Double(double value) override { out_.Double(value); }
  void Bool(bool value) override { out_.Bool(value); }
  void Time(Timestamp value) override { out_.String(FormatTimestamp(value)); }
  void String(std::string_view value) override { out_.String(value); }
  void Bytes(std::string_view value) override {
    std::string encoded;
    AppendBase64(value, &encoded);
    out_.String(encoded);
  }
  void BeginList(uint32_t) override { out_.BeginArray(); }
  void EndList() override { out_.EndArray(); }
  std::string Take() { return out_.Take(); }

 private:
  JsonWriter out_;
};

std::string Json(const FeatureRowReader& reader, size_t feature) {
  JsonVisitor visitor;
  reader.Visit(feature, &visitor);
  return visitor.Take();
}

TEST(FeatureRowCodecTest, RoundTripsEveryTypeAndNulls) {
  std::vector<FeatureType> schema = {
      {ScalarKind::kFloat32, false},      {ScalarKind::kInt64, false},
      {ScalarKind::kString, false},       {ScalarKind::kBool, false},
      {ScalarKind::kBytes, false},        {ScalarKind::kInt32, false},
      {ScalarKind::kFloat64, false},      {ScalarKind::kInt64, true},
      {ScalarKind::kUnixTimestamp, false}};
  auto f32 = arrow::json::ArrayFromJSONString(arrow::float32(), "[1.111, null]");
  auto i64 = arrow::json::ArrayFromJSONString(arrow::int64(), "[9007199254740993, -1]");
  auto str = arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["a\"b", null])");
  auto boolean = arrow::json::ArrayFromJSONString(arrow::boolean(), "[true, false]");
  auto bytes = arrow::json::ArrayFromJSONString(arrow::binary(), R"(["hi!", ""])");
  auto i32 = arrow::json::ArrayFromJSONString(arrow::int32(), "[null, 7]");
  auto f64 = arrow::json::ArrayFromJSONString(arrow::float64(), "[0.1, 1e300]");
  auto list = arrow::json::ArrayFromJSONString(arrow::list(arrow::int64()), "[[1, null, 3], null]");
  auto ts = arrow::json::ArrayFromJSONString(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                             "[1000000, 0]");
  for (auto* array : {&f32, &i64, &str, &boolean, &bytes, &i32, &f64, &list, &ts}) {
    ASSERT_TRUE(array->ok()) << array->status().message();
  }
  std::vector<std::shared_ptr<arrow::Array>> columns = {*f32, *i64, *str,  *boolean, *bytes,
                                                        *i32, *f64, *list, *ts};
  int64_t event_times[] = {100, -5};
  int64_t created_times[] = {200, 7};
  ByteRows rows;
  ASSERT_TRUE(EncodeFeatureRows(columns, schema, event_times, created_times, 2, &rows).ok());
  ASSERT_EQ(rows.size(), 2u);

  FeatureRowReader reader;
  ASSERT_TRUE(reader.Open(rows[0], schema).ok());
  EXPECT_EQ(reader.event_time().micros, 100);
  EXPECT_EQ(reader.created_time().micros, 200);
  EXPECT_EQ(Json(reader, 0), "1.111");
  EXPECT_EQ(Json(reader, 1), "9007199254740993");
  EXPECT_EQ(Json(reader, 2), R"("a\"b")");
  EXPECT_EQ(Json(reader, 3), "true");
  EXPECT_EQ(Json(reader, 4), R"("aGkh")");  // base64
  EXPECT_TRUE(reader.IsNull(5));
  EXPECT_EQ(Json(reader, 6), "0.1");
  EXPECT_EQ(Json(reader, 7), "[1,null,3]");
  EXPECT_EQ(Json(reader, 8), R"("1970-01-01T00:00:01Z")");

  ASSERT_TRUE(reader.Open(rows[1], schema).ok());
  EXPECT_EQ(reader.event_time().micros, -5);
  EXPECT_TRUE(reader.IsNull(0));
  EXPECT_EQ(Json(reader, 0), "null");
  EXPECT_EQ(Json(reader, 4), R"("")");
  EXPECT_EQ(Json(reader, 5), "7");
  EXPECT_EQ(Json(reader, 6), "1e+300");
  EXPECT_TRUE(reader.IsNull(7));
}

TEST(FeatureRowCodecTest, ByteOrderIsEventThenCreatedTimeOrder) {
  std::vector<FeatureType> schema = {{ScalarKind::kInt64, false}};
  auto values = arrow::json::ArrayFromJSONString(arrow::int64(), "[9, 1, 5, 5]").ValueOrDie();
  int64_t event_times[] = {-10, 3, 3, 3};
  int64_t created_times[] = {0, 0, 1, 1};
  ByteRows rows;
  ASSERT_TRUE(EncodeFeatureRows({values}, schema, event_times, created_times, 4, &rows).ok());
  EXPECT_LT(rows[0], rows[1]);  // earlier event time, despite a greater value
  EXPECT_LT(rows[1], rows[2]);  // same event time, later created time
  EXPECT_EQ(rows[2], rows[3]);
}

TEST(FeatureRowCodecTest, RejectsBytesThatDoNotFitTheSchema) {
  std::vector<FeatureType> schema = {{ScalarKind::kString, false}};
  auto values = arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["hello"])").ValueOrDie();
  int64_t event_times[] = {1};
  ByteRows rows;
  ASSERT_TRUE(EncodeFeatureRows({values}, schema, event_times, nullptr, 1, &rows).ok());
  std::string value(rows[0]);
  FeatureRowReader reader;
  EXPECT_FALSE(reader.Open(value.substr(0, value.size() - 1), schema).ok());
  EXPECT_FALSE(reader.Open(value + "x", schema).ok());
  EXPECT_FALSE(reader.Open("", schema).ok());
  EXPECT_FALSE(reader.Open(value, {{ScalarKind::kInt64, false}, {ScalarKind::kInt64, false}}).ok());
  value[0] = 9;
  EXPECT_FALSE(reader.Open(value, schema).ok());
}

TEST(FeatureRowCodecTest, RejectsColumnsOfTheWrongType) {
  auto values = arrow::json::ArrayFromJSONString(arrow::float64(), "[1]").ValueOrDie();
  int64_t event_times[] = {1};
  ByteRows rows;
  EXPECT_FALSE(
      EncodeFeatureRows({values}, {{ScalarKind::kFloat32, false}}, event_times, nullptr, 1, &rows)
          .ok());
}

TEST(EntityKeyTest, IntegerWidthsEncodeAlikeAndRoundTrip) {
  auto i32 = arrow::json::ArrayFromJSONString(arrow::int32(), "[7, -3]").ValueOrDie();
  auto i64 = arrow::json::ArrayFromJSONString(arrow::int64(), "[7, 3000000000]").ValueOrDie();
  auto str = arrow::json::ArrayFromJSONString(arrow::utf8(), R"(["x", null])").ValueOrDie();
  ByteRows a, b, composite;
  std::vector<uint8_t> valid;
  ASSERT_TRUE(EncodeEntityKeys({i32}, 2, &a, &valid).ok());
  ASSERT_TRUE(EncodeEntityKeys({i64}, 2, &b, &valid).ok());
  EXPECT_EQ(a[0], b[0]);
  std::string from_parts;
  from_parts.push_back(static_cast<char>(kEntityKeyVersion));
  AppendIntegerKeyPart(3000000000, &from_parts);
  EXPECT_EQ(from_parts, b[1]);
  ASSERT_TRUE(EncodeEntityKeys({i64, str}, 2, &composite, &valid).ok());
  EXPECT_EQ(valid, (std::vector<uint8_t>{1, 0}));
  auto parts = DecodeEntityKey(composite[0]).ValueOrDie();
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].int_value, 7);
  EXPECT_EQ(parts[1].bytes, "x");
  EXPECT_FALSE(DecodeEntityKey("\x01s\x00").ok());
}

}  // namespace
}  // namespace headwater::online
