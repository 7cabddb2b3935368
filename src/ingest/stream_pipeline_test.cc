// The stream pipeline's checkpoint file and its exactly-once replay, with a manual clock.
#include "headwater/ingest/stream_pipeline.h"

#include <gtest/gtest.h>

#include "headwater/core/file.h"
#include "trade_repository.h"

namespace headwater::ingest {
namespace {

class StreamPipelineTest : public TradeRepositoryTest {
 protected:
  fs::path CheckpointFile(const registry::RepoConfig& config) {
    return config.Resolve(config.stream.path) / "trades_push" / "checkpoint";
  }

  // One push and a checkpoint; returns the checkpoint file's bytes.
  std::string Checkpointed(const registry::RepoConfig& config) {
    auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(config, store.get()).ValueOrDie();
    EXPECT_TRUE(pipeline->Push(*Trades(kStart, 5)).ok());
    EXPECT_TRUE(pipeline->Checkpoint().ok());
    return ReadFile(CheckpointFile(config)).ValueOrDie();
  }

  // The message of reopening the pipeline over `checkpoint`, or "" when it opens.
  std::string OpenOver(const registry::RepoConfig& config, const std::string& checkpoint) {
    EXPECT_TRUE(WriteFileAtomically(CheckpointFile(config), checkpoint).ok());
    auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(config, store.get());
    return pipeline.ok() ? "" : pipeline.status().message();
  }
};

TEST_F(StreamPipelineTest, APartialOrCorruptCheckpointIsRefusedByName) {
  const auto config = MakeRepository(root_ / "repo");
  const std::string good = Checkpointed(config);
  ASSERT_GT(good.size(), 40u);
  const std::string path = CheckpointFile(config).string();
  for (size_t cut : {size_t{0}, size_t{5}, size_t{12}, good.size() - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    EXPECT_EQ(OpenOver(config, good.substr(0, cut)), "checkpoint " + path + " is damaged");
  }
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x01;
  EXPECT_EQ(OpenOver(config, flipped), "checkpoint " + path + " is damaged");
  EXPECT_EQ(OpenOver(config, good), "");  // the good one still opens
}

TEST_F(StreamPipelineTest, ACheckpointOfANewerFormatSaysSo) {
  const auto config = MakeRepository(root_ / "repo");
  std::string newer = Checkpointed(config);
  newer[6] = '0';
  newer[7] = '2';  // "HWCKPT02"
  EXPECT_EQ(OpenOver(config, newer), "checkpoint " + CheckpointFile(config).string() +
                                         " has format 02; this headwater reads format 01");
}

TEST_F(StreamPipelineTest, ACrashBeforeTheCheckpointReplaysToTheSameStores) {
  // The uninterrupted run: three pushes a minute of processing time apart, then a checkpoint.
  const auto reference_config = MakeRepository(root_ / "reference");
  {
    auto store =
        online::OpenOnlineStore(reference_config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(reference_config, store.get()).ValueOrDie();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(pipeline->Push(*Trades(kStart + i * 4 * kMinute, 4)).ok());
      clock_.Advance(Duration{kMinute});
    }
    ASSERT_TRUE(pipeline->Checkpoint().ok());
    EXPECT_EQ(pipeline->stats().events, 36);
  }
  const State reference = Read(reference_config);
  ASSERT_FALSE(reference.offline.empty());
  ASSERT_FALSE(reference.online.empty());

  // The same pushes, then the process dies before any checkpoint: nothing is written offline,
  // but every push was acknowledged, so the write-ahead log holds it.
  clock_.Set(Timestamp{kStart + 60 * kMinute});
  const auto config = MakeRepository(root_ / "crashed");
  {
    auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(config, store.get()).ValueOrDie();
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(pipeline->Push(*Trades(kStart + i * 4 * kMinute, 4)).ok());
      clock_.Advance(Duration{kMinute});
    }
  }
  EXPECT_TRUE(Read(config).offline.empty());
  // Much later, a restart replays the log once: the same rows, none twice.
  clock_.Advance(Duration{30 * kMinute});
  {
    auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(config, store.get()).ValueOrDie();
    EXPECT_EQ(pipeline->stats().events, 36);
    ASSERT_TRUE(pipeline->Checkpoint().ok());
  }
  EXPECT_EQ(Read(config), reference);
  // A second restart after that checkpoint replays nothing more.
  {
    auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(config, store.get()).ValueOrDie();
    EXPECT_EQ(pipeline->stats().events, 0);
    ASSERT_TRUE(pipeline->Checkpoint().ok());
  }
  EXPECT_EQ(Read(config), reference);
}

}  // namespace
}  // namespace headwater::ingest

namespace headwater::ingest {
namespace {

class PartitionWatermarkTest : public TradeRepositoryTest {};

TEST_F(PartitionWatermarkTest, TheSlowestPartitionHoldsTheWatermark) {
  const auto config = MakeRepository(root_ / "repo");
  auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
  auto pipeline =
      SourcePipeline::Open(config, definitions_, *definitions_.FindSource("trades_push"),
                           store.get(), clock_, /*per_event_watermark=*/false)
          .ValueOrDie();
  // Partition 0 is 30 minutes ahead of partition 1 (the watermark never moves backwards: the
  // slow partition reports first).
  ASSERT_TRUE(pipeline->Process(*Trades(kStart, 2), 1, 1).ok());
  ASSERT_TRUE(pipeline->Process(*Trades(kStart + 30 * kMinute, 2), 0, 1).ok());
  const int64_t slowest = kStart + 2 * kMinute - 20'000'000;  // partition 1's newest trade
  EXPECT_EQ(pipeline->stats().watermark, slowest);
  // Partition 1 moves a minute on: so does the watermark, not to partition 0's time.
  ASSERT_TRUE(pipeline->Process(*Trades(kStart + 2 * kMinute, 1), 1, 2).ok());
  EXPECT_EQ(pipeline->stats().watermark, kStart + 3 * kMinute - 20'000'000);
  // It catches up: the watermark moves to where both are.
  ASSERT_TRUE(pipeline->Process(*Trades(kStart + 40 * kMinute, 1), 1, 3).ok());
  EXPECT_EQ(pipeline->stats().watermark, kStart + 32 * kMinute - 20'000'000);
}

}  // namespace
}  // namespace headwater::ingest
