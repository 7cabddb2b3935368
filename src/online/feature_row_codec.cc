#include "headwater/online/feature_row_codec.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/type.h>

#include <cmath>
#include <cstring>

namespace headwater::online {
namespace {

// Element access per scalar kind, resolved at compile time so the column loops have no switch.
template <ScalarKind K>
struct Scalar;

template <typename ArrowArray, typename Stored>
struct FixedScalar {
  using Array = ArrowArray;
  static size_t Size(const Array&, int64_t) { return sizeof(Stored); }
  static char* Write(const Array& array, int64_t i, char* out) {
    Stored value = static_cast<Stored>(array.Value(i));
    std::memcpy(out, &value, sizeof value);
    return out + sizeof value;
  }
};
template <>
struct Scalar<ScalarKind::kInt32> : FixedScalar<arrow::Int32Array, int32_t> {};
template <>
struct Scalar<ScalarKind::kInt64> : FixedScalar<arrow::Int64Array, int64_t> {};
template <>
struct Scalar<ScalarKind::kFloat32> : FixedScalar<arrow::FloatArray, float> {};
template <>
struct Scalar<ScalarKind::kFloat64> : FixedScalar<arrow::DoubleArray, double> {};
template <>
struct Scalar<ScalarKind::kUnixTimestamp> : FixedScalar<arrow::TimestampArray, int64_t> {};
template <>
struct Scalar<ScalarKind::kBool> {
  using Array = arrow::BooleanArray;
  static size_t Size(const Array&, int64_t) { return 1; }
  static char* Write(const Array& array, int64_t i, char* out) {
    *out = array.Value(i) ? 1 : 0;
    return out + 1;
  }
};
template <typename ArrowArray>
struct BinaryScalar {
  using Array = ArrowArray;
  static size_t Size(const Array& array, int64_t i) { return 4 + array.GetView(i).size(); }
  static char* Write(const Array& array, int64_t i, char* out) {
    std::string_view value = array.GetView(i);
    uint32_t length = static_cast<uint32_t>(value.size());
    std::memcpy(out, &length, 4);
    std::memcpy(out + 4, value.data(), value.size());
    return out + 4 + value.size();
  }
};
template <>
struct Scalar<ScalarKind::kString> : BinaryScalar<arrow::StringArray> {};
template <>
struct Scalar<ScalarKind::kBytes> : BinaryScalar<arrow::BinaryArray> {};
template <>
struct Scalar<ScalarKind::kJson> : BinaryScalar<arrow::StringArray> {};

template <typename Visitor>
auto VisitKind(ScalarKind kind, Visitor&& visit) {
  switch (kind) {
    case ScalarKind::kInt32:
      return visit(Scalar<ScalarKind::kInt32>{});
    case ScalarKind::kInt64:
      return visit(Scalar<ScalarKind::kInt64>{});
    case ScalarKind::kFloat32:
      return visit(Scalar<ScalarKind::kFloat32>{});
    case ScalarKind::kFloat64:
      return visit(Scalar<ScalarKind::kFloat64>{});
    case ScalarKind::kString:
      return visit(Scalar<ScalarKind::kString>{});
    case ScalarKind::kBytes:
      return visit(Scalar<ScalarKind::kBytes>{});
    case ScalarKind::kJson:
      return visit(Scalar<ScalarKind::kJson>{});
    case ScalarKind::kBool:
      return visit(Scalar<ScalarKind::kBool>{});
    case ScalarKind::kUnixTimestamp:
      return visit(Scalar<ScalarKind::kUnixTimestamp>{});
  }
  return visit(Scalar<ScalarKind::kInt64>{});
}

// Adds each row's encoded size of one feature column to `sizes`, then (second call) writes it.
Status CheckType(const arrow::Array& column, FeatureType type) {
  if (!column.type()->Equals(*ToArrowType(type))) {
    return Status::TypeError("feature column is ", column.type()->ToString(), ", expected ",
                             ToArrowType(type)->ToString());
  }
  return Status::OK();
}

template <typename S>
void SizeColumn(const arrow::Array& column, bool is_array, std::vector<size_t>* sizes) {
  const int64_t n = column.length();
  if (!is_array) {
    const auto& array = static_cast<const typename S::Array&>(column);
    for (int64_t i = 0; i < n; ++i) (*sizes)[i] += 1 + (array.IsNull(i) ? 0 : S::Size(array, i));
    return;
  }
  const auto& list = static_cast<const arrow::ListArray&>(column);
  const auto& values = static_cast<const typename S::Array&>(*list.values());
  for (int64_t i = 0; i < n; ++i) {
    (*sizes)[i] += 1;
    if (list.IsNull(i)) continue;
    (*sizes)[i] += 4;
    for (int64_t j = list.value_offset(i); j < list.value_offset(i + 1); ++j) {
      (*sizes)[i] += 1 + (values.IsNull(j) ? 0 : S::Size(values, j));
    }
  }
}

template <typename S>
void WriteColumn(const arrow::Array& column, bool is_array, std::vector<char*>* cursors) {
  const int64_t n = column.length();
  if (!is_array) {
    const auto& array = static_cast<const typename S::Array&>(column);
    for (int64_t i = 0; i < n; ++i) {
      char*& out = (*cursors)[i];
      if (array.IsNull(i)) {
        *out++ = 0;
      } else {
        *out++ = 1;
        out = S::Write(array, i, out);
      }
    }
    return;
  }
  const auto& list = static_cast<const arrow::ListArray&>(column);
  const auto& values = static_cast<const typename S::Array&>(*list.values());
  for (int64_t i = 0; i < n; ++i) {
    char*& out = (*cursors)[i];
    if (list.IsNull(i)) {
      *out++ = 0;
      continue;
    }
    *out++ = 1;
    uint32_t count = static_cast<uint32_t>(list.value_length(i));
    std::memcpy(out, &count, 4);
    out += 4;
    for (int64_t j = list.value_offset(i); j < list.value_offset(i + 1); ++j) {
      if (values.IsNull(j)) {
        *out++ = 0;
      } else {
        *out++ = 1;
        out = S::Write(values, j, out);
      }
    }
  }
}

void WriteTime(int64_t micros, char* out) {
  std::string bytes;
  AppendSortableInt64(micros, &bytes);
  std::memcpy(out, bytes.data(), 8);
}

}  // namespace

Status EncodeFeatureRows(const std::vector<std::shared_ptr<arrow::Array>>& features,
                         const std::vector<FeatureType>& schema, const int64_t* event_times,
                         const int64_t* created_times, int64_t num_rows, ByteRows* out) {
  if (features.size() != schema.size()) {
    return Status::Invalid(features.size(), " feature columns for a schema of ", schema.size());
  }
  for (size_t f = 0; f < features.size(); ++f) {
    ARROW_RETURN_NOT_OK(CheckType(*features[f], schema[f]));
    if (features[f]->length() != num_rows)
      return Status::Invalid("feature columns differ in length");
  }
  std::vector<size_t> sizes(num_rows, kValueHeaderSize);
  for (size_t f = 0; f < features.size(); ++f) {
    VisitKind(schema[f].kind, [&](auto scalar) {
      SizeColumn<decltype(scalar)>(*features[f], schema[f].is_array, &sizes);
    });
  }
  const size_t base = out->data.size();
  size_t total = base;
  for (int64_t i = 0; i < num_rows; ++i) {
    total += sizes[i];
    if (total > UINT32_MAX) return Status::CapacityError("encoded batch exceeds 4 GiB");
  }
  out->data.resize(total);
  std::vector<char*> cursors(num_rows);
  char* at = out->data.data() + base;
  out->offsets.reserve(out->offsets.size() + num_rows);
  for (int64_t i = 0; i < num_rows; ++i) {
    cursors[i] = at;
    at[0] = static_cast<char>(kValueVersion);
    WriteTime(event_times[i], at + 1);
    WriteTime(created_times ? created_times[i] : INT64_MIN, at + 9);
    cursors[i] += kValueHeaderSize;
    at += sizes[i];
    out->offsets.push_back(static_cast<uint32_t>(at - out->data.data()));
  }
  for (size_t f = 0; f < features.size(); ++f) {
    VisitKind(schema[f].kind, [&](auto scalar) {
      WriteColumn<decltype(scalar)>(*features[f], schema[f].is_array, &cursors);
    });
  }
  return Status::OK();
}

Result<Timestamp> EventTimeOf(std::string_view value) {
  if (value.size() < kValueHeaderSize || static_cast<uint8_t>(value[0]) != kValueVersion) {
    return Status::Invalid("not a version ", int{kValueVersion}, " feature value");
  }
  return Timestamp{ReadSortableInt64(value.data() + 1)};
}

namespace {

// Size of one scalar payload at `at`, or 0 when it does not fit in `remaining`.
size_t PayloadSize(ScalarKind kind, const char* at, size_t remaining) {
  size_t size = 0;
  switch (kind) {
    case ScalarKind::kInt32:
    case ScalarKind::kFloat32:
      size = 4;
      break;
    case ScalarKind::kInt64:
    case ScalarKind::kFloat64:
    case ScalarKind::kUnixTimestamp:
      size = 8;
      break;
    case ScalarKind::kBool:
      size = 1;
      break;
    case ScalarKind::kString:
    case ScalarKind::kBytes:
    case ScalarKind::kJson: {
      if (remaining < 4) return 0;
      uint32_t length;
      std::memcpy(&length, at, 4);
      size = 4 + size_t{length};
      break;
    }
  }
  return size <= remaining ? size : 0;
}

void VisitScalar(ScalarKind kind, const char* at, ValueVisitor* visitor) {
  auto load = [at]<typename T>(T value) {
    std::memcpy(&value, at, sizeof(T));
    return value;
  };
  switch (kind) {
    case ScalarKind::kInt32:
      visitor->Int(load(int32_t{}));
      break;
    case ScalarKind::kInt64:
      visitor->Int(load(int64_t{}));
      break;
    case ScalarKind::kFloat32:
      visitor->Float(load(float{}));
      break;
    case ScalarKind::kFloat64:
      visitor->Double(load(double{}));
      break;
    case ScalarKind::kBool:
      visitor->Bool(*at != 0);
      break;
    case ScalarKind::kUnixTimestamp:
      visitor->Time(Timestamp{load(int64_t{})});
      break;
    case ScalarKind::kString:
    case ScalarKind::kBytes:
    case ScalarKind::kJson: {
      const std::string_view bytes(at + 4, load(uint32_t{}));
      if (kind == ScalarKind::kString) {
        visitor->String(bytes);
      } else if (kind == ScalarKind::kJson) {
        visitor->Json(bytes);
      } else {
        visitor->Bytes(bytes);
      }
      break;
    }
  }
}

}  // namespace

namespace {

bool IsFinitePayload(ScalarKind kind, const char* at) {
  if (kind == ScalarKind::kFloat32) {
    float value;
    std::memcpy(&value, at, sizeof value);
    return std::isfinite(value);
  }
  if (kind == ScalarKind::kFloat64) {
    double value;
    std::memcpy(&value, at, sizeof value);
    return std::isfinite(value);
  }
  return true;
}

}  // namespace

Status FeatureRowReader::Open(std::string_view value, const std::vector<FeatureType>& schema) {
  ARROW_ASSIGN_OR_RAISE(event_time_, EventTimeOf(value));
  created_time_ = Timestamp{ReadSortableInt64(value.data() + 9)};
  value_ = value;
  schema_ = &schema;
  starts_.assign(schema.size(), kNull);
  size_t pos = kValueHeaderSize;
  auto truncated = [] { return Status::Invalid("feature value does not match the view schema"); };
  for (size_t f = 0; f < schema.size(); ++f) {
    if (pos >= value.size()) return truncated();
    if (value[pos++] == 0) continue;
    if (!schema[f].is_array) {
      size_t size = PayloadSize(schema[f].kind, value.data() + pos, value.size() - pos);
      if (size == 0) return truncated();
      // A NaN or infinity (from a Parquet file, say) has no JSON form: it reads as null, so a
      // value and its status (NULL_VALUE) always agree on every read path.
      if (IsFinitePayload(schema[f].kind, value.data() + pos)) starts_[f] = pos;
      pos += size;
      continue;
    }
    starts_[f] = pos;
    if (value.size() - pos < 4) return truncated();
    uint32_t count;
    std::memcpy(&count, value.data() + pos, 4);
    pos += 4;
    for (uint32_t e = 0; e < count; ++e) {
      if (pos >= value.size()) return truncated();
      if (value[pos++] == 0) continue;
      size_t size = PayloadSize(schema[f].kind, value.data() + pos, value.size() - pos);
      if (size == 0) return truncated();
      pos += size;
    }
  }
  if (pos != value.size()) return truncated();
  return Status::OK();
}

void FeatureRowReader::Visit(size_t feature, ValueVisitor* visitor) const {
  if (starts_[feature] == kNull) {
    visitor->Null();
    return;
  }
  const FeatureType type = (*schema_)[feature];
  const char* at = value_.data() + starts_[feature];
  if (!type.is_array) {
    VisitScalar(type.kind, at, visitor);
    return;
  }
  uint32_t count;
  std::memcpy(&count, at, 4);
  at += 4;
  visitor->BeginList(count);
  for (uint32_t e = 0; e < count; ++e) {
    if (*at++ == 0) {
      visitor->Null();
      continue;
    }
    VisitScalar(type.kind, at, visitor);
    at += PayloadSize(type.kind, at, SIZE_MAX);
  }
  visitor->EndList();
}

namespace {

Status AppendScalar(ScalarKind kind, const char* at, arrow::ArrayBuilder* builder) {
  auto load = [at]<typename T>(T value) {
    std::memcpy(&value, at, sizeof(T));
    return value;
  };
  switch (kind) {
    case ScalarKind::kInt32:
      return static_cast<arrow::Int32Builder*>(builder)->Append(load(int32_t{}));
    case ScalarKind::kInt64:
      return static_cast<arrow::Int64Builder*>(builder)->Append(load(int64_t{}));
    case ScalarKind::kFloat32:
      return static_cast<arrow::FloatBuilder*>(builder)->Append(load(float{}));
    case ScalarKind::kFloat64:
      return static_cast<arrow::DoubleBuilder*>(builder)->Append(load(double{}));
    case ScalarKind::kBool:
      return static_cast<arrow::BooleanBuilder*>(builder)->Append(*at != 0);
    case ScalarKind::kUnixTimestamp:
      return static_cast<arrow::TimestampBuilder*>(builder)->Append(load(int64_t{}));
    case ScalarKind::kString:
    case ScalarKind::kBytes:
    case ScalarKind::kJson: {
      const uint32_t length = load(uint32_t{});
      return static_cast<arrow::BaseBinaryBuilder<arrow::BinaryType>*>(builder)->Append(
          at + 4, static_cast<int32_t>(length));
    }
  }
  return Status::Invalid("unknown feature kind");
}

}  // namespace

Status FeatureRowReader::Append(size_t feature, arrow::ArrayBuilder* builder) const {
  if (starts_[feature] == kNull) return builder->AppendNull();
  const FeatureType type = (*schema_)[feature];
  const char* at = value_.data() + starts_[feature];
  if (!type.is_array) return AppendScalar(type.kind, at, builder);
  auto* list = static_cast<arrow::ListBuilder*>(builder);
  ARROW_RETURN_NOT_OK(list->Append());
  uint32_t count;
  std::memcpy(&count, at, 4);
  at += 4;
  for (uint32_t e = 0; e < count; ++e) {
    if (*at++ == 0) {
      ARROW_RETURN_NOT_OK(list->value_builder()->AppendNull());
      continue;
    }
    ARROW_RETURN_NOT_OK(AppendScalar(type.kind, at, list->value_builder()));
    at += PayloadSize(type.kind, at, SIZE_MAX);
  }
  return Status::OK();
}

}  // namespace headwater::online
