#include "headwater/engine/window_aggregation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

namespace headwater::engine {
namespace {

constexpr Aggregation kAll[] = {Aggregation::kCount, Aggregation::kSum,  Aggregation::kMin,
                                Aggregation::kMax,   Aggregation::kMean, Aggregation::kLast,
                                Aggregation::kStddev};

struct Event {
  int64_t time;
  double value;
  int64_t sequence;
};

// The definition, computed from raw events: the window [end - size, end).
std::optional<double> BruteForce(const std::vector<Event>& events, int64_t end, int64_t size,
                                 Aggregation aggregation) {
  std::vector<const Event*> in;
  for (const Event& e : events) {
    if (e.time >= end - size && e.time < end) in.push_back(&e);
  }
  if (aggregation == Aggregation::kCount) return static_cast<double>(in.size());
  double sum = 0;
  for (const Event* e : in) sum += e->value;
  if (aggregation == Aggregation::kSum) return sum;
  if (in.empty()) return std::nullopt;
  const Event* last = in[0];
  double min = in[0]->value, max = in[0]->value;
  for (const Event* e : in) {
    min = std::min(min, e->value);
    max = std::max(max, e->value);
    if (e->time > last->time || (e->time == last->time && e->sequence > last->sequence)) last = e;
  }
  const double mean = sum / in.size();
  switch (aggregation) {
    case Aggregation::kMin:
      return min;
    case Aggregation::kMax:
      return max;
    case Aggregation::kMean:
      return mean;
    case Aggregation::kLast:
      return last->value;
    case Aggregation::kStddev: {
      if (in.size() < 2) return std::nullopt;
      double squares = 0;
      for (const Event* e : in) squares += (e->value - mean) * (e->value - mean);
      return std::sqrt(squares / (in.size() - 1));
    }
    default:
      return std::nullopt;
  }
}

TEST(HopWindowTest, GeometryFollowsFlink) {
  auto window = HopWindow::Make(Duration{10}, Duration{5}).ValueOrDie();
  EXPECT_EQ(window.PaneOf(0), 0);
  EXPECT_EQ(window.PaneOf(4), 0);
  EXPECT_EQ(window.PaneOf(5), 1);
  EXPECT_EQ(window.PaneOf(-1), -1);  // floor, before the epoch
  EXPECT_EQ(window.WindowEndAt(14), 10);
  EXPECT_EQ(window.WindowEndAt(15), 15);  // an event at exactly t is not yet counted
  EXPECT_EQ(window.FirstPane(15), 1);
  EXPECT_EQ(window.LastPane(15), 2);
  EXPECT_FALSE(HopWindow::Make(Duration{10}, Duration{3}).ok());
  EXPECT_FALSE(HopWindow::Make(Duration{0}, Duration{0}).ok());
}

TEST(TileTest, EmptyWindowReadsZeroCountAndSumAndNullOtherwise) {
  Tile empty;
  EXPECT_EQ(empty.Result(Aggregation::kCount), 0.0);
  EXPECT_EQ(empty.Result(Aggregation::kSum), 0.0);
  for (Aggregation a : {Aggregation::kMin, Aggregation::kMax, Aggregation::kMean,
                        Aggregation::kLast, Aggregation::kStddev}) {
    EXPECT_FALSE(empty.Result(a).has_value()) << AggregationName(a);
  }
}

// Tiles merged per window equal the definition, for tumbling and hopping windows, with ties on
// event time, negative times and windows that hold nothing.
TEST(TileTest, MergedPanesMatchTheDefinitionOnRandomEvents) {
  std::mt19937_64 random(9);
  for (auto [size, slide] : {std::pair<int64_t, int64_t>{60, 60}, {60, 10}, {300, 60}, {7, 1}}) {
    auto window = HopWindow::Make(Duration{size}, Duration{slide}).ValueOrDie();
    std::vector<Event> events;
    for (int i = 0; i < 400; ++i) {
      events.push_back({static_cast<int64_t>(random() % 2000) - 500,
                        std::round(static_cast<double>(random() % 10000) - 5000) / 8, i});
    }
    std::map<int64_t, Tile> panes;
    for (const Event& e : events) panes[window.PaneOf(e.time)].Add(e.value, e.time, e.sequence);
    for (int64_t end = -600; end <= 1700; end += slide) {
      Tile merged;
      for (int64_t pane = window.FirstPane(end); pane <= window.LastPane(end); ++pane) {
        auto it = panes.find(pane);
        if (it != panes.end()) merged.Merge(it->second);
      }
      for (Aggregation a : kAll) {
        auto expected = BruteForce(events, end, size, a);
        auto got = merged.Result(a);
        ASSERT_EQ(got.has_value(), expected.has_value())
            << AggregationName(a) << " size " << size << " end " << end;
        if (expected) {
          EXPECT_NEAR(*got, *expected, 1e-9 * std::max(1.0, std::abs(*expected)))
              << AggregationName(a) << " size " << size << " end " << end;
        }
      }
    }
  }
}

TEST(TileTest, MergeIsAssociativeAndCommutative) {
  Tile a, b, c;
  a.Add(1, 10, 0);
  a.Add(4, 12, 1);
  b.Add(-2, 12, 2);
  c.Add(7, 5, 3);
  c.Add(7, 12, 4);  // latest time and latest arrival: the last value
  Tile left = a, right = c;
  left.Merge(b);
  left.Merge(c);  // (a + b) + c
  Tile bc = b;
  bc.Merge(a);
  right.Merge(bc);  // c + (b + a)
  for (Aggregation g : kAll) {
    EXPECT_NEAR(*left.Result(g), *right.Result(g), 1e-12) << AggregationName(g);
  }
  EXPECT_EQ(left.Result(Aggregation::kLast), 7.0);
  EXPECT_EQ(left.Result(Aggregation::kCount), 5.0);
}

TEST(TileTest, VarianceIsStableForLargeOffsets) {
  // Naive sum-of-squares minus square-of-sum loses everything here; the merge must not.
  Tile tile;
  for (int i = 0; i < 1000; ++i) tile.Add(1e9 + (i % 2), i, i);
  EXPECT_NEAR(*tile.Result(Aggregation::kStddev), std::sqrt(0.25 * 1000 / 999), 1e-6);
}

TEST(AggregationTest, ParsesNamesAndAliases) {
  EXPECT_EQ(*ParseAggregation("avg"), Aggregation::kMean);
  EXPECT_EQ(*ParseAggregation("std"), Aggregation::kStddev);
  EXPECT_EQ(*ParseAggregation("last"), Aggregation::kLast);
  EXPECT_FALSE(ParseAggregation("median").ok());
}

}  // namespace
}  // namespace headwater::engine
