#pragma once
// Entity-key encoding, version 1: the bytes that identify one entity key in an online store.
// Specified in docs/online_store.md; change it only with a new version byte.
//
//   key    = 0x01 part*                  (one part per join key, in the view's entity order)
//   part   = 'i' int64                   integer keys (Int32 and Int64 alike): 8 bytes,
//                                        big-endian, sign bit flipped (so bytes sort as numbers)
//          | 's' u32 bytes               strings: 4-byte big-endian length, then UTF-8 bytes
//          | 'b' u32 bytes               bytes: the same with tag 'b'
//
// Int32 and Int64 encode identically, so a key written from an Int32 column is found by an
// Int64 request and vice versa.

#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "headwater/core/status.h"

namespace headwater {

constexpr uint8_t kEntityKeyVersion = 1;

/// Many variable-length byte strings in one buffer: row i is data[offsets[i], offsets[i + 1]).
struct ByteRows {
  std::string data;
  std::vector<uint32_t> offsets{0};

  size_t size() const { return offsets.size() - 1; }
  std::string_view operator[](size_t i) const {
    return std::string_view(data).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
  /// Ends the row being built (bytes appended to `data` since the last call).
  void FinishRow() { offsets.push_back(static_cast<uint32_t>(data.size())); }
  void Clear() {
    data.clear();
    offsets.assign(1, 0);
  }
};

/// Encodes the keys of `num_rows` rows, column by column. Columns may be Int32, Int64, String,
/// LargeString, Binary or LargeBinary. `valid[i]` is set to 0 for rows with a null key part
/// (their encoding is then meaningless). Appends to `out`.
Status EncodeEntityKeys(const std::vector<std::shared_ptr<arrow::Array>>& columns, int64_t num_rows,
                        ByteRows* out, std::vector<uint8_t>* valid);

/// A key part decoded by value.
struct EntityKeyPart {
  enum class Kind : char { kInt = 'i', kString = 's', kBytes = 'b' };
  Kind kind = Kind::kInt;
  int64_t int_value = 0;
  std::string bytes;  // for kString and kBytes
};

/// Appends one part: an integer ('i'), or a string ('s') or bytes ('b') `tag`ged value. A key is
/// kEntityKeyVersion followed by its parts in the view's entity order.
void AppendIntegerKeyPart(int64_t value, std::string* out);
void AppendBytesKeyPart(char tag, std::string_view value, std::string* out);

/// Decodes an encoded key back into parts; Invalid for malformed bytes.
Result<std::vector<EntityKeyPart>> DecodeEntityKey(std::string_view key);

/// Writes an int64 as 8 big-endian bytes with the sign bit flipped, so that unsigned byte order
/// equals numeric order. Shared by the key and the value encodings.
inline void AppendSortableInt64(int64_t value, std::string* out) {
  uint64_t bits = static_cast<uint64_t>(value) ^ (uint64_t{1} << 63);
  char bytes[8];
  for (int i = 7; i >= 0; --i, bits >>= 8) bytes[i] = static_cast<char>(bits & 0xff);
  out->append(bytes, 8);
}

inline int64_t ReadSortableInt64(const char* bytes) {
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(bytes[i]);
  return static_cast<int64_t>(bits ^ (uint64_t{1} << 63));
}

}  // namespace headwater
