#include "headwater/core/file.h"

#include <arrow/buffer.h>
#include <arrow/io/interfaces.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

// The stream writes exactly what it is given, across several buffers and writes of odd sizes, as
// bytes to copy and as buffers to keep, and says where it is: on the temporary directory's file system (direct writes of whole buffers on
// ext4, the tail through the page cache) and on a tmpfs where there is one.
TEST(OpenOutputForAtomicWriteTest, WritesEveryByteAcrossBuffers) {
  std::string expected;
  for (int64_t i = 0; expected.size() < (70u << 20); ++i) {
    expected += std::string(static_cast<size_t>(1 + i * 7919 % 3'000'000), static_cast<char>(i));
  }
  std::vector<std::filesystem::path> roots{std::filesystem::temp_directory_path()};
  if (std::filesystem::is_directory("/dev/shm")) roots.push_back("/dev/shm");
  for (const auto& root : roots) {
    auto dir = root / ("hw_writeback_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    ASSERT_TRUE(
        WriteFileAtomically(dir / "out.bin",
                            [&](const std::filesystem::path& temporary) -> Status {
                              ARROW_ASSIGN_OR_RAISE(auto out, OpenOutputForAtomicWrite(temporary));
                              size_t at = 0;
                              for (size_t piece = 1; at < expected.size(); piece = piece * 3 + 1) {
                                const size_t n = std::min(piece, expected.size() - at);
                                if (piece % 2 == 0) {  // a buffer, kept by the stream
                                  ARROW_RETURN_NOT_OK(out->Write(
                                      arrow::Buffer::FromString(expected.substr(at, n))));
                                } else {
                                  ARROW_RETURN_NOT_OK(
                                      out->Write(expected.data() + at, static_cast<int64_t>(n)));
                                }
                                at += n;
                                ARROW_ASSIGN_OR_RAISE(int64_t position, out->Tell());
                                EXPECT_EQ(position, static_cast<int64_t>(at));
                              }
                              return out->Close();
                            })
            .ok())
        << root;
    EXPECT_EQ(ReadFile(dir / "out.bin").ValueOrDie(), expected) << root;
    std::filesystem::remove_all(dir);
  }
}

// A write that fails on the stream's own thread (a full device) is reported, with its cause, by
// the stream's next call, and the caller is never left waiting.
TEST(OpenOutputForAtomicWriteTest, ReportsAWriteThatFailsOnItsThread) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  auto out = OpenOutputForAtomicWrite("/dev/full").ValueOrDie();
  const std::string piece(1 << 20, 'x');
  Status status;
  for (int i = 0; i < 100 && status.ok(); ++i) status = out->Write(piece.data(), 1 << 20);
  const Status closed = out->Close();
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.ToString().find("No space left on device"), std::string::npos) << closed;
  if (!status.ok()) {
    EXPECT_EQ(status.ToString(), closed.ToString());
  }
  EXPECT_TRUE(out->Close().ok());  // closing again does nothing
}

}  // namespace
}  // namespace headwater
