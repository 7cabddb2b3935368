#include "headwater/ingest/write_ahead_log.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "headwater/core/file.h"

namespace headwater::ingest {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<arrow::RecordBatch> Batch(int64_t first, int rows) {
  arrow::Int64Builder builder;
  for (int i = 0; i < rows; ++i) EXPECT_TRUE(builder.Append(first + i).ok());
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("x", arrow::int64())}), rows,
                                  {builder.Finish().ValueOrDie()});
}

class WriteAheadLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hw_wal_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The first value of each batch replayed from `from`, and the positions after them.
  std::vector<std::pair<int64_t, int64_t>> Replayed(WriteAheadLog& log, int64_t from) {
    std::vector<std::pair<int64_t, int64_t>> out;
    Status replayed = log.Replay(from, [&](std::shared_ptr<arrow::RecordBatch> batch, int64_t at) {
      out.emplace_back(std::static_pointer_cast<arrow::Int64Array>(batch->column(0))->Value(0), at);
      return Status::OK();
    });
    EXPECT_TRUE(replayed.ok()) << replayed.message();
    return out;
  }

  fs::path OnlySegment() {
    std::vector<fs::path> segments;
    for (const auto& entry : fs::directory_iterator(dir_)) segments.push_back(entry.path());
    EXPECT_EQ(segments.size(), 1u);
    return segments.empty() ? fs::path() : segments[0];
  }

  fs::path dir_;
};

TEST_F(WriteAheadLogTest, ReplaysEveryRecordFromAPositionAfterReopening) {
  int64_t first_end = 0, second_end = 0;
  {
    auto log = WriteAheadLog::Open(dir_).ValueOrDie();
    first_end = log->Append(*Batch(10, 3)).ValueOrDie();
    second_end = log->Append(*Batch(20, 2)).ValueOrDie();
    EXPECT_GT(second_end, first_end);
    EXPECT_EQ(log->end(), second_end);
  }
  auto log = WriteAheadLog::Open(dir_).ValueOrDie();
  EXPECT_EQ(log->end(), second_end);
  EXPECT_EQ(Replayed(*log, 0),
            (std::vector<std::pair<int64_t, int64_t>>{{10, first_end}, {20, second_end}}));
  EXPECT_EQ(Replayed(*log, first_end),
            (std::vector<std::pair<int64_t, int64_t>>{{20, second_end}}));
  // Appends continue after what was there.
  const int64_t third_end = log->Append(*Batch(30, 1)).ValueOrDie();
  EXPECT_EQ(Replayed(*log, second_end),
            (std::vector<std::pair<int64_t, int64_t>>{{30, third_end}}));
}

TEST_F(WriteAheadLogTest, ATornTailIsCutOffOnOpen) {
  int64_t whole_end = 0;
  {
    auto log = WriteAheadLog::Open(dir_).ValueOrDie();
    whole_end = log->Append(*Batch(1, 4)).ValueOrDie();
    log->Append(*Batch(2, 4)).ValueOrDie();
  }
  // A crash in the middle of the second record: only part of it reached the disk.
  const fs::path segment = OnlySegment();
  fs::resize_file(segment, static_cast<uintmax_t>(whole_end + 11));
  auto log = WriteAheadLog::Open(dir_).ValueOrDie();
  EXPECT_EQ(log->end(), whole_end);
  EXPECT_EQ(fs::file_size(segment), static_cast<uintmax_t>(whole_end));
  EXPECT_EQ(Replayed(*log, 0).size(), 1u);
  // The next append lands where the torn one began, and reads back.
  const int64_t end = log->Append(*Batch(3, 1)).ValueOrDie();
  EXPECT_EQ(Replayed(*log, whole_end), (std::vector<std::pair<int64_t, int64_t>>{{3, end}}));
}

TEST_F(WriteAheadLogTest, ARecordWithABadChecksumEndsTheLog) {
  int64_t first_end = 0;
  {
    auto log = WriteAheadLog::Open(dir_).ValueOrDie();
    first_end = log->Append(*Batch(1, 4)).ValueOrDie();
    log->Append(*Batch(2, 4)).ValueOrDie();
  }
  // Flip one payload byte of the second record (past its 8-byte header).
  const fs::path segment = OnlySegment();
  std::string bytes = ReadFile(segment).ValueOrDie();
  bytes[static_cast<size_t>(first_end) + 8 + 20] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomically(segment, bytes).ok());
  auto log = WriteAheadLog::Open(dir_).ValueOrDie();
  EXPECT_EQ(log->end(), first_end);
  EXPECT_EQ(Replayed(*log, 0), (std::vector<std::pair<int64_t, int64_t>>{{1, first_end}}));
}

TEST_F(WriteAheadLogTest, ReleaseDeletesWholeSegmentsBeforeThePositionOnly) {
  auto log = WriteAheadLog::Open(dir_).ValueOrDie();
  const int64_t first_end = log->Append(*Batch(1, 2)).ValueOrDie();
  ASSERT_TRUE(log->Release(first_end).ok());
  const int64_t second_end = log->Append(*Batch(2, 2)).ValueOrDie();
  EXPECT_EQ(Replayed(*log, first_end), (std::vector<std::pair<int64_t, int64_t>>{{2, second_end}}));
  EXPECT_EQ(OnlySegment().filename().string(),
            "wal-" + std::string(20 - std::to_string(first_end).size(), '0') +
                std::to_string(first_end) + ".log");
  // Positions survive the release and a reopen.
  log.reset();
  auto reopened = WriteAheadLog::Open(dir_).ValueOrDie();
  EXPECT_EQ(reopened->end(), second_end);
}

TEST_F(WriteAheadLogTest, IdempotencyKeysAreRememberedAfterTheirSegmentsAreReleased) {
  {
    auto log = WriteAheadLog::Open(dir_).ValueOrDie();
    ASSERT_TRUE(log->Append(*Batch(1, 1), "push-1").ok());
    ASSERT_TRUE(log->Append(*Batch(2, 1)).ok());
    EXPECT_TRUE(log->Contains("push-1"));
    EXPECT_FALSE(log->Contains("push-2"));
    // The key rides in the record, which replays with the batch's values unchanged.
    EXPECT_EQ(Replayed(*log, 0).size(), 2u);
  }
  {
    auto log = WriteAheadLog::Open(dir_).ValueOrDie();  // from the records
    EXPECT_TRUE(log->Contains("push-1"));
    ASSERT_TRUE(log->Append(*Batch(3, 1), "push-3").ok());
    ASSERT_TRUE(log->Release(log->end()).ok());  // every record processed: segments deleted
    EXPECT_TRUE(Replayed(*log, 0).empty());
  }
  auto log = WriteAheadLog::Open(dir_).ValueOrDie();  // from the keys file
  EXPECT_TRUE(log->Contains("push-1"));
  EXPECT_TRUE(log->Contains("push-3"));
  EXPECT_FALSE(log->Contains("push-2"));
}

}  // namespace
}  // namespace headwater::ingest
