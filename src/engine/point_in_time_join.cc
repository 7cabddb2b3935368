#include "headwater/engine/point_in_time_join.h"

#include <arrow/buffer.h>

#include <algorithm>
#include <numeric>

#include "headwater/engine/parallel_for.h"

namespace headwater::engine {

namespace {

// Sorted positions in ranges of 4096: a range's times and candidates (32 bytes a position) are
// 128 KiB, within L2.
constexpr int kRangeShift = 12;
int64_t RangeOf(int64_t position) { return position >> kRangeShift; }

}  // namespace

Result<std::unique_ptr<PointInTimeJoin>> PointInTimeJoin::Make(
    std::vector<KeyColumn> entity_keys, std::span<const int64_t> entity_times, Duration ttl,
    int threads) {
  const int64_t num_rows = static_cast<int64_t>(entity_times.size());
  std::unique_ptr<PointInTimeJoin> join(new PointInTimeJoin());
  join->ttl_ = ttl;
  ARROW_ASSIGN_OR_RAISE(join->index_, KeyIndex::Build(std::move(entity_keys), num_rows, threads));
  const std::vector<int32_t>& ids = join->index_.row_ids();
  const int32_t num_keys = join->index_.size();
  join->threads_ = std::max(threads, 1);

  // Counting sort by key id (rows with a null key part are left out), on one range of rows per
  // thread: each range counts its rows per key, and writes them from its own offset within each
  // key's positions, so a key's rows stay in input order. Then each key's rows are sorted by time.
  const int64_t num_chunks = num_rows >= (1 << 16) ? std::min(join->threads_, 4) : 1;
  auto chunk_begin = [&](int64_t chunk) { return num_rows * chunk / num_chunks; };
  std::vector<std::vector<int64_t>> next(num_chunks);  // per range: counts, then write offsets
  ARROW_RETURN_NOT_OK(ParallelFor(num_chunks, threads, [&](int64_t chunk, int) -> Status {
    next[chunk].assign(num_keys, 0);
    for (int64_t row = chunk_begin(chunk); row < chunk_begin(chunk + 1); ++row) {
      if (ids[row] >= 0) ++next[chunk][ids[row]];
    }
    return Status::OK();
  }));
  join->key_begin_.assign(num_keys + 1, 0);
  for (int32_t key = 0; key < num_keys; ++key) {
    int64_t at = join->key_begin_[key];
    for (auto& offsets : next) {
      const int64_t count = offsets[key];
      offsets[key] = at;
      at += count;
    }
    join->key_begin_[key + 1] = at;
  }
  const int64_t sorted_rows = join->key_begin_[num_keys];
  // Each row's time goes along with it, so the sort below reads its keys' rows in sequence
  // instead of a random entity_times[row] each.
  join->order_.resize(sorted_rows);
  join->sorted_times_.resize(sorted_rows);
  ARROW_RETURN_NOT_OK(ParallelFor(num_chunks, threads, [&](int64_t chunk, int) -> Status {
    int64_t* offsets = next[chunk].data();
    for (int64_t row = chunk_begin(chunk); row < chunk_begin(chunk + 1); ++row) {
      if (ids[row] < 0) continue;
      const int64_t position = offsets[ids[row]]++;
      join->order_[position] = row;
      join->sorted_times_[position] = entity_times[row];
    }
    return Status::OK();
  }));
  next.clear();
  // Keys in blocks of about equal rows, for the sort here and the merge in Finish.
  constexpr int64_t kBlockRows = 1 << 18;
  std::vector<int32_t>& block_begin = join->block_begin_;
  block_begin.assign(1, 0);
  for (int32_t key = 0; key < num_keys; ++key) {
    if (join->key_begin_[key + 1] - join->key_begin_[block_begin.back()] >= kBlockRows) {
      block_begin.push_back(key + 1);
    }
  }
  if (block_begin.back() != num_keys) block_begin.push_back(num_keys);
  // Each key's rows are sorted as (time, row) pairs copied next to each other: comparing rows
  // through entity_times[row] is a cache miss per comparison at 10M rows, and stable_sort
  // allocates a buffer per key. Row order breaks ties, as a stable sort would. Each block also
  // sets up its part of the candidate table (its first touch of 24 bytes a position, on every
  // thread at once) and finds its earliest and latest time.
  const int64_t num_blocks = static_cast<int64_t>(block_begin.size()) - 1;
  ARROW_ASSIGN_OR_RAISE(join->best_,
                        arrow::AllocateBuffer(sorted_rows * int64_t{sizeof(JoinCandidate)}));
  auto* best = reinterpret_cast<JoinCandidate*>(join->best_->mutable_data());
  std::vector<std::pair<int64_t, int64_t>> block_times(num_blocks, {INT64_MAX, INT64_MIN});
  ARROW_RETURN_NOT_OK(ParallelFor(num_blocks, threads, [&](int64_t block, int) -> Status {
    std::vector<std::pair<int64_t, int64_t>> rows;
    for (int32_t key = block_begin[block]; key < block_begin[block + 1]; ++key) {
      const int64_t begin = join->key_begin_[key];
      const int64_t end = join->key_begin_[key + 1];
      rows.clear();
      for (int64_t p = begin; p < end; ++p) {
        rows.emplace_back(join->sorted_times_[p], join->order_[p]);
      }
      std::sort(rows.begin(), rows.end());
      for (int64_t p = begin; p < end; ++p) {
        join->sorted_times_[p] = rows[p - begin].first;
        join->order_[p] = rows[p - begin].second;
      }
      if (begin < end) {
        auto& [earliest, latest] = block_times[block];
        earliest = std::min(earliest, rows.front().first);
        latest = std::max(latest, rows.back().first);
      }
    }
    std::uninitialized_fill(best + join->key_begin_[block_begin[block]],
                            best + join->key_begin_[block_begin[block + 1]], JoinCandidate{});
    return Status::OK();
  }));
  for (const auto& [earliest, latest] : block_times) {
    join->min_time_ = std::min(join->min_time_, earliest);
    join->max_time_ = std::max(join->max_time_, latest);
  }
  join->range_locks_ = std::vector<std::mutex>(static_cast<size_t>(RangeOf(sorted_rows)) + 1);
  return join;
}

void PointInTimeJoin::Consume(JoinScratch* scratch, const std::vector<KeyColumn>& keys,
                              const int64_t* event_times, const uint8_t* event_validity,
                              const int64_t* created_times, int64_t num_rows,
                              int64_t first_row_number) {
  HW_CHECK_LE(num_rows, INT32_MAX);  // rows of one batch are addressed by int32
  scratch->ids.resize(num_rows);
  index_.Probe(keys, num_rows, scratch->ids.data(), &scratch->hashes);
  const int32_t* ids = scratch->ids.data();

  // Feature rows arrive in random key order, so each one would touch entity state (times and
  // candidates, 32 bytes a position) at a random place: a cache miss or two per row. Grouping
  // the batch's rows by ranges of sorted positions first (a counting sort on the range of the
  // key's first position, carrying the row's values along so the second loop reads them in
  // order) keeps each group's accesses within an L2-sized region. The range is also the unit of
  // locking: its lock covers every position of the keys that start in it.
  const int64_t num_ranges = RangeOf(static_cast<int64_t>(sorted_times_.size())) + 1;
  const int64_t* key_begin = key_begin_.data();
  std::vector<int64_t> range_begin(num_ranges + 1, 0);
  int64_t matched = 0;
  for (int64_t row = 0; row < num_rows; ++row) {
    if (ids[row] < 0) continue;
    if (event_validity != nullptr && !((event_validity[row >> 3] >> (row & 7)) & 1)) continue;
    ++range_begin[RangeOf(key_begin[ids[row]]) + 1];
    ++matched;
  }
  std::partial_sum(range_begin.begin(), range_begin.end(), range_begin.begin());
  scratch->pending.resize(matched);
  PendingRow* pending = scratch->pending.data();
  std::vector<int64_t> next(range_begin.begin(), range_begin.end() - 1);
  for (int64_t row = 0; row < num_rows; ++row) {
    const int32_t id = ids[row];
    if (id < 0) continue;
    if (event_validity != nullptr && !((event_validity[row >> 3] >> (row & 7)) & 1)) continue;
    pending[next[RangeOf(key_begin[id])]++] =
        PendingRow{id, static_cast<int32_t>(row), event_times[row],
                   created_times ? created_times[row] : INT64_MIN};
  }

  const int64_t* times = sorted_times_.data();
  auto* best = reinterpret_cast<JoinCandidate*>(best_->mutable_data());
  const int64_t ttl = ttl_.micros;
  for (int64_t range = 0; range < num_ranges; ++range) {
    if (range_begin[range] == range_begin[range + 1]) continue;
    std::lock_guard lock(range_locks_[static_cast<size_t>(range)]);
    for (int64_t k = range_begin[range]; k < range_begin[range + 1]; ++k) {
      const PendingRow& row = pending[k];
      // First position of this key whose entity time is >= the row's.
      const int64_t* begin = times + key_begin[row.id];
      const int64_t* end = times + key_begin[row.id + 1];
      const int64_t* at = std::lower_bound(begin, end, row.event_time);
      if (at == end) continue;                              // every entity row is earlier
      if (ttl > 0 && *at - row.event_time > ttl) continue;  // too old for all it could serve
      JoinCandidate candidate{row.event_time, row.created_time, first_row_number + row.row};
      JoinCandidate& slot = best[at - times];
      if (slot < candidate) slot = candidate;
    }
  }
  scratch->rows_consumed += num_rows;
  scratch->rows_matched_key += matched;
}

Result<std::vector<int64_t>> PointInTimeJoin::Finish() const {
  std::vector<int64_t> result(index_.row_ids().size(), -1);
  // Per block of keys, on the join's threads: a running maximum along each key's positions.
  const int64_t ttl = ttl_.micros;
  const auto* best = reinterpret_cast<const JoinCandidate*>(best_->data());
  ARROW_RETURN_NOT_OK(ParallelFor(
      static_cast<int64_t>(block_begin_.size()) - 1, threads_, [&](int64_t block, int) -> Status {
        for (int32_t key = block_begin_[block]; key < block_begin_[block + 1]; ++key) {
          JoinCandidate running;
          for (int64_t position = key_begin_[key]; position < key_begin_[key + 1]; ++position) {
            if (running < best[position]) running = best[position];
            if (running.row_number < 0) continue;
            if (ttl > 0 && running.event_time < sorted_times_[position] - ttl) continue;
            result[order_[position]] = running.row_number;
          }
        }
        return Status::OK();
      }));
  return result;
}

}  // namespace headwater::engine
