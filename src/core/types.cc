#include "headwater/core/types.h"

#include <arrow/type.h>
#include <arrow/util/checked_cast.h>

#include <array>
#include <utility>

namespace headwater {
namespace {

struct KindName {
  ScalarKind kind;
  std::string_view dtype;       // Feast's dtype name (feast.types)
  std::string_view value_type;  // Feast's ValueType enum name
};

constexpr std::array<KindName, 9> kKindNames = {{
    {ScalarKind::kInt32, "Int32", "INT32"},
    {ScalarKind::kInt64, "Int64", "INT64"},
    {ScalarKind::kFloat32, "Float32", "FLOAT"},
    {ScalarKind::kFloat64, "Float64", "DOUBLE"},
    {ScalarKind::kString, "String", "STRING"},
    {ScalarKind::kBytes, "Bytes", "BYTES"},
    {ScalarKind::kBool, "Bool", "BOOL"},
    {ScalarKind::kUnixTimestamp, "UnixTimestamp", "UNIX_TIMESTAMP"},
    {ScalarKind::kJson, "Json", "JSON"},
}};

bool ParseScalar(std::string_view text, ScalarKind& kind) {
  for (const KindName& name : kKindNames) {
    if (text == name.dtype || text == name.value_type) {
      kind = name.kind;
      return true;
    }
  }
  // Feast's ValueType also spells the float kinds FLOAT32/FLOAT64 in some versions.
  if (text == "FLOAT32") return kind = ScalarKind::kFloat32, true;
  if (text == "FLOAT64") return kind = ScalarKind::kFloat64, true;
  // Feast's Map and Struct({...}) are documents too.
  if (text == "Map" || text == "MAP" || text == "Struct" || text == "STRUCT" ||
      (text.starts_with("Struct(") && text.ends_with(")"))) {
    return kind = ScalarKind::kJson, true;
  }
  return false;
}

std::shared_ptr<arrow::DataType> ScalarArrowType(ScalarKind kind) {
  switch (kind) {
    case ScalarKind::kInt32:
      return arrow::int32();
    case ScalarKind::kInt64:
      return arrow::int64();
    case ScalarKind::kFloat32:
      return arrow::float32();
    case ScalarKind::kFloat64:
      return arrow::float64();
    case ScalarKind::kString:
    case ScalarKind::kJson:
      return arrow::utf8();
    case ScalarKind::kBytes:
      return arrow::binary();
    case ScalarKind::kBool:
      return arrow::boolean();
    case ScalarKind::kUnixTimestamp:
      return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  }
  return arrow::null();
}

Result<ScalarKind> ScalarFromArrow(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT32:
      return ScalarKind::kInt32;
    case arrow::Type::INT64:
      return ScalarKind::kInt64;
    case arrow::Type::FLOAT:
      return ScalarKind::kFloat32;
    case arrow::Type::DOUBLE:
      return ScalarKind::kFloat64;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::STRING_VIEW:
      return ScalarKind::kString;
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
      return ScalarKind::kBytes;
    case arrow::Type::BOOL:
      return ScalarKind::kBool;
    case arrow::Type::TIMESTAMP:
      return ScalarKind::kUnixTimestamp;
    case arrow::Type::STRUCT:
    case arrow::Type::MAP:
      return ScalarKind::kJson;
    default:
      return Status::TypeError("Arrow type ", type.ToString(),
                               " has no feature type (use Int32, Int64, Float32, Float64, String, "
                               "Bytes, Bool, UnixTimestamp or a list of those, or a struct or "
                               "map for Json)");
  }
}

}  // namespace

Result<FeatureType> ParseFeatureType(std::string_view text) {
  FeatureType type;
  std::string_view inner = text;
  if (text.starts_with("Array(") && text.ends_with(")")) {
    inner = text.substr(6, text.size() - 7);
    type.is_array = true;
  } else if (text.ends_with("_LIST")) {
    inner = text.substr(0, text.size() - 5);
    type.is_array = true;
  }
  if (!ParseScalar(inner, type.kind) || (type.is_array && type.kind == ScalarKind::kJson)) {
    return Status::Invalid("unknown type '", text,
                           "' (expected Int32, Int64, Float32, Float64, String, Bytes, Bool, "
                           "UnixTimestamp or Array(T) of those, or Json, Map or Struct)");
  }
  return type;
}

std::string FormatFeatureType(FeatureType type) {
  std::string_view name;
  for (const KindName& entry : kKindNames) {
    if (entry.kind == type.kind) name = entry.dtype;
  }
  return type.is_array ? "Array(" + std::string(name) + ")" : std::string(name);
}

std::shared_ptr<arrow::DataType> ToArrowType(FeatureType type) {
  auto scalar = ScalarArrowType(type.kind);
  return type.is_array ? arrow::list(scalar) : scalar;
}

Result<FeatureType> FromArrowType(const arrow::DataType& type) {
  FeatureType out;
  const arrow::DataType* scalar = &type;
  if (type.id() == arrow::Type::LIST || type.id() == arrow::Type::LARGE_LIST ||
      type.id() == arrow::Type::LIST_VIEW || type.id() == arrow::Type::FIXED_SIZE_LIST) {
    out.is_array = true;
    scalar = arrow::internal::checked_cast<const arrow::BaseListType&>(type).value_type().get();
  }
  ARROW_ASSIGN_OR_RAISE(out.kind, ScalarFromArrow(*scalar));
  if (out.is_array && out.kind == ScalarKind::kJson) {
    return Status::TypeError("Arrow type ", type.ToString(),
                             " has no feature type (a list of structs or maps is not supported)");
  }
  return out;
}

bool KeyKindsCompatible(ScalarKind a, ScalarKind b) {
  auto is_integer = [](ScalarKind k) { return k == ScalarKind::kInt32 || k == ScalarKind::kInt64; };
  return a == b || (is_integer(a) && is_integer(b));
}

bool CastsOnRead(FeatureType column, FeatureType declared) {
  auto numeric = [](ScalarKind k) {
    return k == ScalarKind::kInt32 || k == ScalarKind::kInt64 || k == ScalarKind::kFloat32 ||
           k == ScalarKind::kFloat64;
  };
  if (declared.kind == ScalarKind::kJson) {
    return !column.is_array &&
           (column.kind == ScalarKind::kJson || column.kind == ScalarKind::kString);
  }
  return column.is_array == declared.is_array &&
         (column.kind == declared.kind || (numeric(column.kind) && numeric(declared.kind)));
}

}  // namespace headwater
