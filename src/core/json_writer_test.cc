#include "headwater/core/json_writer.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cmath>
#include <limits>

namespace headwater {
namespace {

TEST(JsonWriterTest, PutsCommasAndKeysWhereTheyBelong) {
  JsonWriter out;
  out.BeginObject().Key("a").Int(-3).Key("b").BeginArray().Bool(true).Null().String("x");
  out.BeginObject().EndObject().BeginArray().EndArray().EndArray().Key("c").Raw(R"({"r":1})");
  out.EndObject();
  EXPECT_EQ(out.Take(), R"({"a":-3,"b":[true,null,"x",{},[]],"c":{"r":1}})");
}

TEST(JsonWriterTest, WritesCompactAndEscapes) {
  JsonWriter writer;
  writer.BeginObject().Key("a").Int(-3).Key("s").String("q\"\\\n\x01");
  writer.Key("f").Float(1.111f).Key("d").Double(0.1).Key("n").Double(std::nan(""));
  writer.Key("l").BeginArray().Bool(true).Null().EndArray().Key("e").BeginObject().EndObject();
  writer.EndObject();
  EXPECT_EQ(writer.str(),
            R"({"a":-3,"s":"q\"\\\n\u0001","f":1.111,"d":0.1,"n":null,"l":[true,null],"e":{}})");
}

TEST(JsonWriterTest, IndentsWhenAsked) {
  JsonWriter out(2);
  out.BeginObject().Key("a").BeginArray().Int(1).Int(2).EndArray().EndObject();
  EXPECT_EQ(out.Take(), "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
}

TEST(JsonWriterTest, EscapesWhatJsonRequiresAndKeepsUtf8) {
  std::string out;
  AppendJsonString(out, std::string_view("q\"b\\n\n\t\x01\x1f é €", 16));
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f é €\"");
  rapidjson::Document parsed;
  parsed.Parse(out.c_str());
  ASSERT_FALSE(parsed.HasParseError());
  EXPECT_EQ(std::string(parsed.GetString(), parsed.GetStringLength()),
            std::string("q\"b\\n\n\t\x01\x1f é €", 16));
}

TEST(JsonWriterTest, NumbersReadBackExactlyAndNonFiniteOnesAreNull) {
  JsonWriter out;
  out.BeginArray().Double(0.1).Double(1e300).Double(-0.0).Float(1.111f).Int(INT64_MIN);
  out.Double(std::nan("")).Double(std::numeric_limits<double>::infinity()).Float(-INFINITY);
  out.EndArray();
  const std::string text = out.Take();
  EXPECT_EQ(text, "[0.1,1e+300,-0,1.111,-9223372036854775808,null,null,null]");
  rapidjson::Document parsed;
  parsed.Parse(text.c_str());
  ASSERT_FALSE(parsed.HasParseError());
  EXPECT_EQ(parsed[0].GetDouble(), 0.1);
  EXPECT_EQ(parsed[1].GetDouble(), 1e300);
  EXPECT_EQ(static_cast<float>(parsed[3].GetDouble()), 1.111f);
}

TEST(JsonWriterTest, Base64IsStandardWithPadding) {
  for (auto [bytes, encoded] : {std::pair{"", ""}, std::pair{"f", "Zg=="}, std::pair{"fo", "Zm8="},
                                std::pair{"foo", "Zm9v"}, std::pair{"foob", "Zm9vYg=="}}) {
    std::string out;
    AppendBase64(bytes, &out);
    EXPECT_EQ(out, encoded) << bytes;
  }
  std::string out;
  AppendBase64(std::string_view("\xff\x00\xfe", 3), &out);
  EXPECT_EQ(out, "/wD+");
}

}  // namespace
}  // namespace headwater
