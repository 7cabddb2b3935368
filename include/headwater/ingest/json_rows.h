#pragma once
// JSON rows to Arrow, by one set of rules for every input that carries rows as JSON: pushed and
// written dfs and online entity rows (columns of values), and Kafka messages (an object a row).
//
//   integer columns, any width  a JSON integer within the column's range (1.5 and "1" refused)
//   float, double               any JSON number; a float column refuses one beyond its range
//   bool                        true or false
//   string, binary              a JSON string (binary: its bytes)
//   timestamp, any unit         ISO 8601 text, or a number of milliseconds since the epoch
//   list<T>                     a JSON array of T's values
//   any column                  null is null
//
// Strings are UTF-8 already (core/json_reader.h refuses anything else before parsing).

#include <arrow/type_fwd.h>
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "headwater/core/status.h"
#include "headwater/core/types.h"

namespace headwater::ingest {

/// Names a JSON value's kind for messages: "the string \"abc\"" (its first 40 bytes),
/// "an integer", "a non-integer number", "a boolean", "null", "an array", "an object".
std::string DescribeJson(const rapidjson::Value& value);

/// One JSON value read as a column type and checked, ready to append.
struct JsonCell {
  enum class Kind : uint8_t { kNull, kInteger, kReal, kBoolean, kBytes, kList };
  Kind kind = Kind::kNull;
  int64_t integer = 0;  // integers; timestamps in the column's own unit
  double real = 0;
  bool boolean = false;
  std::string_view bytes;                  // into the document
  const rapidjson::Value* list = nullptr;  // a list's elements, each checked already
};

/// Reads `value` as a value of `type` by the rules above into `cell`. Invalid when it does not
/// fit, saying what was expected and what came ("expected an integer, got the string \"1\"",
/// "40000 is out of range for int16"), without a location: callers put theirs first.
Status ReadJsonValue(const rapidjson::Value& value, const arrow::DataType& type, JsonCell* cell);

/// Appends a cell that ReadJsonValue read for the builder's type.
Status AppendJsonCell(const JsonCell& cell, arrow::ArrayBuilder* builder);

/// The Arrow types to read JSON columns of feature types with: ToArrowType, but Float32 (and
/// Array(Float32)) as doubles, so the write path's one narrowing cast (writes.h) refuses what
/// does not fit, naming the row.
std::map<std::string, std::shared_ptr<arrow::DataType>> JsonColumnTypes(
    const std::map<std::string, FeatureType>& types);

/// The most rows one JSON object of columns may carry.
constexpr size_t kMaxJsonRows = 100'000;

/// Checks the shape of an object of columns ({"column": [values], ...}, Feast's `df` and
/// `entities`) and returns its row count: Invalid, starting with `name`, unless it is an object
/// of equal-length, non-empty arrays of at most `max_rows` values.
Result<size_t> CheckJsonColumns(const rapidjson::Value& object, std::string_view name,
                                size_t max_rows = kMaxJsonRows);

/// ReadJsonValue for row `row` of column `column` of object `name`, the message located
/// ("df.rate[3]: expected a number, got ...").
Status ReadJsonColumnValue(const rapidjson::Value& value, const arrow::DataType& type,
                           std::string_view name, std::string_view column, size_t row,
                           JsonCell* cell);

/// An object of columns ({"column": [values], ...}, Feast's `df` and `entities`) as a batch of
/// the columns `types` names that it has, in the object's order, each read as its type; other
/// columns are ignored, a repeated name counts once. `name` ("df", "entities") starts every
/// message. Invalid when it is not an object of equal-length, non-empty arrays, has more than
/// `max_rows` rows, or a value does not read ("df.rate[3]: expected a number, got ...").
Result<std::shared_ptr<arrow::RecordBatch>> ReadJsonColumns(
    const rapidjson::Value& object,
    const std::map<std::string, std::shared_ptr<arrow::DataType>>& types, std::string_view name,
    size_t max_rows = kMaxJsonRows);

}  // namespace headwater::ingest
