#include "headwater/engine/window_aggregator.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "headwater/core/byte_io.h"

namespace headwater::engine {
namespace {

constexpr char kStateMagic[8] = {'H', 'W', 'W', 'I', 'N', 'D', '0', '1'};

}  // namespace

void WindowRows::Clear() {
  keys.clear();
  ends.clear();
  for (auto& column : values) column.clear();
  for (auto& column : valid) column.clear();
}

Result<WindowAggregator> WindowAggregator::Make(std::vector<AggregateSpec> aggregates,
                                                int num_columns) {
  if (aggregates.empty()) return Status::Invalid("a window operator needs an aggregate");
  for (const AggregateSpec& spec : aggregates) {
    ARROW_RETURN_NOT_OK(HopWindow::Make(spec.size, spec.slide).status());
    if (spec.column < 0 || spec.column >= num_columns) {
      return Status::Invalid("aggregate reads column ", spec.column, " of ", num_columns);
    }
  }
  return WindowAggregator(std::move(aggregates), num_columns);
}

WindowAggregator::WindowAggregator(std::vector<AggregateSpec> aggregates, int num_columns)
    : aggregates_(std::move(aggregates)), num_columns_(num_columns) {
  grid_ = 0;
  max_reach_ = 0;
  for (size_t a = 0; a < aggregates_.size(); ++a) {
    const AggregateSpec& spec = aggregates_[a];
    grid_ = std::gcd(grid_, spec.slide.micros);
    max_reach_ = std::max(max_reach_, spec.size.micros + spec.slide.micros);
    auto group = std::find_if(groups_.begin(), groups_.end(), [&](const WindowGroup& g) {
      return g.column == spec.column && g.size == spec.size.micros && g.slide == spec.slide.micros;
    });
    if (group == groups_.end()) {
      groups_.push_back(WindowGroup{spec.column, spec.size.micros, spec.slide.micros, {}});
      group = groups_.end() - 1;
    }
    group->outputs.push_back(static_cast<int>(a));
  }
  merged_.resize(groups_.size());
}

int64_t WindowAggregator::FirstRowOf(int64_t time) const {
  int64_t first = INT64_MAX;
  for (const WindowGroup& group : groups_) {
    first = std::min(first, (FloorDivide(time, group.slide) + 1) * group.slide);
  }
  return first;
}

int32_t WindowAggregator::KeyId(std::string_view key) {
  bool inserted = false;
  const int32_t id = keys_table_.FindOrInsert(
      std::hash<std::string_view>{}(key),
      [&](int32_t id) { return keys_[static_cast<size_t>(id)] == key; }, &inserted);
  if (inserted) {
    keys_.emplace_back(key);
    states_.emplace_back();
    is_pending_.push_back(0);
  }
  return id;
}

Tile* WindowAggregator::PaneTiles(KeyState& state, int64_t pane) {
  const size_t columns = static_cast<size_t>(num_columns_);
  if (!state.panes.empty() && state.panes.back() == pane) {  // the common case: the newest pane
    return &state.tiles[state.tiles.size() - columns];
  }
  if (state.panes.empty() || state.panes.back() < pane) {
    state.panes.push_back(pane);
    state.tiles.resize(state.tiles.size() + columns);
    return &state.tiles[state.tiles.size() - columns];
  }
  auto it = std::lower_bound(state.panes.begin(), state.panes.end(), pane);
  const size_t index = static_cast<size_t>(it - state.panes.begin());
  if (*it != pane) {
    state.panes.insert(it, pane);
    state.tiles.insert(state.tiles.begin() + static_cast<ptrdiff_t>(index * columns), columns,
                       Tile{});
  }
  return &state.tiles[index * columns];
}

void WindowAggregator::Consume(const EventBatch& batch, std::vector<int64_t>* late) {
  int64_t horizon = finalized_until_;
  for (int64_t i = 0; i < batch.size; ++i) {
    const int64_t time = batch.times[i];
    if (event_watermark_ && max_event_time_ != INT64_MIN) {
      const int64_t watermark = max_event_time_ - delay_ - lateness_;
      horizon = std::max(horizon, FloorDivide(watermark, grid_) * grid_);
    }
    const int64_t first_row = FirstRowOf(time);
    if (horizon != INT64_MIN && first_row <= horizon) {
      late->push_back(i);
      continue;
    }
    max_event_time_ = std::max(max_event_time_, time);
    const int32_t id = KeyId((*batch.keys)[static_cast<size_t>(i)]);
    KeyState& state = states_[static_cast<size_t>(id)];
    Tile* tiles = PaneTiles(state, FloorDivide(time, grid_));
    const int64_t sequence = sequence_++;
    for (int c = 0; c < num_columns_; ++c) {
      if (batch.valid[c] == nullptr || batch.valid[c][i]) {
        tiles[c].Add(batch.values[c][i], time, sequence);
      }
    }
    state.next_row = std::min(state.next_row, first_row);
    if (!is_pending_[static_cast<size_t>(id)]) {
      is_pending_[static_cast<size_t>(id)] = 1;
      pending_.push_back(id);
    }
  }
}

bool WindowAggregator::ConsumeTiles(std::string_view key, int64_t pane, const Tile* tiles,
                                    int64_t max_time) {
  // Slides are multiples of the grid: every event of the pane has the pane start's first row.
  const int64_t first_row = FirstRowOf(pane * grid_);
  int64_t horizon = finalized_until_;
  if (event_watermark_ && max_event_time_ != INT64_MIN) {
    horizon = std::max(horizon, FloorDivide(max_event_time_ - delay_ - lateness_, grid_) * grid_);
  }
  if (horizon != INT64_MIN && first_row <= horizon) return false;
  max_event_time_ = std::max(max_event_time_, max_time);
  const int32_t id = KeyId(key);
  KeyState& state = states_[static_cast<size_t>(id)];
  Tile* merged = PaneTiles(state, pane);
  for (int c = 0; c < num_columns_; ++c) merged[c].Merge(tiles[c]);
  state.next_row = std::min(state.next_row, first_row);
  if (!is_pending_[static_cast<size_t>(id)]) {
    is_pending_[static_cast<size_t>(id)] = 1;
    pending_.push_back(id);
  }
  return true;
}

void WindowAggregator::EmitKey(int32_t id, int64_t until, WindowRows* out) {
  KeyState& state = states_[static_cast<size_t>(id)];
  const size_t columns = static_cast<size_t>(num_columns_);
  int64_t row = state.next_row;
  while (row <= until) {
    bool any = false;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const WindowGroup& group = groups_[g];
      const int64_t end = FloorDivide(row, group.slide) * group.slide;
      const int64_t first = FloorDivide(end - group.size, grid_);
      const int64_t last = FloorDivide(end, grid_) - 1;
      Tile merged;
      int64_t from = first;
      if (state.premerged_row == row) {  // the final panes, merged ahead (Premerge)
        merged = state.premerged[g];
        from = std::max(first, state.premerged_last + 1);
      }
      auto it = std::lower_bound(state.panes.begin(), state.panes.end(), from);
      for (; it != state.panes.end() && *it <= last; ++it) {
        merged.Merge(state.tiles[static_cast<size_t>(it - state.panes.begin()) * columns +
                                 static_cast<size_t>(group.column)]);
      }
      any |= merged.count > 0;
      merged_[g] = merged;
    }
    if ((any || !state.last_row_empty) && row >= emit_from_) {
      out->keys.push_back(id);
      out->ends.push_back(row);
      for (const WindowGroup& group : groups_) {
        const Tile& merged = merged_[static_cast<size_t>(&group - groups_.data())];
        for (int a : group.outputs) {
          auto value = merged.Result(aggregates_[static_cast<size_t>(a)].function);
          out->values[static_cast<size_t>(a)].push_back(value.value_or(0));
          out->valid[static_cast<size_t>(a)].push_back(value.has_value());
        }
      }
    }
    state.last_row_empty = !any;
    if (any) {
      row += grid_;
      continue;
    }
    // Every window is empty here: skip to the first row that can read a pane at or after the
    // oldest one any later window reaches.
    auto next = std::lower_bound(state.panes.begin(), state.panes.end(),
                                 FloorDivide(row - max_reach_, grid_));
    if (next == state.panes.end()) {
      row = INT64_MAX;
      break;
    }
    row = std::max(row + grid_, FirstRowOf(*next * grid_));
  }
  state.next_row = row;
  // Panes no row after `until` reads.
  const int64_t oldest = FloorDivide(until + grid_ - max_reach_, grid_);
  auto keep = std::lower_bound(state.panes.begin(), state.panes.end(), oldest);
  const auto drop = keep - state.panes.begin();
  if (drop > 0) {
    state.panes.erase(state.panes.begin(), keep);
    state.tiles.erase(state.tiles.begin(),
                      state.tiles.begin() + drop * static_cast<ptrdiff_t>(columns));
  }
}

void WindowAggregator::FinalizeUntil(int64_t until, WindowRows* out) {
  out->values.resize(aggregates_.size());
  out->valid.resize(aggregates_.size());
  if (until == INT64_MIN) return;
  until = FloorDivide(until, grid_) * grid_;
  if (until <= finalized_until_) return;
  size_t kept = 0;
  for (int32_t id : pending_) {
    EmitKey(id, until, out);
    if (states_[static_cast<size_t>(id)].next_row != INT64_MAX) {
      pending_[kept++] = id;
    } else {
      is_pending_[static_cast<size_t>(id)] = 0;
    }
  }
  pending_.resize(kept);
  finalized_until_ = until;
}

void WindowAggregator::Premerge() {
  if (finalized_until_ == INT64_MIN) return;
  // No event changes a pane ending at or before finalized_until_ any more: it would be late.
  const int64_t final_pane = FloorDivide(finalized_until_, grid_) - 1;
  const size_t columns = static_cast<size_t>(num_columns_);
  for (int32_t id : pending_) {
    KeyState& state = states_[static_cast<size_t>(id)];
    const int64_t row = state.next_row;
    if (state.premerged_row == row && state.premerged_last == final_pane) continue;
    state.premerged.resize(groups_.size());
    for (size_t g = 0; g < groups_.size(); ++g) {
      const WindowGroup& group = groups_[g];
      const int64_t end = FloorDivide(row, group.slide) * group.slide;
      const int64_t first = FloorDivide(end - group.size, grid_);
      const int64_t last = std::min(FloorDivide(end, grid_) - 1, final_pane);
      Tile merged;
      auto it = std::lower_bound(state.panes.begin(), state.panes.end(), first);
      for (; it != state.panes.end() && *it <= last; ++it) {
        merged.Merge(state.tiles[static_cast<size_t>(it - state.panes.begin()) * columns +
                                 static_cast<size_t>(group.column)]);
      }
      state.premerged[g] = merged;
    }
    state.premerged_row = row;
    state.premerged_last = final_pane;
  }
}

std::string WindowAggregator::Save() const {
  std::string out(kStateMagic, sizeof(kStateMagic));
  PutFixed(&out, static_cast<int64_t>(aggregates_.size()));
  for (const AggregateSpec& spec : aggregates_) {
    PutFixed(&out, static_cast<int64_t>(spec.column));
    PutFixed(&out, static_cast<int64_t>(spec.function));
    PutFixed(&out, spec.size.micros);
    PutFixed(&out, spec.slide.micros);
  }
  PutFixed(&out, finalized_until_);
  PutFixed(&out, emit_from_);
  PutFixed(&out, max_event_time_);
  PutFixed(&out, sequence_);
  PutFixed(&out, static_cast<int64_t>(keys_.size()));
  for (size_t id = 0; id < keys_.size(); ++id) {
    const KeyState& state = states_[id];
    PutBytes(&out, keys_[id]);
    PutFixed(&out, state.next_row);
    PutFixed(&out, static_cast<uint8_t>(state.last_row_empty));
    PutFixed(&out, static_cast<uint32_t>(state.panes.size()));
    for (int64_t pane : state.panes) PutFixed(&out, pane);
    for (const Tile& tile : state.tiles) PutFixed(&out, tile);
  }
  PutFixed(&out, static_cast<int64_t>(pending_.size()));
  for (int32_t id : pending_) PutFixed(&out, id);
  return out;
}

Status WindowAggregator::Restore(std::string_view bytes) {
  auto corrupt = [] { return Status::Invalid("window state is damaged or truncated"); };
  if (bytes.substr(0, sizeof(kStateMagic)) != std::string_view(kStateMagic, sizeof(kStateMagic))) {
    return Status::Invalid("not a window state (bad magic)");
  }
  ByteReader in(bytes.substr(sizeof(kStateMagic)));
  int64_t count = 0;
  if (!in.Get(&count) || count != static_cast<int64_t>(aggregates_.size())) {
    return Status::Invalid("the window state was saved for other aggregations");
  }
  for (const AggregateSpec& spec : aggregates_) {
    int64_t column, function, size, slide;
    if (!in.Get(&column) || !in.Get(&function) || !in.Get(&size) || !in.Get(&slide)) {
      return corrupt();
    }
    if (column != spec.column || function != static_cast<int64_t>(spec.function) ||
        size != spec.size.micros || slide != spec.slide.micros) {
      return Status::Invalid("the window state was saved for other aggregations");
    }
  }
  WindowAggregator restored(aggregates_, num_columns_);
  restored.event_watermark_ = event_watermark_;
  restored.delay_ = delay_;
  restored.lateness_ = lateness_;
  int64_t num_keys = 0;
  if (!in.Get(&restored.finalized_until_) || !in.Get(&restored.emit_from_) ||
      !in.Get(&restored.max_event_time_) || !in.Get(&restored.sequence_) || !in.Get(&num_keys) ||
      num_keys < 0) {
    return corrupt();
  }
  for (int64_t id = 0; id < num_keys; ++id) {
    uint32_t panes = 0;
    std::string_view key;
    uint8_t last_row_empty = 0;
    if (!in.GetBytes(&key)) return corrupt();
    if (restored.KeyId(key) != id) return corrupt();
    KeyState& state = restored.states_.back();
    if (!in.Get(&state.next_row) || !in.Get(&last_row_empty) || !in.Get(&panes)) return corrupt();
    state.last_row_empty = last_row_empty != 0;
    // Each pane takes its number and its tiles: a count the bytes cannot hold is damage (the
    // fuzzer's 2^31 panes would allocate 16 GiB).
    if (panes >
        in.remaining() / (sizeof(int64_t) + sizeof(Tile) * static_cast<size_t>(num_columns_))) {
      return corrupt();
    }
    state.panes.resize(panes);
    state.tiles.resize(static_cast<size_t>(panes) * static_cast<size_t>(num_columns_));
    for (int64_t& pane : state.panes) {
      if (!in.Get(&pane)) return corrupt();
    }
    for (Tile& tile : state.tiles) {
      if (!in.Get(&tile)) return corrupt();
    }
  }
  int64_t pending = 0;
  if (!in.Get(&pending) || pending < 0 || pending > num_keys) return corrupt();
  for (int64_t i = 0; i < pending; ++i) {
    int32_t id = 0;
    if (!in.Get(&id) || id < 0 || id >= num_keys) return corrupt();
    restored.pending_.push_back(id);
    restored.is_pending_[static_cast<size_t>(id)] = 1;
  }
  if (!in.done()) return corrupt();
  *this = std::move(restored);
  return Status::OK();
}

void WatermarkTracker::Observe(int32_t partition, int64_t max_event_time, int64_t now) {
  Partition& state = partitions_[partition];
  state.max_event_time = std::max(state.max_event_time, max_event_time);
  state.last_seen = now;
}

std::vector<std::pair<int32_t, int64_t>> WatermarkTracker::PartitionTimes() const {
  std::vector<std::pair<int32_t, int64_t>> out;
  for (const auto& [partition, state] : partitions_) {
    if (state.max_event_time != INT64_MIN) out.emplace_back(partition, state.max_event_time);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void WatermarkTracker::Restore(int32_t partition, int64_t max_event_time, int64_t now) {
  Partition& state = partitions_[partition];
  state.max_event_time = std::max(state.max_event_time, max_event_time);
  state.last_seen = now;
}

void WatermarkTracker::Expect(int32_t partition, int64_t now) {
  auto [state, added] = partitions_.try_emplace(partition);
  if (added || state->second.max_event_time == INT64_MIN) state->second.last_seen = now;
}

int64_t WatermarkTracker::Current(int64_t now) {
  int64_t active = INT64_MAX;  // over the partitions that hold it back
  int64_t every = INT64_MAX;   // over every partition that delivered: when all are idle
  for (const auto& entry : partitions_) {
    const Partition& partition = entry.second;
    const bool idle = now - partition.last_seen > idle_timeout_;  // idle: does not hold it back
    if (partition.max_event_time == INT64_MIN) {
      if (!idle) return reached_;  // expected, nothing delivered yet: held where it is
      continue;
    }
    every = std::min(every, partition.max_event_time - delay_);
    if (!idle) active = std::min(active, partition.max_event_time - delay_);
  }
  const int64_t watermark = active != INT64_MAX ? active : every;
  if (watermark != INT64_MAX) reached_ = std::max(reached_, watermark);
  return reached_;
}

}  // namespace headwater::engine
