// The stream pipeline's checkpoint file and its exactly-once replay, with a manual clock.
#include "headwater/ingest/stream_pipeline.h"

#include <gtest/gtest.h>

#include <set>

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

TEST_F(PartitionWatermarkTest, ClockStepsNeverMoveTheWatermarkBackOrEmitAWindowTwice) {
  // Processing time steps back and forth (an NTP correction, a VM resumed) while three
  // partitions stream — two delivering in turn, one idle. Idleness is judged on processing time,
  // so the steps change when partitions stop holding the watermark, but never this: the
  // watermark only moves forward, and each window's row is emitted once.
  const auto config = MakeRepository(root_ / "repo");
  auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
  auto pipeline =
      SourcePipeline::Open(config, definitions_, *definitions_.FindSource("trades_push"),
                           store.get(), clock_, /*per_event_watermark=*/false)
          .ValueOrDie();
  pipeline->ExpectPartitions({0, 1, 2});
  const int64_t steps[] = {kMinute, -10 * kMinute, 120 * kMinute, -180 * kMinute, 5'000'000,
                           -1,      45'000'000};
  int64_t watermark = INT64_MIN;
  int64_t positions[2] = {0, 0};
  for (int i = 0; i < 21; ++i) {
    clock_.Advance(Duration{steps[i % 7]});
    const int partition = i % 2;
    ASSERT_TRUE(
        pipeline->Process(*Trades(kStart + i * 2 * kMinute, 3), partition, ++positions[partition])
            .ok());
    EXPECT_GE(pipeline->stats().watermark, watermark) << "step " << i;
    watermark = pipeline->stats().watermark;
    clock_.Advance(Duration{steps[(i + 3) % 7]});
    ASSERT_TRUE(pipeline->Tick().ok());
    EXPECT_GE(pipeline->stats().watermark, watermark) << "tick " << i;
    watermark = pipeline->stats().watermark;
    if (i % 5 == 4) {
      ASSERT_TRUE(pipeline->Checkpoint().ok());
    }
  }
  clock_.Advance(Duration{60 * kMinute});  // everything idle: the watermark takes what all passed
  ASSERT_TRUE(pipeline->Tick().ok());
  EXPECT_GE(pipeline->stats().watermark, watermark);
  ASSERT_TRUE(pipeline->Checkpoint().ok());
  const int64_t emitted = pipeline->stats().rows_emitted;
  EXPECT_GT(emitted, 0);

  auto files = registry::ListSourceFiles(config.Resolve("data/offline/windows")).ValueOrDie();
  std::set<std::pair<std::string, int64_t>> rows;
  int64_t total = 0;
  for (const auto& file : files) {
    auto table = offline::ReadTableFile(file).ValueOrDie()->CombineChunks().ValueOrDie();
    auto tickers =
        std::static_pointer_cast<arrow::StringArray>(table->GetColumnByName("ticker")->chunk(0));
    auto ends = std::static_pointer_cast<arrow::TimestampArray>(
        table->GetColumnByName("event_timestamp")->chunk(0));
    for (int64_t r = 0; r < table->num_rows(); ++r) {
      EXPECT_TRUE(rows.emplace(tickers->GetString(r), ends->Value(r)).second)
          << tickers->GetString(r) << " at " << ends->Value(r) << " emitted twice";
      ++total;
    }
  }
  EXPECT_EQ(total, emitted);
}

}  // namespace
}  // namespace headwater::ingest
