#pragma once
// Dense ids for distinct keys: the engine's one hash table. Ids are 0..size()-1 in order of
// first insertion, so callers keep their keys and per-key state in flat id-indexed arrays; the
// table holds only (hash, id) slots and asks the caller whether a stored id's key equals the one
// sought. Open addressing with linear probing, at most half full; a slot is 16 bytes, so a probe
// whose hash differs costs no access to the keys.

#include <cstdint>
#include <vector>

namespace headwater::engine {

class DenseIdTable {
 public:
  static constexpr int32_t kAbsent = -1;

  DenseIdTable() { Rehash(16); }

  /// Number of distinct keys (the next id).
  int32_t size() const { return size_; }

  /// The id of the key with `hash` for which `equals(id)` holds, or kAbsent.
  template <typename Equals>
  int32_t Find(uint64_t hash, Equals&& equals) const {
    for (uint64_t at = hash & mask_;; at = (at + 1) & mask_) {
      const Slot& slot = slots_[at];
      if (slot.id == kAbsent) return kAbsent;
      if (slot.hash == hash && equals(slot.id)) return slot.id;
    }
  }

  /// Find, or else gives the key the next id; `*inserted` says which happened.
  template <typename Equals>
  int32_t FindOrInsert(uint64_t hash, Equals&& equals, bool* inserted) {
    if ((static_cast<uint64_t>(size_) + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
    uint64_t at = hash & mask_;
    for (;; at = (at + 1) & mask_) {
      const Slot& slot = slots_[at];
      if (slot.id == kAbsent) break;
      if (slot.hash == hash && equals(slot.id)) {
        *inserted = false;
        return slot.id;
      }
    }
    slots_[at] = Slot{hash, size_};
    *inserted = true;
    return size_++;
  }

  /// Brings the first slot `hash` probes into cache, ahead of a Find.
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }

 private:
  struct Slot {
    uint64_t hash = 0;
    int32_t id = kAbsent;
  };

  void Rehash(uint64_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.id == kAbsent) continue;
      uint64_t at = slot.hash & mask_;
      while (slots_[at].id != kAbsent) at = (at + 1) & mask_;
      slots_[at] = slot;
    }
  }

  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  int32_t size_ = 0;
};

}  // namespace headwater::engine
