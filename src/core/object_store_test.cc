#include "headwater/core/object_store.h"

#include <arrow/buffer.h>
#include <arrow/io/interfaces.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "headwater/core/file.h"

namespace headwater::storage {
namespace {

namespace fs = std::filesystem;

TEST(ObjectStoreTest, OnlyS3UrisAreObjects) {
  EXPECT_TRUE(IsObjectUri("s3://bucket/key.parquet"));
  EXPECT_FALSE(IsObjectUri("data/s3://x"));
  EXPECT_FALSE(IsObjectUri("/tmp/file.parquet"));
  EXPECT_FALSE(IsObjectUri("S3://bucket/key"));  // AWS tools spell the scheme in lower case
}

TEST(ObjectStoreTest, AUriWithoutABucketIsRefused) {
  for (const char* uri : {"s3://", "s3:///key"}) {
    auto located = Locate(uri);
    ASSERT_FALSE(located.ok()) << uri;
    EXPECT_NE(located.status().message().find("names no bucket"), std::string::npos);
  }
}

TEST(ObjectStoreTest, LocalPathsGoThroughTheSameCalls) {
  const fs::path directory = fs::temp_directory_path() / "headwater_object_store_test";
  fs::remove_all(directory);
  ASSERT_TRUE(MakeDirectories(directory / "a" / "b").ok());
  EXPECT_EQ(*KindOf(directory / "a"), Kind::kDirectory);
  EXPECT_EQ(*KindOf(directory / "nothing"), Kind::kMissing);
  ASSERT_TRUE(WriteFileAtomically(directory / "a" / "f.txt", "contents").ok());
  EXPECT_EQ(*KindOf(directory / "a" / "f.txt"), Kind::kFile);
  auto input = OpenInput(directory / "a" / "f.txt");
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  EXPECT_EQ((*input)->ReadAt(0, 8).ValueOrDie()->ToString(), "contents");
  auto missing = OpenInput(directory / "nothing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find((directory / "nothing").string()), std::string::npos);
  fs::remove_all(directory);
}

// Large ranges of a local file are handed out as mappings of it: the same bytes as a copy, at
// any offset (not only page-aligned ones), clamped at the end of the file, and still readable
// after the file is closed and removed while a buffer holds them.
TEST(ObjectStoreTest, LargeLocalReadsAreTheFilesBytes) {
  const fs::path directory = fs::temp_directory_path() / "headwater_mapped_read_test";
  fs::remove_all(directory);
  ASSERT_TRUE(MakeDirectories(directory).ok());
  std::string contents(5'000'017, '\0');
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 131 % 251);
  ASSERT_TRUE(WriteFileAtomically(directory / "f.bin", contents).ok());
  auto input = OpenInput(directory / "f.bin").ValueOrDie();
  std::vector<std::shared_ptr<arrow::Buffer>> kept;
  for (auto [position, length] : std::vector<std::pair<int64_t, int64_t>>{{0, 3'000'000},
                                                                          {4097, 2'000'000},
                                                                          {1, 10},
                                                                          {3'999'999, 9'000'000},
                                                                          {4'999'000, 5'000}}) {
    auto read = input->ReadAt(position, length);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    const auto expected_length =
        std::min<int64_t>(length, static_cast<int64_t>(contents.size()) - position);
    EXPECT_EQ((*read)->ToString(),
              contents.substr(static_cast<size_t>(position), static_cast<size_t>(expected_length)))
        << position << " +" << length;
    kept.push_back(*read);
  }
  EXPECT_EQ(input->ReadAt(6'000'000, 2'000'000).ValueOrDie()->size(), 0);  // past the end
  ASSERT_TRUE(input->Close().ok());
  fs::remove_all(directory);
  EXPECT_EQ(kept[1]->ToString(), contents.substr(4097, 2'000'000));
}

TEST(ObjectStoreTest, ABucketHasOneEndpoint) {
  EXPECT_TRUE(UseEndpointForBucket("unit-test-bucket", "http://127.0.0.1:1").ok());
  EXPECT_TRUE(UseEndpointForBucket("unit-test-bucket", "http://127.0.0.1:1").ok());
  auto second = UseEndpointForBucket("unit-test-bucket", "http://127.0.0.1:2");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find("two endpoints"), std::string::npos);
}

TEST(ObjectStoreTest, MakingAPrefixWritesNothing) {
  // A prefix exists once an object is under it: nothing to create, no request made.
  EXPECT_TRUE(MakeDirectories("s3://bucket/some/prefix").ok());
  EXPECT_FALSE(fs::exists("s3:"));
}

}  // namespace
}  // namespace headwater::storage
