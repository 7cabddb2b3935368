#pragma once
// Feature value types, named as in Feast, and their Arrow representation.

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <string_view>

#include "headwater/core/status.h"

namespace headwater {

/// The scalar kinds a feature or join key can have.
enum class ScalarKind {
  kInt32,
  kInt64,
  kFloat32,
  kFloat64,
  kString,
  kBytes,
  kBool,
  kUnixTimestamp,
  /// A JSON document: Feast's Json, Map and Struct. Stored and served as its JSON text; read
  /// from a column of JSON text, or of Arrow structs or maps (converted by ReadAsFeature).
  kJson
};

/// A feature's type: a scalar kind, or an array of one (Feast's `Array(T)`).
struct FeatureType {
  ScalarKind kind = ScalarKind::kInt64;
  bool is_array = false;
  bool operator==(const FeatureType&) const = default;
};

/// Parses Feast's dtype names: Int32, Int64, Float32, Float64, String, Bytes, Bool,
/// UnixTimestamp, and Array(T) of those. Also accepts Feast's ValueType spellings (INT64,
/// STRING, FLOAT, DOUBLE, BOOL, UNIX_TIMESTAMP, INT64_LIST, ...), which entity definitions use.
Result<FeatureType> ParseFeatureType(std::string_view text);

/// The dtype name: "Float32", "Array(Int64)".
std::string FormatFeatureType(FeatureType type);

/// The Arrow type Headwater writes for a feature type (timestamps as microseconds, UTC).
std::shared_ptr<arrow::DataType> ToArrowType(FeatureType type);

/// The feature type of an Arrow column, or Invalid if Headwater cannot hold it. Strings and
/// binaries of any offset width, timestamps of any unit and lists of any offset width map to
/// the same feature type.
Result<FeatureType> FromArrowType(const arrow::DataType& type);

/// Whether a join key of kind `a` can be matched against one of kind `b`: integers match
/// integers (Int32 against Int64 included), strings match strings, bytes match bytes.
bool KeyKindsCompatible(ScalarKind a, ScalarKind b);

/// Whether a source column of type `column` is read as a feature declared `declared` by a cast
/// (as Feast casts): the same type, or numbers to numbers of any width (Float32 over a float64
/// column, Int32 over int64, Float64 over int64), arrays alike; Json over a column of structs,
/// maps or JSON text (engine::ReadAsFeature converts). A value that does not fit the
/// declared type (an int64 past Int32) is an error when read, naming the column.
bool CastsOnRead(FeatureType column, FeatureType declared);

}  // namespace headwater
