#include "headwater/core/json_reader.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace headwater {
namespace {

std::string Nested(int depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonReaderTest, NestingUpToTheLimitParses) {
  rapidjson::Document document;
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth), "the body", &document).ok());
  EXPECT_TRUE(document.IsArray());
}

TEST(JsonReaderTest, DeeperNestingIsRefusedNamingTheLimitAndOffset) {
  rapidjson::Document document;
  for (int depth : {kMaxJsonDepth + 1, 1000, 200'000}) {
    Status status = ParseJson(Nested(depth), "the body", &document);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.message(),
              "the body nests arrays and objects more than 64 deep (the limit) at offset 64");
  }
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  EXPECT_FALSE(ParseJson(objects, "x", &document).ok());  // unbalanced and deep: no recursion
}

TEST(JsonReaderTest, BracketsInsideStringsDoNotCount) {
  rapidjson::Document document;
  std::string text =
      "{\"s\": \"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}";
  ASSERT_TRUE(ParseJson(text, "x", &document).ok());
  EXPECT_EQ(document["s"].GetStringLength(), 2001u);
  // An escaped backslash ends no string, and an escaped quote does not end one.
  EXPECT_TRUE(ParseJson(R"(["\\", "\"[[[[", 1])", "x", &document).ok());
}

TEST(JsonReaderTest, InvalidJsonAndInvalidUtf8AreRefusedWithTheirOffset) {
  rapidjson::Document document;
  Status status = ParseJson("{\"a\": }", "the message", &document);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message().rfind("the message is not valid JSON: ", 0), 0u);
  EXPECT_NE(status.message().find("at offset 6"), std::string::npos);
  EXPECT_FALSE(ParseJson("\"\xff\"", "x", &document).ok());
  EXPECT_FALSE(ParseJson("", "x", &document).ok());
}

TEST(JsonReaderTest, LoneSurrogateEscapesAreRefusedPairsAreKept) {
  rapidjson::Document document;
  Status status = ParseJson(R"({"s": "ok \udc00"})", "the body", &document);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(),
            "the body has a lone surrogate escape \\udc00 (not a character) at offset 10");
  EXPECT_FALSE(ParseJson(R"(["\uDFFF"])", "x", &document).ok());
  EXPECT_FALSE(ParseJson(R"(["\ud800x\udc00"])", "x", &document).ok());
  EXPECT_FALSE(ParseJson(R"(["\ud800"])", "x", &document).ok());  // RapidJSON refuses this one
  ASSERT_TRUE(ParseJson(R"(["\ud83d\ude00", "\\udc00"])", "x", &document).ok());
  EXPECT_EQ(std::string(document[0].GetString()), "\xf0\x9f\x98\x80");  // U+1F600
  EXPECT_EQ(std::string(document[1].GetString()), "\\udc00");           // an escaped backslash
}

TEST(JsonReaderTest, NumbersAreTheNearestDouble) {
  // 17 significant digits, as Python and Java print doubles: RapidJSON's default mode misreads
  // four in ten of these by an ULP or more.
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> prices(90, 110);
  rapidjson::Document document;
  for (int i = 0; i < 2000; ++i) {
    const std::string text = fmt::format("{:.17g}", prices(random));
    ASSERT_TRUE(ParseJson(text, "n", &document).ok());
    ASSERT_EQ(document.GetDouble(), std::strtod(text.c_str(), nullptr)) << text;
  }
}

TEST(JsonReaderTest, NumbersKeepTheirKindAndEdges) {
  rapidjson::Document d;
  auto parse = [&](const std::string& text) {
    Status status = ParseJson(text, "n", &d);
    EXPECT_TRUE(status.ok()) << text << ": " << status.ToString();
  };
  parse("0e+300");  // RapidJSON's full-precision mode read this as 1.45e+281
  EXPECT_TRUE(d.IsDouble() && d.GetDouble() == 0.0);
  parse("-0e5");
  EXPECT_TRUE(d.IsDouble() && d.GetDouble() == 0.0 && std::signbit(d.GetDouble()));
  parse("1e-400");
  EXPECT_EQ(d.GetDouble(), 0.0);
  parse("9223372036854775807");
  EXPECT_TRUE(d.IsInt64() && d.GetInt64() == INT64_MAX);
  parse("18446744073709551615");
  EXPECT_TRUE(d.IsUint64() && !d.IsInt64() && d.GetUint64() == UINT64_MAX);
  parse("18446744073709551616");
  EXPECT_TRUE(d.IsDouble() && !d.IsUint64());
  parse("-9223372036854775809");
  EXPECT_TRUE(d.IsDouble() && !d.IsInt64());
  parse("-7");
  EXPECT_TRUE(d.IsInt() && d.GetInt() == -7);
  parse("1.0");
  EXPECT_TRUE(d.IsDouble() && !d.IsInt64());
  parse(R"({"a": [1, 2.5, "x"], "b": 3})");
  EXPECT_EQ(d["a"][1].GetDouble(), 2.5);
  EXPECT_EQ(d["b"].GetInt(), 3);
  Status big = ParseJson("[1e400]", "the body", &d);
  EXPECT_EQ(big.message(),
            "the body is not valid JSON: Number too big to be stored in double. at offset 1");
}

}  // namespace
}  // namespace headwater
