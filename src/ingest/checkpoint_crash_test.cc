// Power loss at every step of the durable writes of a stream checkpoint and of an offline
// append (core/fault_injection.h): the reopened state is always a committed one — never a
// checkpoint naming a part file that is gone, never a partial Parquet file — and the run then
// ends where an uninterrupted one ends.
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/fault_injection.h"
#include "headwater/ingest/stream_pipeline.h"
#include "headwater/ingest/writes.h"
#include "headwater/offline/table_file.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/source_schema.h"
#include "trade_repository.h"

namespace headwater::ingest {
namespace {

using CheckpointCrashTest = TradeRepositoryTest;

TEST_F(CheckpointCrashTest, PowerLossAtAnyStepOfACheckpointLeavesACommittedState) {
  // The uninterrupted run: two pushes, each followed by a checkpoint.
  const auto reference_config = MakeRepository(root_ / "reference");
  int64_t checkpoint_steps = 0;
  {
    auto store =
        online::OpenOnlineStore(reference_config, online::OpenMode::kReadWrite).ValueOrDie();
    auto pipeline = Open(reference_config, store.get()).ValueOrDie();
    ASSERT_TRUE(pipeline->Push(*Trades(kStart, 5)).ok());
    ASSERT_TRUE(pipeline->Checkpoint().ok());
    ASSERT_TRUE(pipeline->Push(*Trades(kStart + 5 * kMinute, 5)).ok());
    PowerLossAtStep counting(INT64_MAX);
    ASSERT_TRUE(pipeline->Checkpoint().ok());
    checkpoint_steps = counting.steps();
  }
  const State reference = Read(reference_config);
  ASSERT_FALSE(reference.offline.empty());
  // A part file, a checkpoint: two writes of four steps each, at least.
  ASSERT_GE(checkpoint_steps, 8);

  for (int64_t crash_at = 0; crash_at <= checkpoint_steps; ++crash_at) {
    SCOPED_TRACE("crash at step " + std::to_string(crash_at));
    const auto config = MakeRepository(root_ / ("crash_" + std::to_string(crash_at)));
    {
      auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
      auto pipeline = Open(config, store.get()).ValueOrDie();
      ASSERT_TRUE(pipeline->Push(*Trades(kStart, 5)).ok());
      ASSERT_TRUE(pipeline->Checkpoint().ok());
      ASSERT_TRUE(pipeline->Push(*Trades(kStart + 5 * kMinute, 5)).ok());
      PowerLossAtStep power(crash_at);
      Status checkpointed = pipeline->Checkpoint();
      EXPECT_EQ(checkpointed.ok(), crash_at == checkpoint_steps);
      pipeline.reset();  // the process dies here: nothing more is written
      power.CutPower();
    }
    // What survived names no part file that is gone: every part the checkpoint commits exists.
    {
      auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
      auto pipeline = Open(config, store.get());
      ASSERT_TRUE(pipeline.ok()) << pipeline.status().message();
      auto files = registry::ListSourceFiles(config.Resolve("data/offline/windows")).ValueOrDie();
      for (const auto& file : files) {
        auto table = offline::ReadTableFile(file);
        ASSERT_TRUE(table.ok()) << file << ": " << table.status().message();
      }
      // The reopened pipeline replays the write-ahead log past its checkpoint and ends where
      // the uninterrupted run ended.
      ASSERT_TRUE((*pipeline)->Checkpoint().ok());
    }
    EXPECT_EQ(Read(config), reference);
  }
}

TEST_F(CheckpointCrashTest, PowerLossDuringAnOfflineAppendLeavesTheFileWholeOrAbsent) {
  const auto config = MakeRepository(root_ / "append");
  const registry::DataSource& batch = *definitions_.FindSource("trades");
  auto rows = arrow::Table::FromRecordBatches({Trades(kStart, 2)}).ValueOrDie();
  for (int64_t crash_at = 0; crash_at <= 4; ++crash_at) {
    SCOPED_TRACE("crash at step " + std::to_string(crash_at));
    const auto before = registry::ListSourceFiles(config.Resolve(batch.path)).ValueOrDie();
    PushResult pushed;
    {
      PowerLossAtStep power(crash_at);
      auto result =
          Push(config, definitions_, "trades_push", *rows, {false, true}, nullptr, nullptr, clock_);
      EXPECT_EQ(result.ok(), crash_at == 4);
      if (result.ok()) pushed = *result;
      power.CutPower();
    }
    const auto after = registry::ListSourceFiles(config.Resolve(batch.path)).ValueOrDie();
    // Either nothing was appended, or one whole file that reads back as the pushed rows.
    if (crash_at < 4) {
      EXPECT_EQ(after, before);
    } else {
      ASSERT_EQ(after.size(), before.size() + 1);
      auto read = offline::ReadTableFile(config.Resolve(batch.path) / pushed.offline_file);
      ASSERT_TRUE(read.ok()) << read.status().message();
      EXPECT_EQ((*read)->num_rows(), rows->num_rows());
    }
    // The source still reads: no partial file is listed.
    EXPECT_TRUE(registry::ReadSourceSchema(config.Resolve(batch.path)).ok());
  }
}

}  // namespace
}  // namespace headwater::ingest
