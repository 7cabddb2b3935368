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
  EXPECT_EQ(JsonNestingOverflow(R"(["\\", [[1]]])", 2), 8);  // an escaped backslash ends no string
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

}  // namespace
}  // namespace headwater
