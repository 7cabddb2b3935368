#include "headwater/core/json_reader.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace headwater
