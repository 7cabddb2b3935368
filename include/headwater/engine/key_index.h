#pragma once
// Dense ids for composite entity keys: the one place rows of different tables are matched on
// their join keys. Hot loops work on flat arrays of hashes and ids, never on per-row objects.

#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/engine/dense_id_table.h"

namespace headwater::engine {

/// One join-key column normalised for matching: integers as int64 values, strings and bytes as
/// large binary. Keeps the normalised array alive.
struct KeyColumn {
  std::shared_ptr<arrow::Array> array;
  const int64_t* ints = nullptr;                   // set for integer keys
  const arrow::LargeBinaryArray* bytes = nullptr;  // set for string and bytes keys

  /// Normalises an Int32, Int64, String, LargeString, Binary or LargeBinary array.
  static Result<KeyColumn> Make(const std::shared_ptr<arrow::Array>& array);
  bool IsNull(int64_t row) const;
  /// Rows [offset, offset + length), sharing the values.
  KeyColumn Slice(int64_t offset, int64_t length) const;
};

/// The distinct keys of a "build" table (the entity rows), each with a dense id 0..size()-1 in
/// order of first appearance. Probing with another table's key columns gives each of its rows
/// the id of an equal key, or -1. A table with zero key columns has one key: every row is id 0.
class KeyIndex {
 public:
  /// Builds from the key columns of the build table (all of equal length, no nulls expected:
  /// rows with a null key part get id -1). The rows' hashes are computed on `threads` threads;
  /// the keys are numbered on one.
  static Result<KeyIndex> Build(std::vector<KeyColumn> columns, int64_t num_rows, int threads = 1);

  /// The id of each build row (-1 for a row with a null key part).
  const std::vector<int32_t>& row_ids() const { return row_ids_; }
  /// Number of distinct keys.
  int32_t size() const { return num_keys_; }

  /// Writes into `ids` the id of each probe row's key, or -1 when the key is absent or has a
  /// null part. `columns` must match the build columns in number and kind. `hashes` is scratch
  /// space the caller may reuse across calls.
  void Probe(const std::vector<KeyColumn>& columns, int64_t num_rows, int32_t* ids,
             std::vector<uint64_t>* hashes) const;

 private:
  // Hashes of `num_rows` rows into `hashes`.
  static void HashRows(const std::vector<KeyColumn>& columns, int64_t num_rows, uint64_t* hashes);
  // Whether probe row `row` of `columns` equals build row `build_row`.
  bool RowEquals(const std::vector<KeyColumn>& columns, int64_t row, int64_t build_row) const;
  // The id of probe row `row` of `columns`, whose hash is `hash`, or -1 when absent.
  int32_t IdOf(uint64_t hash, const std::vector<KeyColumn>& columns, int64_t row) const;

  std::vector<KeyColumn> columns_;
  DenseIdTable table_;
  // For each id, a build row holding that key (to verify hash matches).
  std::vector<int64_t> representative_rows_;
  std::vector<int32_t> row_ids_;
  int32_t num_keys_ = 0;
  // A single integer key hashes bijectively, so equal hashes imply equal keys.
  bool hash_is_exact_ = false;
};

}  // namespace headwater::engine
