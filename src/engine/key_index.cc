#include "headwater/engine/key_index.h"

#include <arrow/array.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/cast.h>
#include <arrow/compute/initialize.h>
#include <arrow/stl_allocator.h>
#include <arrow/type.h>

#include <bit>
#include <functional>
#include <mutex>

#include "headwater/engine/parallel_for.h"

namespace headwater::engine {
namespace {

constexpr int32_t kEmpty = DenseIdTable::kAbsent;

// Rows are independent: fetching the slot of the row this far ahead hides most cache misses.
constexpr int64_t kPrefetchDistance = 16;

bool HasNulls(const std::vector<KeyColumn>& columns) {
  bool has_nulls = false;
  for (const KeyColumn& column : columns) has_nulls |= column.array->null_count() > 0;
  return has_nulls;
}

bool AnyNull(const std::vector<KeyColumn>& columns, int64_t row) {
  bool any_null = false;
  for (const KeyColumn& column : columns) any_null |= column.IsNull(row);
  return any_null;
}

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

KeyColumn KeyColumn::Slice(int64_t offset, int64_t length) const {
  KeyColumn slice;
  slice.array = array->Slice(offset, length);
  if (ints != nullptr) slice.ints = ints + offset;
  if (bytes != nullptr)
    slice.bytes = static_cast<const arrow::LargeBinaryArray*>(slice.array.get());
  return slice;
}

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

int32_t KeyIndex::IdOf(uint64_t hash, const std::vector<KeyColumn>& columns, int64_t row) const {
  if (hash_is_exact_) return table_.Find(hash, [](int32_t) { return true; });
  return table_.Find(hash, [&](int32_t id) {
    return RowEquals(columns, row, representative_rows_[static_cast<size_t>(id)]);
  });
}

Result<KeyIndex> KeyIndex::Build(std::vector<KeyColumn> columns, int64_t num_rows, int threads) {
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
  // The table grows as keys appear (doubling, so each key moves about once). Sized for the rows
  // up front, 10M entity rows of 1M keys allocated and zeroed 512 MiB of slots and inserted into
  // them with a cache miss each, where 32 MiB hold the keys.
  // In Arrow's pool: the point-in-time join's sorted entity rows, allocated next, reuse its pages.
  std::vector<uint64_t, arrow::stl::allocator<uint64_t>> hashes(num_rows);
  const int64_t chunks = std::clamp<int64_t>(num_rows >> 16, 1, std::max(threads, 1));
  ARROW_RETURN_NOT_OK(ParallelFor(chunks, threads, [&](int64_t chunk, int) -> Status {
    const int64_t begin = num_rows * chunk / chunks;
    const int64_t length = num_rows * (chunk + 1) / chunks - begin;
    std::vector<KeyColumn> slices;
    for (const KeyColumn& column : index.columns_) slices.push_back(column.Slice(begin, length));
    HashRows(slices, length, hashes.data() + begin);
    return Status::OK();
  }));
  const bool has_nulls = HasNulls(index.columns_);
  // Prefetched as in Probe (a slot moves when the table grows, which a prefetch may miss).
  for (int64_t row = 0; row < num_rows; ++row) {
    if (row + kPrefetchDistance < num_rows) index.table_.Prefetch(hashes[row + kPrefetchDistance]);
    if (has_nulls && AnyNull(index.columns_, row)) continue;
    bool inserted = false;
    const int32_t id = index.table_.FindOrInsert(
        hashes[row],
        [&](int32_t id) {
          return index.hash_is_exact_ ||
                 index.RowEquals(index.columns_, row,
                                 index.representative_rows_[static_cast<size_t>(id)]);
        },
        &inserted);
    if (inserted) index.representative_rows_.push_back(row);
    index.row_ids_[row] = id;
  }
  index.num_keys_ = index.table_.size();
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
  const bool has_nulls = HasNulls(columns);
  for (int64_t row = 0; row < num_rows; ++row) {
    if (row + kPrefetchDistance < num_rows) table_.Prefetch(hash[row + kPrefetchDistance]);
    if (has_nulls && AnyNull(columns, row)) {
      ids[row] = kEmpty;
      continue;
    }
    ids[row] = IdOf(hash[row], columns, row);
  }
}

}  // namespace headwater::engine
