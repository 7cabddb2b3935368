#pragma once
// Windowed aggregation, Flink HOP semantics, as mergeable partial states ("tiles").
//
// A window is [end - size, end) on event time, with ends on multiples of `slide` from the Unix
// epoch (slide = size: tumbling). `size` must be a multiple of `slide`, so every window is the
// union of size / slide consecutive panes [k * slide, (k + 1) * slide). Each pane's events are
// folded into a Tile; a window's value is the merge of its panes' tiles — never a running total
// with subtraction, so late panes and out-of-order events cannot drift it.
//
// A windowed feature's value at time t is the aggregate of the window ending at
// floor(t / slide) * slide: an event at exactly t is not yet counted. A window without events is
// empty: count and sum 0, min/max/mean/last/stddev null. Backfill and live streams use these
// same tiles, so their values cannot differ.

#include <cstdint>
#include <optional>
#include <string_view>

#include "headwater/core/status.h"
#include "headwater/core/time.h"

namespace headwater::engine {

/// floor(a / b) for b > 0, also for negative a (times before 1970).
inline int64_t FloorDivide(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/// The aggregation functions of stream feature views.
enum class Aggregation { kCount, kSum, kMin, kMax, kMean, kLast, kStddev };

/// Parses "count", "sum", "min", "max", "mean" (or "avg"), "last", "stddev" (or "std").
Result<Aggregation> ParseAggregation(std::string_view name);
std::string_view AggregationName(Aggregation aggregation);

/// The partial state of one pane (or, merged, one window) for every function at once: count,
/// sum, min, max, the last value by event time, and (count, mean, M2) for the variance, merged
/// with Chan et al.'s parallel formula. Null input values are not counted.
struct Tile {
  int64_t count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  double mean = 0;
  double m2 = 0;  // sum of squared deviations from the mean
  int64_t last_time = INT64_MIN;
  int64_t last_sequence = INT64_MIN;  // arrival order, breaking ties on last_time
  double last = 0;

  /// Folds in one value observed at `event_time`; `sequence` orders events with equal times
  /// (the later arrival wins `last`).
  void Add(double value, int64_t event_time, int64_t sequence);
  /// Folds in another tile (associative and commutative).
  void Merge(const Tile& other);
  /// The aggregate, or nullopt where an empty window reads null. Sample standard deviation
  /// (n - 1), null below two values.
  std::optional<double> Result(Aggregation aggregation) const;
};

/// HOP window geometry.
class HopWindow {
 public:
  /// `size` and `slide` in microseconds; size must be a positive multiple of slide.
  static Result<HopWindow> Make(Duration size, Duration slide);

  /// The pane an event at `event_time` falls in: floor(event_time / slide).
  int64_t PaneOf(int64_t event_time) const;
  /// The end of the window whose value is current at time t: floor(t / slide) * slide.
  int64_t WindowEndAt(int64_t t) const;
  /// Panes of the window ending at `end` (a multiple of slide): [first, last], inclusive.
  int64_t FirstPane(int64_t end) const { return PaneOf(end) - panes_per_window_; }
  int64_t LastPane(int64_t end) const { return PaneOf(end) - 1; }
  /// size / slide: an event in pane q is in the n windows ending at (q + 1) * slide through
  /// (q + n) * slide.
  int64_t panes_per_window() const { return panes_per_window_; }
  Duration size() const { return Duration{size_}; }
  Duration slide() const { return Duration{slide_}; }

 private:
  HopWindow(int64_t size, int64_t slide)
      : size_(size), slide_(slide), panes_per_window_(size / slide) {}
  int64_t size_;
  int64_t slide_;
  int64_t panes_per_window_;
};

}  // namespace headwater::engine
