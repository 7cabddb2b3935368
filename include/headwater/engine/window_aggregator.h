#pragma once
// The windowed-aggregation operator: events in, finalised window rows out. The same object runs
// a live stream (events arrive in batches, the watermark finalises rows) and a backfill (all
// events, then FinalizeUntil), so the two cannot compute different values.
//
// Rows. A stream view's value at time t is, per aggregate, the window ending at
// floor(t / slide) * slide. The operator emits one row per key at each multiple E of the
// greatest common divisor of the slides ("the grid") at which some window is non-empty, holding
// every aggregate's value at E — plus one row of empty values at the first grid point where all
// windows become empty, so a point-in-time lookup never reads a stale window. A key with no
// events has no rows.
//
// State. Per key (encoded entity key -> dense id), the tiles of its live panes: one Tile per
// (pane of one grid step, input column). A window's value merges its panes' tiles; aggregates
// over the same column and window merge once. Panes no future row can reach are dropped.
//
// Time. Nothing reads a clock. FinalizeUntil(F) emits every row with E <= F (the caller passes
// watermark - allowed_lateness); from then on an event that would change such a row — one whose
// first row E_min(e) = min over aggregates of (floor(e / slide) + 1) * slide is <= F — is late:
// Consume reports it and leaves the state alone.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "headwater/core/entity_key.h"
#include "headwater/engine/dense_id_table.h"
#include "headwater/engine/window_aggregation.h"

namespace headwater::engine {

/// One output of the operator: `function` over input column `column` in HOP windows.
struct AggregateSpec {
  int column = 0;
  Aggregation function = Aggregation::kCount;
  Duration size;
  Duration slide;
};

/// Events of one batch, column-wise. `valid[c]` may be null (all values present); a null value
/// is not counted, but its event still counts toward lateness.
struct EventBatch {
  const ByteRows* keys = nullptr;  // encoded entity keys
  const int64_t* times = nullptr;  // event time, epoch microseconds
  std::vector<const double*> values;
  std::vector<const uint8_t*> valid;
  int64_t size = 0;
};

/// Finalised rows, column-wise: row i is key `keys[i]` at time `ends[i]`; aggregate a's value is
/// values[a][i] when valid[a][i] (counts are whole numbers held as doubles).
struct WindowRows {
  std::vector<int32_t> keys;
  std::vector<int64_t> ends;
  std::vector<std::vector<double>> values;
  std::vector<std::vector<uint8_t>> valid;
  size_t size() const { return keys.size(); }
  void Clear();
};

class WindowAggregator {
 public:
  /// `num_columns` input columns; every spec's size must be a positive multiple of its slide.
  static Result<WindowAggregator> Make(std::vector<AggregateSpec> aggregates, int num_columns);

  /// Folds a batch in. Indices of late events are appended to `late` (their values are not
  /// merged).
  void Consume(const EventBatch& batch, std::vector<int64_t>* late);

  /// Folds in pre-aggregated tiles instead of events (tiles computed elsewhere, e.g. by Flink:
  /// docs/design/flink_stream_engine.md): `tiles` holds one Tile per input column of key `key`'s
  /// pane `pane` — the events with pane * grid() <= time < (pane + 1) * grid() — whose greatest
  /// event time is `max_time`. Tiles' last_sequence must order arrivals as the events' would.
  /// Returns false, merging nothing, when the pane's first row is already final (late).
  bool ConsumeTiles(std::string_view key, int64_t pane, const Tile* tiles, int64_t max_time);

  /// For a source read in one order (one partition): judge each event against the watermark of
  /// the events before it (their greatest time - `delay`), not only against rows already
  /// emitted — so which events are late does not depend on how the input was cut into batches,
  /// and a replay after a crash decides exactly as the first run did.
  void set_event_watermark(Duration delay, Duration allowed_lateness, bool on = true) {
    event_watermark_ = on;
    delay_ = delay.micros;
    lateness_ = allowed_lateness.micros;
  }
  /// The greatest event time consumed (INT64_MIN before any).
  int64_t max_event_time() const { return max_event_time_; }

  /// Emits every row with time <= `until` not emitted yet (rounded down to the grid) and marks
  /// it final. Never moves backwards.
  void FinalizeUntil(int64_t until, WindowRows* out);

  /// Merges ahead, for each key's next row, the panes that are already final, so that the
  /// FinalizeUntil emitting that row merges only the panes newer than them (for a 60-minute
  /// window sliding by a minute: one merge instead of 60). Optional: a stream calls it after
  /// publishing a window end, when nobody waits for the work; without it, or when a row's panes
  /// changed since, the row merges all its panes. The same panes merge in the same order either
  /// way, so the values are identical to the last bit. Costs one Tile per key and window.
  void Premerge();

  /// Rows before `time` are computed but not emitted (a backfill from `time` whose earlier rows
  /// a previous run wrote).
  void set_emit_from(int64_t time) { emit_from_ = time; }

  /// The time up to which rows are final (INT64_MIN before the first FinalizeUntil).
  int64_t finalized_until() const { return finalized_until_; }
  /// The first grid point an event at `time` changes.
  int64_t FirstRowOf(int64_t time) const;
  /// The encoded entity key of a dense key id.
  std::string_view key(int32_t id) const { return keys_[id]; }
  int64_t num_keys() const { return static_cast<int64_t>(keys_.size()); }
  int64_t grid() const { return grid_; }

  /// The whole state, as bytes for a checkpoint, and back. Restore checks that the bytes were
  /// saved by an operator of the same aggregates.
  std::string Save() const;
  Status Restore(std::string_view bytes);

 private:
  // Aggregates over one column and one window share their pane merges.
  struct WindowGroup {
    int column;
    int64_t size;
    int64_t slide;
    std::vector<int> outputs;  // indices into aggregates_
  };
  struct KeyState {
    int64_t next_row = INT64_MAX;  // the first grid point not yet emitted that may need a row
    bool last_row_empty = true;    // the last row (emitted or skipped) had only empty windows
    std::vector<int64_t> panes;    // pane numbers, ascending
    std::vector<Tile> tiles;       // panes.size() * num_columns_
    // Premerge: per group, the merge of row `premerged_row`'s panes up to `premerged_last`.
    int64_t premerged_row = INT64_MIN;
    int64_t premerged_last = INT64_MIN;
    std::vector<Tile> premerged;
  };

  WindowAggregator(std::vector<AggregateSpec> aggregates, int num_columns);
  int32_t KeyId(std::string_view key);
  Tile* PaneTiles(KeyState& state, int64_t pane);
  void EmitKey(int32_t id, int64_t until, WindowRows* out);

  std::vector<AggregateSpec> aggregates_;
  std::vector<WindowGroup> groups_;
  int num_columns_;
  int64_t grid_;
  int64_t max_reach_;  // the longest size + slide: how far back a future row can read
  int64_t finalized_until_ = INT64_MIN;
  int64_t emit_from_ = INT64_MIN;
  bool event_watermark_ = false;
  int64_t delay_ = 0;
  int64_t lateness_ = 0;
  int64_t max_event_time_ = INT64_MIN;
  int64_t sequence_ = 0;     // arrival order, for `last` ties
  DenseIdTable keys_table_;  // encoded key -> id, indexing keys_ and states_
  std::vector<std::string> keys_;
  std::vector<KeyState> states_;
  std::vector<int32_t> pending_;  // keys with next_row < INT64_MAX, unordered, unique
  std::vector<uint8_t> is_pending_;
  std::vector<Tile> merged_;  // scratch: one tile per group
};

/// The watermark of a source: per partition, the greatest event time seen minus the delay; the
/// source's watermark is the minimum over partitions that are not idle (no event for
/// `idle_timeout` of processing time, given by the caller), and never moves backwards.
class WatermarkTracker {
 public:
  WatermarkTracker(Duration delay, Duration idle_timeout)
      : delay_(delay.micros), idle_timeout_(idle_timeout.micros) {}
  /// Partition `partition` delivered events up to `max_event_time` at processing time `now`.
  void Observe(int32_t partition, int64_t max_event_time, int64_t now);
  /// Partition `partition` is read from `now` on: until it delivers an event it holds the
  /// watermark where it is, for at most the idle timeout (as Flink's sources hold it for a split
  /// with no watermark yet). Without this, reading a backlog partition by partition let the first
  /// partition read move the watermark past all the others' events, which then were late.
  void Expect(int32_t partition, int64_t now);
  /// The watermark at processing time `now` (INT64_MIN before any event): the minimum over the
  /// partitions not idle of their greatest event time less the delay; when every partition is
  /// idle, the minimum over all that delivered (what every one of them has passed).
  int64_t Current(int64_t now);
  /// For checkpoints: each partition's greatest event time (those that delivered), restored with
  /// Restore as if just seen at `now` — so after a restart whose partitions deliver nothing new,
  /// the watermark still reaches what an uninterrupted run reaches once they go idle.
  std::vector<std::pair<int32_t, int64_t>> PartitionTimes() const;
  void Restore(int32_t partition, int64_t max_event_time, int64_t now);
  /// For checkpoints: the watermark reached, which restarts never undercut.
  int64_t reached() const { return reached_; }
  void set_reached(int64_t watermark) { reached_ = watermark; }

 private:
  struct Partition {
    int64_t max_event_time = INT64_MIN;
    int64_t last_seen = 0;
  };
  int64_t delay_;
  int64_t idle_timeout_;
  std::unordered_map<int32_t, Partition> partitions_;
  int64_t reached_ = INT64_MIN;
};

}  // namespace headwater::engine
