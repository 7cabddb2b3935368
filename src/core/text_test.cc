#include "headwater/core/text.h"

#include <gtest/gtest.h>

namespace headwater {
namespace {

TEST(PrintableTextTest, KeepsTextAndEscapesWhatATerminalWouldActOn) {
  EXPECT_EQ(PrintableText("plain: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n\tend"),
            "plain: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n\tend");
  EXPECT_EQ(PrintableText("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(PrintableText(std::string_view("a\0b\r\x7f", 5)), "a\\x00b\\x0d\\x7f");
}

TEST(PrintableTextTest, BytesThatAreNotUtf8AreEscapedOneByOne) {
  EXPECT_EQ(PrintableText("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(PrintableText("\xc3"), "\\xc3");                             // truncated sequence
  EXPECT_EQ(PrintableText("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(PrintableText("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // surrogate
  EXPECT_EQ(PrintableText("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac"), 3u);
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
}

}  // namespace
}  // namespace headwater
