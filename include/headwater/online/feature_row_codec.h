#pragma once
// Value layout, version 1: one feature view row as stored online. Specified in
// docs/online_store.md; change it only with a new version byte.
//
//   value   = 0x01 event_time created_time feature*    (features in the view's schema order)
//   *_time  = 8 bytes, epoch microseconds, big-endian, sign bit flipped (no created time: the
//             smallest int64)
//   feature = 0x00                                      null
//           | 0x01 payload                              present
//   payload = Int32: 4 bytes LE | Int64, UnixTimestamp (µs): 8 bytes LE | Float32: 4 bytes LE |
//             Float64: 8 bytes LE | Bool: 1 byte | String, Bytes: u32 LE length + bytes |
//             Array(T): u32 LE count + (0x00 | 0x01 payload) per element
//
// Because the times come first in sortable form, comparing two values byte by byte orders them
// by (event_time, created_time), then by content. Every store keeps, per key, the greatest value
// by that comparison — so writes are idempotent and their order never matters.

#include <arrow/type_fwd.h>

#include <string_view>
#include <vector>

#include "headwater/core/entity_key.h"
#include "headwater/core/time.h"
#include "headwater/core/types.h"

namespace headwater::online {

constexpr uint8_t kValueVersion = 1;
/// Version byte plus the two times.
constexpr size_t kValueHeaderSize = 17;

/// Encodes `num_rows` rows column by column into `out` (appending). `features` are the view's
/// feature columns in schema order, each of the Arrow type ToArrowType(schema[i]) or a variant of
/// it (large strings, any timestamp unit is NOT accepted: cast first). `created_times` may be
/// null.
Status EncodeFeatureRows(const std::vector<std::shared_ptr<arrow::Array>>& features,
                         const std::vector<FeatureType>& schema, const int64_t* event_times,
                         const int64_t* created_times, int64_t num_rows, ByteRows* out);

/// Receives one stored value by its type (FeatureRowReader::Visit): how an adapter renders
/// values — the server's JSON — without the codec knowing any output format.
class ValueVisitor {
 public:
  virtual ~ValueVisitor() = default;
  virtual void Null() = 0;
  virtual void Int(int64_t value) = 0;  // Int32, Int64
  virtual void Float(float value) = 0;
  virtual void Double(double value) = 0;
  virtual void Bool(bool value) = 0;
  virtual void Time(Timestamp value) = 0;  // UnixTimestamp
  virtual void String(std::string_view value) = 0;
  virtual void Bytes(std::string_view value) = 0;
  /// A Json feature: its JSON text. Read as a string unless the visitor writes JSON.
  virtual void Json(std::string_view text) { String(text); }
  virtual void BeginList(uint32_t size) = 0;  // then the elements, then EndList
  virtual void EndList() = 0;
};

/// Reads one encoded value.
class FeatureRowReader {
 public:
  /// Checks the version and walks the features once, remembering where each starts. Invalid
  /// when the bytes do not fit `schema`. A scalar Float32/Float64 feature holding NaN or an
  /// infinity reads as null (JSON has no form for it, and a value and its status must agree).
  Status Open(std::string_view value, const std::vector<FeatureType>& schema);

  Timestamp event_time() const { return event_time_; }
  Timestamp created_time() const { return created_time_; }
  bool IsNull(size_t feature) const { return starts_[feature] == kNull; }
  /// Hands feature `feature` to `visitor` by its type: Null when null; a list element by
  /// element between BeginList and EndList.
  void Visit(size_t feature, ValueVisitor* visitor) const;
  /// Appends feature `feature` to `builder` (a null when null), which must be a builder of
  /// ToArrowType(schema[feature]) (arrays: a ListBuilder over that value type).
  Status Append(size_t feature, arrow::ArrayBuilder* builder) const;

 private:
  static constexpr size_t kNull = SIZE_MAX;
  std::string_view value_;
  const std::vector<FeatureType>* schema_ = nullptr;
  std::vector<size_t> starts_;  // payload offset per feature, kNull when null
  Timestamp event_time_;
  Timestamp created_time_;
};

/// Reads a value's event time without decoding the rest; Invalid when too short.
Result<Timestamp> EventTimeOf(std::string_view value);

}  // namespace headwater::online
