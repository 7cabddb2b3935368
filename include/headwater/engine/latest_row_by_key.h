#pragma once
// Keyed "latest row" reduction: per distinct entity key, the row with the greatest
// (event_time, created_time, row_number) — the row materialization writes online. Keys are
// encoded entity keys (core/entity_key.h), so any composite key works the same way.
//
// Operator contract (src/engine/README.md): rows stream through Consume() in any order, one
// instance per worker, and instances merge; memory grows with the distinct keys only.

#include <cstdint>
#include <vector>

#include "headwater/core/entity_key.h"
#include "headwater/engine/dense_id_table.h"
#include "headwater/engine/point_in_time_join.h"

namespace headwater::engine {

class LatestRowByKey {
 public:
  /// Offers rows i in [0, keys.size()) where selected[i] is non-zero; the row numbers are
  /// first_row_number + i. `created_times` may be null.
  void Consume(const ByteRows& keys, const uint8_t* selected, const int64_t* event_times,
               const int64_t* created_times, int64_t first_row_number);

  /// Folds another instance's keys into this one.
  void Merge(const LatestRowByKey& other);

  /// Number of distinct keys.
  size_t size() const { return candidates_.size(); }
  /// Key i's bytes and its latest row.
  std::string_view key(size_t i) const { return keys_[i]; }
  const JoinCandidate& candidate(size_t i) const { return candidates_[i]; }

 private:
  void Offer(std::string_view key, uint64_t hash, const JoinCandidate& candidate);

  DenseIdTable table_;  // key -> index into keys_ and candidates_
  ByteRows keys_;
  std::vector<JoinCandidate> candidates_;
};

}  // namespace headwater::engine
