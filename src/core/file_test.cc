#include "headwater/core/file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

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

TEST(ChildPathTest, OnlySingleNamesStayInsideTheDirectory) {
  EXPECT_EQ(*ChildPath("/repo/data/offline", "driver_stats"), "/repo/data/offline/driver_stats");
  EXPECT_EQ(*ChildPath("data", "a-b_1"), "data/a-b_1");
  for (std::string_view bad : std::initializer_list<std::string_view>{
           "", ".", "..", "../x", "a/b", "/etc", std::string_view("a\0b", 3)}) {
    auto child = ChildPath("/repo/data", bad);
    EXPECT_FALSE(child.ok()) << bad;
  }
}

TEST(ReadFileTest, NamesTheReasonAFileCannotBeRead) {
  auto dir = std::filesystem::temp_directory_path() / ("hw_read_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto read = ReadFile(dir);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("is a directory"), std::string::npos);
  std::filesystem::create_symlink("b", dir / "a");
  std::filesystem::create_symlink("a", dir / "b");
  read = ReadFile(dir / "a");
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("symbolic links"), std::string::npos)
      << read.status().message();
  read = ReadFile(dir / "missing");
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("No such file"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace headwater
