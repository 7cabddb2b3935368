#include "headwater/offline/parquet_dataset.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "headwater/offline/table_file.h"
#include "headwater/registry/source_schema.h"

namespace headwater::offline {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<arrow::Table> Rows(int64_t first, int64_t count) {
  arrow::Int64Builder ids;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"),
                                arrow::default_memory_pool());
  for (int64_t i = first; i < first + count; ++i) {
    EXPECT_TRUE(ids.Append(i).ok());
    EXPECT_TRUE(times.Append(i * 1000).ok());
  }
  return arrow::Table::Make(
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("ts", times.type())}),
      {ids.Finish().ValueOrDie(), times.Finish().ValueOrDie()});
}

class OfflineFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hw_offline_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(OfflineFilesTest, DirectoryRowsAreNumberedInFileNameOrder) {
  ASSERT_TRUE(WriteTableFile(*Rows(100, 3), dir_ / "b.parquet").ok());
  ASSERT_TRUE(WriteTableFile(*Rows(0, 2), dir_ / "a.parquet").ok());
  std::ofstream(dir_ / ".hidden.parquet") << "ignored";
  auto files = registry::ListSourceFiles(dir_).ValueOrDie();
  ASSERT_EQ(files.size(), 2u);
  auto dataset = ParquetDataset::Open(files).ValueOrDie();
  ASSERT_EQ(dataset.row_groups().size(), 2u);
  EXPECT_EQ(dataset.row_groups()[1].first_row_number, 2);
  EXPECT_EQ(dataset.num_rows(), 5);
  auto range = dataset.TimeRange(dataset.row_groups()[1], "ts");
  ASSERT_TRUE(range.has_value());
  EXPECT_EQ(range->first, 100 * 1000 * 1000);  // milliseconds read as microseconds
  EXPECT_EQ(range->second, 102 * 1000 * 1000);
  auto table = dataset.Read(dataset.row_groups()[1], {"ts", "id"}).ValueOrDie();
  EXPECT_EQ(table->schema()->field(0)->name(), "ts");
  EXPECT_EQ(table->num_rows(), 3);
  EXPECT_FALSE(dataset.Read(dataset.row_groups()[0], {"nope"}).ok());
}

TEST_F(OfflineFilesTest, FilesWithDifferentColumnTypesAreRejected) {
  ASSERT_TRUE(WriteTableFile(*Rows(0, 2), dir_ / "a.parquet").ok());
  auto other = arrow::Table::Make(arrow::schema({arrow::field("id", arrow::utf8())}),
                                  {arrow::MakeArrayOfNull(arrow::utf8(), 1).ValueOrDie()});
  ASSERT_TRUE(WriteTableFile(*other, dir_ / "b.parquet").ok());
  auto dataset = ParquetDataset::Open(registry::ListSourceFiles(dir_).ValueOrDie());
  ASSERT_FALSE(dataset.ok());
  EXPECT_NE(dataset.status().message().find("b.parquet"), std::string::npos);
}

TEST_F(OfflineFilesTest, TruncatedParquetIsAnErrorNamingTheFile) {
  ASSERT_TRUE(WriteTableFile(*Rows(0, 100), dir_ / "a.parquet").ok());
  fs::resize_file(dir_ / "a.parquet", fs::file_size(dir_ / "a.parquet") / 2);
  auto dataset = ParquetDataset::Open({dir_ / "a.parquet"});
  ASSERT_FALSE(dataset.ok());
  EXPECT_NE(dataset.status().message().find("a.parquet"), std::string::npos);
  EXPECT_FALSE(ReadTableFile(dir_ / "a.parquet").ok());
}

TEST_F(OfflineFilesTest, FailedWriteLeavesNoFile) {
  EXPECT_FALSE(WriteTableFile(*Rows(0, 1), dir_ / "out.txt").ok());
  EXPECT_FALSE(WriteTableFile(*Rows(0, 1), dir_ / "missing" / "out.parquet").ok());
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(OfflineFilesTest, CsvRoundTripsWithFixedColumnTypes) {
  std::ofstream(dir_ / "e.csv")
      << "id,event_timestamp\n1,2024-05-01T10:00:00+02:00\n2,2024-05-01\n";
  auto table = ReadTableFile(dir_ / "e.csv", {{"event_timestamp", arrow::utf8()}}).ValueOrDie();
  EXPECT_EQ(table->schema()->field(0)->type()->id(), arrow::Type::INT64);
  EXPECT_EQ(table->schema()->field(1)->type()->id(), arrow::Type::STRING);
  std::ofstream(dir_ / "bad.csv") << "id\n1\nabc\n";
  auto bad = ReadTableFile(dir_ / "bad.csv", {{"id", arrow::int64()}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("abc"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace headwater::offline
