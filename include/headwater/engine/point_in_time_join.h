#pragma once
// The point-in-time join (Feast's rule), as a streaming operator over feature-row batches.
//
// For an entity row (key k, time t) a feature view contributes the feature row with key k and
// the greatest event_timestamp <= t, ties going to the greatest created_timestamp, then to the
// row read last (the greatest row number); when the view's TTL is non-zero that row must also
// have event_timestamp >= t - ttl (both ends inclusive), otherwise nothing matches.
//
// Operator contract (batch mode): the entity rows are the build side and are held whole; feature
// rows stream through Consume() in any order, from any number of threads at once (each with its
// own JoinScratch), into one candidate table, in memory proportional to the entity rows only.
// Finish() returns, per entity row in input order, the row number of the matched feature row or
// -1. The caller then gathers feature values by row number (see offline/historical_retrieval).
//
// How: entity rows are sorted by (key id, t). A feature row (k, ts) can only ever be the answer
// for entity rows of key k at or after the first position p with t >= ts; it is recorded as a
// candidate at p when it beats the candidate already there. A running maximum over each key's
// positions then yields, for every entity row, the greatest feature row with ts <= t. A row that
// is already outside the TTL of the entity row at p is outside it for all later ones, and is
// dropped at once; the final TTL check catches the rest.

#include <arrow/buffer.h>
#include <arrow/stl_allocator.h>
#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "headwater/core/time.h"
#include "headwater/engine/key_index.h"

namespace headwater::engine {

/// The best feature row seen for one sorted entity position.
struct JoinCandidate {
  int64_t event_time = INT64_MIN;
  int64_t created_time = INT64_MIN;
  int64_t row_number = -1;  // -1: none yet

  bool operator<(const JoinCandidate& other) const {
    if (event_time != other.event_time) return event_time < other.event_time;
    if (created_time != other.created_time) return created_time < other.created_time;
    return row_number < other.row_number;
  }
};

/// A feature row on its way to the candidate table, grouped by position range.
struct PendingRow {
  int32_t id;
  int32_t row;
  int64_t event_time;
  int64_t created_time;
};

/// One thread's working space for Consume, and what it consumed.
struct JoinScratch {
  std::vector<int32_t> ids;         // scratch: probed key ids
  std::vector<uint64_t> hashes;     // scratch: key hashes
  std::vector<PendingRow> pending;  // scratch: batch rows grouped by position range
  int64_t rows_consumed = 0;
  int64_t rows_matched_key = 0;
};

class PointInTimeJoin {
 public:
  /// `entity_keys`: the view's join-key columns of the entity rows; `entity_times`: their
  /// timestamps in epoch microseconds, no nulls. `ttl` zero means no limit. The entity rows are
  /// sorted by (key, time) on `threads` threads, and Finish runs on as many.
  static Result<std::unique_ptr<PointInTimeJoin>> Make(std::vector<KeyColumn> entity_keys,
                                                       std::span<const int64_t> entity_times,
                                                       Duration ttl, int threads = 1);

  /// Feeds `num_rows` feature rows numbered first_row_number, first_row_number+1, ...
  /// `event_times` may hold nulls only where `event_valid` is 0 (those rows are skipped);
  /// `created_times` may be null (all rows created equal). Thread-safe for distinct scratches:
  /// the candidate table is shared, a lock per range of positions.
  void Consume(JoinScratch* scratch, const std::vector<KeyColumn>& keys, const int64_t* event_times,
               const uint8_t* event_validity, const int64_t* created_times, int64_t num_rows,
               int64_t first_row_number);

  /// For each entity row in input order, the matched feature row number or -1, from the rows
  /// consumed so far. Runs on the threads given to Make.
  Result<std::vector<int64_t>> Finish() const;

  /// The smallest and greatest entity time: feature rows outside [min - ttl, max] never match.
  int64_t min_entity_time() const { return min_time_; }
  int64_t max_entity_time() const { return max_time_; }
  Duration ttl() const { return ttl_; }

 private:
  PointInTimeJoin() = default;

  KeyIndex index_;
  Duration ttl_;
  // Entity rows sorted by (key id, time): original row and time per position. In Arrow's pool,
  // as the candidates are: the gather's output, allocated once the join is gone, reuses the
  // pages instead of touching fresh ones.
  std::vector<int64_t, arrow::stl::allocator<int64_t>> order_;
  std::vector<int64_t, arrow::stl::allocator<int64_t>> sorted_times_;
  // Positions of key id k are [key_begin_[k], key_begin_[k + 1]).
  std::vector<int64_t> key_begin_;
  // Keys in blocks of about equal positions, the unit of work on `threads_` threads.
  std::vector<int32_t> block_begin_;
  // The best feature row seen for each position. Consume groups a batch's rows by the range (of
  // 4096 positions) holding their key's first position, and holds that range's lock while it
  // records them: every position belongs to one key, and every key to one range.
  std::unique_ptr<arrow::Buffer> best_;  // JoinCandidate[positions], from Arrow's pool
  std::vector<std::mutex> range_locks_;
  int threads_ = 1;
  int64_t min_time_ = INT64_MAX;
  int64_t max_time_ = INT64_MIN;
};

}  // namespace headwater::engine
