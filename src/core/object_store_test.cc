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
