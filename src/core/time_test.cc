#include "headwater/core/time.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

namespace headwater {
namespace {

int64_t Micros(std::string_view text) { return ParseTimestamp(text).ValueOrDie().micros; }

TEST(ParseDurationTest, AcceptsUnitsAndSums) {
  EXPECT_EQ(ParseDuration("0")->micros, 0);
  EXPECT_EQ(ParseDuration("90s")->micros, 90 * kMicrosPerSecond);
  EXPECT_EQ(ParseDuration("1d")->micros, 86400 * kMicrosPerSecond);
  EXPECT_EQ(ParseDuration("1h30m")->micros, 5400 * kMicrosPerSecond);
  EXPECT_EQ(ParseDuration("2d3h")->micros, (2 * 86400 + 3 * 3600) * kMicrosPerSecond);
}

TEST(ParseDurationTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "1", "d", "1x", "-1d", "1.5h", "1m1h", "1d1d", "1 d", "99999999999999999d"}) {
    auto result = ParseDuration(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_NE(result.status().message().find("is not a duration"), std::string::npos);
  }
}

TEST(FormatDurationTest, UsesLargestExactUnit) {
  EXPECT_EQ(FormatDuration(Duration{0}), "0");
  EXPECT_EQ(FormatDuration(*ParseDuration("1d")), "1d");
  EXPECT_EQ(FormatDuration(*ParseDuration("90m")), "90m");
  EXPECT_EQ(FormatDuration(*ParseDuration("1h30m")), "90m");
}

TEST(ParseTimestampTest, NormalisesOffsetsToUtc) {
  const int64_t utc = Micros("2024-05-01T10:00:00Z");
  EXPECT_EQ(Micros("2024-05-01T10:00:00"), utc);  // no zone: UTC
  EXPECT_EQ(Micros("2024-05-01 10:00:00"), utc);
  EXPECT_EQ(Micros("2024-05-01T12:00:00+02:00"), utc);
  EXPECT_EQ(Micros("2024-05-01T12:00:00+0200"), utc);
  EXPECT_EQ(Micros("2024-05-01T05:30:00-04:30"), utc);
  EXPECT_EQ(Micros("2024-05-01T10:00"), utc);
  EXPECT_EQ(Micros("1970-01-01"), 0);
  EXPECT_EQ(Micros("2024-05-01T10:00:00.5Z") - utc, 500000);
  EXPECT_EQ(Micros("2024-05-01T10:00:00.1234567Z") - utc, 123456);  // truncated to micros
  EXPECT_EQ(Micros("1969-12-31T23:59:59Z"), -kMicrosPerSecond);
}

TEST(ParseTimestampTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "2024", "2024-13-01", "2024-02-30", "2024-05-01T25:00:00", "2024-05-01T10:00:00+",
        "2024-05-01T10:00:00 UTC", "yesterday", "2024-05-01T10:00:00.Z"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(FormatTimestampTest, RoundTrips) {
  for (const char* text :
       {"2024-05-01T10:00:00Z", "1969-12-31T23:59:59.999999Z", "2000-02-29T00:00:00.000001Z"}) {
    EXPECT_EQ(FormatTimestamp(*ParseTimestamp(text)), text);
  }
}

TEST(ToEpochMicrosTest, ConvertsUnitsAndStringsKeepingNulls) {
  arrow::TimestampBuilder nanos(arrow::timestamp(arrow::TimeUnit::NANO),
                                arrow::default_memory_pool());
  ASSERT_TRUE(nanos.Append(1'500'000'000).ok());
  ASSERT_TRUE(nanos.AppendNull().ok());
  ASSERT_TRUE(nanos.Append(-1).ok());  // floors to -1 microsecond
  auto array = nanos.Finish().ValueOrDie();
  auto micros = ToEpochMicros(arrow::ChunkedArray(array), "t").ValueOrDie();
  EXPECT_EQ(micros->Value(0), 1'500'000);
  EXPECT_TRUE(micros->IsNull(1));
  EXPECT_EQ(micros->Value(2), -1);

  arrow::StringBuilder strings;
  ASSERT_TRUE(strings.Append("2024-05-01T12:00:00+02:00").ok());
  ASSERT_TRUE(strings.AppendNull().ok());
  auto parsed = ToEpochMicros(arrow::ChunkedArray(strings.Finish().ValueOrDie()), "t").ValueOrDie();
  EXPECT_EQ(parsed->Value(0), Micros("2024-05-01T10:00:00Z"));
  EXPECT_TRUE(parsed->IsNull(1));
}

TEST(ToEpochMicrosTest, NamesTheRowOfABadString) {
  arrow::StringBuilder strings;
  ASSERT_TRUE(strings.Append("2024-05-01").ok());
  ASSERT_TRUE(strings.Append("not a time").ok());
  auto result = ToEpochMicros(arrow::ChunkedArray(strings.Finish().ValueOrDie()), "column 'ts'");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("column 'ts', row 2"), std::string::npos)
      << result.status().message();
}

TEST(ToEpochMicrosTest, RejectsNonTimeColumns) {
  arrow::DoubleBuilder doubles;
  ASSERT_TRUE(doubles.Append(1.0).ok());
  EXPECT_FALSE(ToEpochMicros(arrow::ChunkedArray(doubles.Finish().ValueOrDie()), "x").ok());
}

}  // namespace
}  // namespace headwater
