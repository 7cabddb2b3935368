#include "headwater/engine/key_index.h"

#include <arrow/array.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/cast.h>
#include <arrow/compute/initialize.h>
#include <arrow/type.h>

#include <bit>
#include <functional>
#include <mutex>

namespace headwater::engine {
namespace {

constexpr int32_t kEmpty = -1;

// MurmurHash3's 64-bit finaliser: a bijection, so one integer key needs no equality check.
inline uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

Status InitializeCompute() {
  static Status status = arrow::compute::Initialize();
  return status;
}

}  // namespace

Result<KeyColumn> KeyColumn::Make(const std::shared_ptr<arrow::Array>& array) {
  ARROW_RETURN_NOT_OK(InitializeCompute());
  KeyColumn column;
  switch (array->type_id()) {
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::UINT32: {
      ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*array, arrow::int64()));
      column.array = cast;
      column.ints = std::static_pointer_cast<arrow::Int64Array>(cast)->raw_values();
      return column;
    }
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::STRING_VIEW:
    case arrow::Type::BINARY_VIEW: {
      ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*array, arrow::large_binary()));
      column.array = cast;
      column.bytes = static_cast<const arrow::LargeBinaryArray*>(cast.get());
      return column;
    }
    default:
      return Status::TypeError("a join key column must be an integer, string or bytes, not ",
                               array->type()->ToString());
  }
}

bool KeyColumn::IsNull(int64_t row) const { return array->IsNull(row); }

void KeyIndex::HashRows(const std::vector<KeyColumn>& columns, int64_t num_rows, uint64_t* hashes) {
  std::fill(hashes, hashes + num_rows, 0);
  for (const KeyColumn& column : columns) {
    if (column.ints != nullptr) {
      for (int64_t i = 0; i < num_rows; ++i) {
        hashes[i] = Mix(hashes[i] * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(column.ints[i]));
      }
    } else {
      std::hash<std::string_view> hash_bytes;
      for (int64_t i = 0; i < num_rows; ++i) {
        hashes[i] = Mix(hashes[i] * 0x9e3779b97f4a7c15ULL + hash_bytes(column.bytes->GetView(i)));
      }
    }
  }
}

bool KeyIndex::RowEquals(const std::vector<KeyColumn>& columns, int64_t row,
                         int64_t build_row) const {
  for (size_t c = 0; c < columns.size(); ++c) {
    if (columns[c].ints != nullptr) {
      if (columns[c].ints[row] != columns_[c].ints[build_row]) return false;
    } else if (columns[c].bytes->GetView(row) != columns_[c].bytes->GetView(build_row)) {
      return false;
    }
  }
  return true;
}

uint64_t KeyIndex::FindSlot(uint64_t hash, const std::vector<KeyColumn>& columns,
                            int64_t row) const {
  uint64_t slot = hash & mask_;
  while (slots_[slot].id != kEmpty) {
    if (slots_[slot].hash == hash &&
        (hash_is_exact_ || RowEquals(columns, row, representative_rows_[slots_[slot].id]))) {
      return slot;
    }
    slot = (slot + 1) & mask_;
  }
  return slot;
}

void KeyIndex::Rehash(uint64_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (const Slot& entry : old) {
    if (entry.id == kEmpty) continue;
    uint64_t slot = entry.hash & mask_;
    while (slots_[slot].id != kEmpty) slot = (slot + 1) & mask_;
    slots_[slot] = entry;
  }
}

Result<KeyIndex> KeyIndex::Build(std::vector<KeyColumn> columns, int64_t num_rows) {
  KeyIndex index;
  index.columns_ = std::move(columns);
  index.hash_is_exact_ = index.columns_.size() == 1 && index.columns_[0].ints != nullptr;
  index.row_ids_.assign(num_rows, kEmpty);
  if (index.columns_.empty()) {
    std::fill(index.row_ids_.begin(), index.row_ids_.end(), 0);
    index.num_keys_ = num_rows > 0 ? 1 : 0;
    index.representative_rows_.assign(index.num_keys_, 0);
    return index;
  }
  index.Rehash(std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(num_rows, 8)) * 2));
  std::vector<uint64_t> hashes(num_rows);
  HashRows(index.columns_, num_rows, hashes.data());
  bool has_nulls = false;
  for (const KeyColumn& column : index.columns_) has_nulls |= column.array->null_count() > 0;
  for (int64_t row = 0; row < num_rows; ++row) {
    if (has_nulls) {
      bool any_null = false;
      for (const KeyColumn& column : index.columns_) any_null |= column.IsNull(row);
      if (any_null) continue;
    }
    uint64_t slot = index.FindSlot(hashes[row], index.columns_, row);
    if (index.slots_[slot].id == kEmpty) {
      index.slots_[slot] = Slot{hashes[row], index.num_keys_++};
      index.representative_rows_.push_back(row);
    }
    index.row_ids_[row] = index.slots_[slot].id;
  }
  // Sized for the rows, the table may be far larger than the distinct keys need; shrink it so
  // probes hit cache.
  uint64_t wanted = std::bit_ceil(static_cast<uint64_t>(std::max<int32_t>(index.num_keys_, 4)) * 2);
  if (wanted < index.slots_.size()) index.Rehash(wanted);
  return index;
}

void KeyIndex::Probe(const std::vector<KeyColumn>& columns, int64_t num_rows, int32_t* ids,
                     std::vector<uint64_t>* hashes) const {
  if (columns_.empty()) {
    std::fill(ids, ids + num_rows, num_keys_ > 0 ? 0 : kEmpty);
    return;
  }
  hashes->resize(num_rows);
  const uint64_t* hash = hashes->data();
  HashRows(columns, num_rows, hashes->data());
  bool has_nulls = false;
  for (const KeyColumn& column : columns) has_nulls |= column.array->null_count() > 0;
  // Probes are independent: fetching the slot a few rows ahead hides most of the cache misses.
  constexpr int64_t kPrefetchDistance = 16;
  for (int64_t row = 0; row < num_rows; ++row) {
    if (row + kPrefetchDistance < num_rows) {
      __builtin_prefetch(&slots_[hash[row + kPrefetchDistance] & mask_]);
    }
    if (has_nulls) {
      bool any_null = false;
      for (const KeyColumn& column : columns) any_null |= column.IsNull(row);
      if (any_null) {
        ids[row] = kEmpty;
        continue;
      }
    }
    ids[row] = slots_[FindSlot(hash[row], columns, row)].id;
  }
}

}  // namespace headwater::engine
