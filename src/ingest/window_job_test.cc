// WindowJob::ConsumeTiles: tile messages, as a Flink job writes them, give the rows the events
// give.
#include <arrow/api.h>

#include <bit>
#include <map>

#include "trade_repository.h"

namespace headwater::ingest {
namespace {

class WindowJobTilesTest : public TradeRepositoryTest {};

// The tiles of `events` for `job`'s view, as a Flink job computes and emits them: per key and
// pane of the grid (1 minute), Tile::Add in arrival order (the sequence the arrival index), in
// pane order.
std::shared_ptr<arrow::RecordBatch> TilesOf(const WindowJob& job,
                                            const arrow::RecordBatch& events) {
  const auto& tickers = static_cast<const arrow::StringArray&>(*events.GetColumnByName("ticker"));
  const auto& prices = static_cast<const arrow::DoubleArray&>(*events.GetColumnByName("price"));
  const auto& times =
      static_cast<const arrow::TimestampArray&>(*events.GetColumnByName("timestamp"));
  struct Pane {
    engine::Tile tile;
    int64_t max_time = INT64_MIN;
  };
  std::map<std::pair<int64_t, std::string>, Pane> panes;  // (pane, key)
  for (int64_t i = 0; i < events.num_rows(); ++i) {
    Pane& pane = panes[{engine::FloorDivide(times.Value(i), kMinute), tickers.GetString(i)}];
    pane.tile.Add(prices.Value(i), times.Value(i), i);
    pane.max_time = std::max(pane.max_time, times.Value(i));
  }
  auto schema = job.TileSchema(*TradeSchema()).ValueOrDie();
  arrow::StringBuilder keys;
  arrow::TimestampBuilder max_times(schema->field(1)->type(), arrow::default_memory_pool());
  std::vector<arrow::Int64Builder> fields(std::size(kTileFields));
  for (const auto& [key, pane] : panes) {
    EXPECT_TRUE(keys.Append(key.second).ok());
    EXPECT_TRUE(max_times.Append(pane.max_time).ok());
    const engine::Tile& t = pane.tile;
    const int64_t values[] = {t.count,
                              std::bit_cast<int64_t>(t.sum),
                              std::bit_cast<int64_t>(t.min),
                              std::bit_cast<int64_t>(t.max),
                              std::bit_cast<int64_t>(t.mean),
                              std::bit_cast<int64_t>(t.m2),
                              t.last_time,
                              t.last_sequence,
                              std::bit_cast<int64_t>(t.last)};
    for (size_t f = 0; f < fields.size(); ++f) EXPECT_TRUE(fields[f].Append(values[f]).ok());
  }
  std::vector<std::shared_ptr<arrow::Array>> columns = {keys.Finish().ValueOrDie(),
                                                        max_times.Finish().ValueOrDie()};
  for (auto& field : fields) columns.push_back(field.Finish().ValueOrDie());
  return arrow::RecordBatch::Make(schema, static_cast<int64_t>(panes.size()), columns);
}

TEST_F(WindowJobTilesTest, TilesGiveTheRowsTheirEventsGive) {
  MakeRepository(root_);
  const registry::FeatureView& view = *definitions_.FindFeatureView("windows");
  auto from_events = WindowJob::Make(definitions_, view).ValueOrDie();
  auto from_tiles = WindowJob::Make(definitions_, view).ValueOrDie();
  auto events = Trades(kStart, 30);
  std::vector<int64_t> late;
  ASSERT_TRUE(from_events.Consume(*events, &late).ok());
  auto tiles = TilesOf(from_tiles, *events);
  ASSERT_GT(tiles->num_rows(), 50);
  ASSERT_TRUE(from_tiles.ConsumeTiles(*tiles, &late).ok());
  EXPECT_TRUE(late.empty());
  const int64_t until = kStart + 40 * kMinute;
  auto a = from_events.Finalize(until).ValueOrDie();
  auto b = from_tiles.Finalize(until).ValueOrDie();
  ASSERT_GT(a.rows(), 50);
  EXPECT_TRUE(a.table->Equals(*b.table)) << a.table->ToString() << b.table->ToString();
  EXPECT_EQ(a.values.data, b.values.data);

  // A tile whose pane is already final is late: reported, not merged.
  ASSERT_TRUE(from_tiles.ConsumeTiles(*tiles->Slice(0, 1), &late).ok());
  EXPECT_EQ(late, std::vector<int64_t>{0});
}

TEST_F(WindowJobTilesTest, MalformedTilesAreRefusedWithTheColumn) {
  MakeRepository(root_);
  auto job = WindowJob::Make(definitions_, *definitions_.FindFeatureView("windows")).ValueOrDie();
  auto tiles = TilesOf(job, *Trades(kStart, 2));
  std::vector<int64_t> late;
  auto without = tiles->RemoveColumn(tiles->schema()->GetFieldIndex("price__m2_bits")).ValueOrDie();
  Status refused = job.ConsumeTiles(*without, &late);
  ASSERT_TRUE(refused.IsInvalid());
  EXPECT_NE(refused.message().find("'price__m2_bits'"), std::string::npos) << refused.message();
  auto no_key = tiles->RemoveColumn(0).ValueOrDie();
  EXPECT_NE(job.ConsumeTiles(*no_key, &late).message().find("key column 'ticker'"),
            std::string::npos);
}

}  // namespace
}  // namespace headwater::ingest
