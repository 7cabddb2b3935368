#include "headwater/engine/latest_row_by_key.h"

#include <functional>

namespace headwater::engine {

void LatestRowByKey::Offer(std::string_view key, uint64_t hash, const JoinCandidate& candidate) {
  bool inserted = false;
  const int32_t id = table_.FindOrInsert(
      hash, [&](int32_t id) { return keys_[static_cast<size_t>(id)] == key; }, &inserted);
  if (inserted) {
    keys_.data.append(key);
    keys_.FinishRow();
    candidates_.push_back(candidate);
    return;
  }
  JoinCandidate& current = candidates_[static_cast<size_t>(id)];
  if (current < candidate) current = candidate;
}

void LatestRowByKey::Consume(const ByteRows& keys, const uint8_t* selected,
                             const int64_t* event_times, const int64_t* created_times,
                             int64_t first_row_number) {
  std::hash<std::string_view> hash;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!selected[i]) continue;
    std::string_view key = keys[i];
    Offer(key, hash(key),
          JoinCandidate{event_times[i], created_times ? created_times[i] : INT64_MIN,
                        first_row_number + static_cast<int64_t>(i)});
  }
}

void LatestRowByKey::Merge(const LatestRowByKey& other) {
  std::hash<std::string_view> hash;
  for (size_t i = 0; i < other.size(); ++i) {
    Offer(other.key(i), hash(other.key(i)), other.candidate(i));
  }
}

}  // namespace headwater::engine
