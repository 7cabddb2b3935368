#include "headwater/engine/window_aggregator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <tuple>

namespace headwater::engine {
namespace {

struct Event {
  std::string key;
  int64_t time;
  double value;
};

// One emitted row, by value, for comparing runs.
using Row = std::tuple<std::string, int64_t, std::vector<std::optional<double>>>;

std::vector<Row> Rows(const WindowAggregator& op, const WindowRows& rows) {
  std::vector<Row> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<std::optional<double>> values;
    for (size_t a = 0; a < rows.values.size(); ++a) {
      values.push_back(rows.valid[a][i] ? std::optional(rows.values[a][i]) : std::nullopt);
    }
    out.emplace_back(std::string(op.key(rows.keys[i])), rows.ends[i], std::move(values));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Feeds events in batches of `batch` (a watermark of the greatest time minus `delay` after
// each) and finalises everything at `end`.
std::vector<Row> Feed(WindowAggregator op, const std::vector<Event>& events, size_t batch,
                      int64_t delay, int64_t end, std::vector<Event>* late = nullptr,
                      bool premerge = false) {
  WindowRows rows;
  ByteRows keys;
  std::vector<int64_t> times;
  std::vector<double> values;
  for (size_t start = 0; start < events.size(); start += batch) {
    keys.Clear();
    times.clear();
    values.clear();
    for (size_t i = start; i < std::min(events.size(), start + batch); ++i) {
      keys.data += events[i].key;
      keys.FinishRow();
      times.push_back(events[i].time);
      values.push_back(events[i].value);
    }
    EventBatch input{
        &keys, times.data(), {values.data()}, {nullptr}, static_cast<int64_t>(times.size())};
    std::vector<int64_t> late_rows;
    op.Consume(input, &late_rows);
    if (late != nullptr) {
      for (int64_t i : late_rows) late->push_back(events[start + static_cast<size_t>(i)]);
    }
    op.FinalizeUntil(op.max_event_time() - delay, &rows);
    if (premerge) op.Premerge();
  }
  op.FinalizeUntil(end, &rows);
  return Rows(op, rows);
}

// The definition on raw events: the window [end - size, end).
std::optional<double> Expected(const std::vector<Event>& events, const std::string& key,
                               int64_t end, int64_t size, Aggregation function) {
  std::vector<double> in;
  for (const Event& e : events) {
    if (e.key == key && e.time >= end - size && e.time < end) in.push_back(e.value);
  }
  double sum = 0;
  for (double v : in) sum += v;
  switch (function) {
    case Aggregation::kCount:
      return static_cast<double>(in.size());
    case Aggregation::kSum:
      return sum;
    case Aggregation::kMin:
      return in.empty() ? std::nullopt : std::optional(*std::min_element(in.begin(), in.end()));
    case Aggregation::kMax:
      return in.empty() ? std::nullopt : std::optional(*std::max_element(in.begin(), in.end()));
    case Aggregation::kMean:
      return in.empty() ? std::nullopt : std::optional(sum / static_cast<double>(in.size()));
    case Aggregation::kLast:
      return in.empty() ? std::nullopt : std::optional(in.back());  // events are in time order
    default:
      return std::nullopt;
  }
}

std::vector<AggregateSpec> TickerSpecs() {
  // min/max/mean over 5-, 10- and 60-step windows sliding by 1, plus a tumbling count and sum.
  std::vector<AggregateSpec> specs;
  for (int64_t size : {5, 10, 60}) {
    for (Aggregation f : {Aggregation::kMin, Aggregation::kMax, Aggregation::kMean}) {
      specs.push_back({0, f, Duration{size}, Duration{1}});
    }
  }
  specs.push_back({0, Aggregation::kCount, Duration{10}, Duration{10}});
  specs.push_back({0, Aggregation::kSum, Duration{10}, Duration{5}});
  specs.push_back({0, Aggregation::kLast, Duration{4}, Duration{2}});
  return specs;
}

std::vector<Event> RandomEvents(uint32_t seed, int count, int64_t span, bool sorted) {
  std::mt19937 random(seed);
  std::vector<Event> events;
  for (int i = 0; i < count; ++i) {
    events.push_back(Event{std::string(1, static_cast<char>('a' + random() % 5)),
                           static_cast<int64_t>(random() % static_cast<uint32_t>(span)) - 50,
                           static_cast<double>(random() % 1000) / 4});
  }
  if (sorted) {
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.time < b.time; });
  }
  return events;
}

TEST(WindowAggregatorTest, RowsMatchTheDefinitionOnRawEvents) {
  auto specs = TickerSpecs();
  auto events = RandomEvents(7, 400, 300, /*sorted=*/true);
  auto op = WindowAggregator::Make(specs, 1).ValueOrDie();
  auto rows = Feed(op, events, 17, 0, 1000);
  ASSERT_FALSE(rows.empty());
  // Every grid point of every key: a row exactly where some window is non-empty or the one
  // before was; values as the definition says.
  std::map<std::pair<std::string, int64_t>, const Row*> by_point;
  for (const Row& row : rows) by_point[{std::get<0>(row), std::get<1>(row)}] = &row;
  int checked = 0;
  for (std::string key : {"a", "b", "c", "d", "e"}) {
    bool previous_empty = true;
    for (int64_t end = -60; end <= 1000; ++end) {
      std::vector<std::optional<double>> want;
      bool any = false;
      for (const AggregateSpec& spec : specs) {
        int64_t window_end = FloorDivide(end, spec.slide.micros) * spec.slide.micros;
        want.push_back(Expected(events, key, window_end, spec.size.micros, spec.function));
        any |= Expected(events, key, window_end, spec.size.micros, Aggregation::kCount) > 0.0;
      }
      auto found = by_point.find({key, end});
      const bool has_earlier_event = events.front().time < end;
      if (any || (!previous_empty && has_earlier_event)) {
        ASSERT_NE(found, by_point.end()) << key << " at " << end;
        const auto& got = std::get<2>(*found->second);
        for (size_t a = 0; a < specs.size(); ++a) {
          ASSERT_EQ(got[a].has_value(), want[a].has_value()) << key << " " << end << " #" << a;
          if (want[a]) {
            EXPECT_NEAR(*got[a], *want[a], 1e-9 * (1 + std::abs(*want[a])));
          }
        }
        ++checked;
      } else {
        EXPECT_EQ(found, by_point.end()) << "unexpected row " << key << " at " << end;
      }
      previous_empty = !any;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(rows.size()));
}

TEST(WindowAggregatorTest, BatchBoundariesDoNotChangeTheRows) {
  auto op = WindowAggregator::Make(TickerSpecs(), 1).ValueOrDie();
  auto events = RandomEvents(11, 500, 400, /*sorted=*/false);  // out of order: some are late
  std::vector<Event> late_one, late_all;
  auto one = Feed(op, events, 1, 20, 2000, &late_one);
  auto all = Feed(op, events, 500, 20, 2000, &late_all);
  EXPECT_GT(late_one.size(), 0u);
  EXPECT_LT(late_all.size(), late_one.size());  // judged only by what was emitted: cut-dependent
  // The per-event watermark judges each event by the ones before it, however the input is cut.
  auto per_event = WindowAggregator::Make(TickerSpecs(), 1).ValueOrDie();
  per_event.set_event_watermark(Duration{20}, Duration{0});
  auto one_judged = Feed(per_event, events, 1, 20, 2000);
  auto all_judged = Feed(per_event, events, 500, 20, 2000);
  auto some_judged = Feed(per_event, events, 33, 20, 2000);
  EXPECT_EQ(one_judged, all_judged);
  EXPECT_EQ(one_judged, some_judged);
  EXPECT_EQ(one_judged, one);
}

TEST(WindowAggregatorTest, MergingFinalPanesAheadGivesTheSameBits) {
  for (bool per_event : {false, true}) {
    auto op = WindowAggregator::Make(TickerSpecs(), 1).ValueOrDie();
    op.set_event_watermark(Duration{20}, Duration{3}, per_event);
    auto events = RandomEvents(13, 3000, 600, /*sorted=*/false);  // out of order, some late
    for (size_t batch : {1, 7, 33}) {
      std::vector<Event> late, late_premerged;
      auto plain = Feed(op, events, batch, 20, 2000, &late);
      auto premerged = Feed(op, events, batch, 20, 2000, &late_premerged, /*premerge=*/true);
      ASSERT_FALSE(plain.empty());
      EXPECT_EQ(premerged, plain) << "batch " << batch;  // exact: the same merges, same order
      EXPECT_EQ(late_premerged.size(), late.size());
    }
  }
}

TEST(WindowAggregatorTest, LateEventsAreReportedAndNotMerged) {
  auto op = WindowAggregator::Make({{0, Aggregation::kCount, Duration{10}, Duration{10}}}, 1)
                .ValueOrDie();
  std::vector<Event> events = {{"k", 1, 1}, {"k", 25, 1}, {"k", 3, 1}, {"k", 21, 1}};
  std::vector<Event> late;
  auto rows = Feed(op, events, 1, 0, 100, &late);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].time, 3);  // its window [0, 10) was final once time 25 was seen
  // Rows: [0,10) at 10 -> 1, empty at 20 -> 0, [20,30) at 30 -> 2, then the empty row at 40.
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(std::get<1>(rows[0]), 10);
  EXPECT_EQ(std::get<2>(rows[0])[0], 1.0);
  EXPECT_EQ(std::get<1>(rows[1]), 20);
  EXPECT_EQ(std::get<2>(rows[1])[0], 0.0);
  EXPECT_EQ(std::get<1>(rows[2]), 30);
  EXPECT_EQ(std::get<2>(rows[2])[0], 2.0);
  EXPECT_EQ(std::get<1>(rows[3]), 40);
  EXPECT_EQ(std::get<2>(rows[3])[0], 0.0);
}

TEST(WindowAggregatorTest, AStateClaimingMorePanesThanItsBytesIsRefusedUnallocated) {
  // Found by stored_state_fuzzer: a pane count of 2^31 - 1 made Restore allocate 16 GiB.
  auto op = WindowAggregator::Make(TickerSpecs(), 1).ValueOrDie();
  ByteRows keys;
  keys.data += "KEYKEY";
  keys.FinishRow();
  const int64_t time = 100;
  const double value = 1.0;
  std::vector<int64_t> late;
  op.Consume({&keys, &time, {&value}, {nullptr}, 1}, &late);
  std::string saved = op.Save();
  // The key's bytes, then next_row (8 bytes) and last_row_empty (1), then the u32 pane count.
  const size_t panes_at = saved.find("KEYKEY") + 6 + 8 + 1;
  const uint32_t huge = 0x7fffffff;
  std::memcpy(saved.data() + panes_at, &huge, sizeof(huge));
  auto restored = WindowAggregator::Make(TickerSpecs(), 1).ValueOrDie();
  Status status = restored.Restore(saved);
  EXPECT_TRUE(status.IsInvalid()) << status.ToString();
  EXPECT_NE(status.message().find("damaged"), std::string::npos);
}

TEST(WindowAggregatorTest, SaveAndRestoreContinueExactly) {
  auto specs = TickerSpecs();
  auto events = RandomEvents(5, 600, 500, /*sorted=*/false);
  auto fresh = WindowAggregator::Make(specs, 1).ValueOrDie();
  fresh.set_event_watermark(Duration{15}, Duration{2});
  auto uninterrupted = Feed(fresh, events, 40, 17, 3000);

  // Stop after 7 batches, save, restore into a new operator, and go on.
  auto first = fresh;
  std::vector<Event> head(events.begin(), events.begin() + 280);
  std::vector<Event> tail(events.begin() + 280, events.end());
  WindowRows rows;
  ByteRows keys;
  std::vector<int64_t> times, late;
  std::vector<double> values;
  for (const Event& e : head) {
    keys.data += e.key;
    keys.FinishRow();
    times.push_back(e.time);
    values.push_back(e.value);
  }
  first.Consume({&keys, times.data(), {values.data()}, {nullptr}, 280}, &late);
  first.FinalizeUntil(first.max_event_time() - 17, &rows);
  std::string saved = first.Save();
  auto second = WindowAggregator::Make(specs, 1).ValueOrDie();
  second.set_event_watermark(Duration{15}, Duration{2});
  ASSERT_TRUE(second.Restore(saved).ok());
  EXPECT_EQ(second.Save(), saved);
  auto rest = Feed(second, tail, 40, 17, 3000);
  auto combined = Rows(first, rows);
  combined.insert(combined.end(), rest.begin(), rest.end());
  std::sort(combined.begin(), combined.end());
  EXPECT_EQ(combined, uninterrupted);

  // Damaged or foreign state is refused, never half-loaded.
  auto other =
      WindowAggregator::Make({{0, Aggregation::kSum, Duration{5}, Duration{5}}}, 1).ValueOrDie();
  EXPECT_FALSE(other.Restore(saved).ok());
  EXPECT_FALSE(second.Restore(saved.substr(0, saved.size() / 2)).ok());
  EXPECT_FALSE(second.Restore("garbage").ok());
  EXPECT_EQ(second.Save().size() > 0, true);
}

// The rows of `events` folded in as tiles, one per key and pane, each built from the pane's
// events in arrival order (sequence = arrival index), as a tile producer such as Flink would.
std::vector<Row> FeedTiles(WindowAggregator op, const std::vector<Event>& events, int64_t end) {
  std::map<std::pair<std::string, int64_t>, std::pair<Tile, int64_t>> tiles;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    auto& [tile, max_time] =
        tiles.try_emplace({e.key, FloorDivide(e.time, op.grid())}, Tile{}, INT64_MIN).first->second;
    tile.Add(e.value, e.time, static_cast<int64_t>(i));
    max_time = std::max(max_time, e.time);
  }
  for (const auto& [where, tile] : tiles) {
    EXPECT_TRUE(op.ConsumeTiles(where.first, where.second, &tile.first, tile.second));
  }
  WindowRows rows;
  op.FinalizeUntil(end, &rows);
  return Rows(op, rows);
}

TEST(WindowAggregatorTest, TilesGiveTheRowsTheirEventsGive) {
  std::vector<AggregateSpec> coarse;  // slides of 4 and 6: a grid of 2, panes of two steps
  for (Aggregation f :
       {Aggregation::kCount, Aggregation::kSum, Aggregation::kMin, Aggregation::kMax,
        Aggregation::kMean, Aggregation::kStddev, Aggregation::kLast}) {
    coarse.push_back({0, f, Duration{12}, Duration{4}});
    coarse.push_back({0, f, Duration{6}, Duration{6}});
  }
  for (const auto& specs : {TickerSpecs(), coarse}) {
    for (uint32_t seed : {1u, 2u, 3u}) {
      const auto events = RandomEvents(seed, 400, 300, /*sorted=*/false);
      const auto from_events =
          Feed(WindowAggregator::Make(specs, 1).ValueOrDie(), events, events.size(), 0, 400);
      ASSERT_FALSE(from_events.empty());
      EXPECT_EQ(FeedTiles(WindowAggregator::Make(specs, 1).ValueOrDie(), events, 400), from_events)
          << "seed " << seed;
    }
  }
}

TEST(WindowAggregatorTest, ATileOfAFinalPaneIsLateAndNotMerged) {
  auto op = WindowAggregator::Make(TickerSpecs(), 1).ValueOrDie();
  Tile tile;
  tile.Add(7, 3, 0);
  ASSERT_TRUE(op.ConsumeTiles("a", 3, &tile, 3));
  WindowRows rows;
  op.FinalizeUntil(20, &rows);
  const size_t emitted = rows.size();
  ASSERT_GT(emitted, 0u);
  EXPECT_FALSE(op.ConsumeTiles("a", 10, &tile, 10));  // its first row, 11, is final
  EXPECT_TRUE(op.ConsumeTiles("a", 25, &tile, 25));
  op.FinalizeUntil(20, &rows);
  EXPECT_EQ(rows.size(), emitted);  // nothing more before 20: the late tile changed nothing
}

TEST(WatermarkTrackerTest, MinimumOverActivePartitionsAndNeverBackwards) {
  WatermarkTracker tracker(Duration{5}, Duration{100});
  EXPECT_EQ(tracker.Current(0), INT64_MIN);
  tracker.Observe(0, 50, 0);
  tracker.Observe(1, 30, 0);
  EXPECT_EQ(tracker.Current(10), 25);  // min(50, 30) - 5
  tracker.Observe(0, 80, 150);
  EXPECT_EQ(tracker.Current(150), 75);  // partition 1 idle for 150 > 100: it no longer holds
  tracker.Observe(1, 40, 160);          // back, but behind: the watermark does not go back
  EXPECT_EQ(tracker.Current(160), 75);
}

TEST(WatermarkTrackerTest, AnExpectedPartitionHoldsTheWatermarkUntilItsFirstEventOrIdleness) {
  // Reading a backlog, partition 0's events come first, far ahead of partition 1's: the
  // watermark must wait for partition 1, or all its events would be late.
  WatermarkTracker tracker(Duration{5}, Duration{100});
  tracker.Expect(0, 0);
  tracker.Expect(1, 0);
  tracker.Observe(0, 1000, 10);
  EXPECT_EQ(tracker.Current(10), INT64_MIN);  // partition 1 has said nothing yet
  tracker.Observe(1, 20, 20);
  EXPECT_EQ(tracker.Current(20), 15);  // min(1000, 20) - 5
  // A partition that never delivers stops holding after the idle timeout.
  WatermarkTracker quiet(Duration{5}, Duration{100});
  quiet.Expect(0, 0);
  quiet.Expect(2, 0);
  quiet.Observe(0, 1000, 50);
  EXPECT_EQ(quiet.Current(50), INT64_MIN);
  EXPECT_EQ(quiet.Current(101), 995);
  // Every partition idle (a backlog read in less than the idle timeout): what all that delivered
  // have passed.
  WatermarkTracker drained(Duration{5}, Duration{100});
  drained.Expect(0, 0);
  drained.Expect(1, 0);
  drained.Expect(2, 0);
  drained.Observe(0, 1000, 10);
  drained.Observe(1, 600, 20);
  EXPECT_EQ(drained.Current(30), INT64_MIN);  // partition 2 may still come
  EXPECT_EQ(drained.Current(500), 595);       // all idle: min(1000, 600) - 5
}

}  // namespace
}  // namespace headwater::engine
