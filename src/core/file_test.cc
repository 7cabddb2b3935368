#include "headwater/core/file.h"

#include <gtest/gtest.h>

namespace headwater {
namespace {

TEST(NumberInFileNameTest, OnlyExactNamesHaveNumbers) {
  EXPECT_EQ(NumberInFileName("part-000000000042.parquet", "part-", 12, ".parquet"), 42);
  EXPECT_EQ(NumberInFileName("wal-00000000000000001234.log", "wal-", 20, ".log"), 1234);
  // Stray files in a state directory are ignored, never misread (nor a crash).
  EXPECT_FALSE(NumberInFileName("part-00000000004x.parquet", "part-", 12, ".parquet"));
  EXPECT_FALSE(NumberInFileName("part-42.parquet", "part-", 12, ".parquet"));
  EXPECT_FALSE(NumberInFileName("dead-000000000042.parquet", "part-", 12, ".parquet"));
  EXPECT_FALSE(NumberInFileName("part-000000000042.jsonl", "part-", 12, ".parquet"));
  EXPECT_FALSE(NumberInFileName("wal-+0000000000000001234.log", "wal-", 20, ".log"));
  EXPECT_FALSE(NumberInFileName("wal-99999999999999999999.log", "wal-", 20, ".log"));  // > int64
}

}  // namespace
}  // namespace headwater
