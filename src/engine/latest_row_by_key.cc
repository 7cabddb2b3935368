#include "headwater/engine/latest_row_by_key.h"

#include <functional>

namespace headwater::engine {

void LatestRowByKey::Grow() {
  const uint64_t capacity = slots_.empty() ? 1024 : slots_.size() * 2;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (const Slot& slot : old) {
    if (slot.index < 0) continue;
    uint64_t at = slot.hash & mask_;
    while (slots_[at].index >= 0) at = (at + 1) & mask_;
    slots_[at] = slot;
  }
}

void LatestRowByKey::Offer(std::string_view key, uint64_t hash, const JoinCandidate& candidate) {
  if ((candidates_.size() + 1) * 2 > slots_.size()) Grow();
  uint64_t at = hash & mask_;
  while (slots_[at].index >= 0) {
    const Slot& slot = slots_[at];
    if (slot.hash == hash && keys_[slot.index] == key) {
      JoinCandidate& current = candidates_[slot.index];
      if (current < candidate) current = candidate;
      return;
    }
    at = (at + 1) & mask_;
  }
  slots_[at] = Slot{hash, static_cast<int64_t>(candidates_.size())};
  keys_.data.append(key);
  keys_.FinishRow();
  candidates_.push_back(candidate);
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
