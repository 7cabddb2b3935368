#pragma once
// A JSON "df" ({"column": [values], ...}, as Feast's push and write endpoints take) to Arrow
// arrays of the types a feature view needs. Every value is checked; an error names the column,
// the row and the value, and nothing is written when any value is wrong.

#include <arrow/type_fwd.h>
#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>

#include "headwater/core/status.h"
#include "headwater/core/types.h"

namespace headwater::server {

/// The Arrow type a JSON column of `type` is read as: ToArrowType(type), but Float32 (and
/// Array(Float32)) as doubles, so the write path's one narrowing cast refuses what does not fit.
std::shared_ptr<arrow::DataType> JsonColumnType(FeatureType type);

/// The column `name` of `df` as an array of JsonColumnType(type) with `num_rows` rows. Integers
/// take JSON integers, floats any number, strings strings, Bytes strings (raw), Bool true/false,
/// UnixTimestamp ISO 8601 strings; null is null; arrays take JSON arrays. Missing column:
/// Invalid naming it.
Result<std::shared_ptr<arrow::Array>> ColumnFromJson(const rapidjson::Value& df,
                                                     const std::string& name, FeatureType type,
                                                     size_t num_rows);

/// The common length of the df's columns; Invalid when it is not an object of equal-length,
/// non-empty arrays or has more than `max_rows` rows.
Result<size_t> DataFrameRows(const rapidjson::Value& df, size_t max_rows);

/// The df as a table of the columns in `types` that it has, each read as its type; columns not
/// in `types` are ignored. Invalid as DataFrameRows and ColumnFromJson.
Result<std::shared_ptr<arrow::Table>> DataFrameFromJson(
    const rapidjson::Value& df, const std::map<std::string, FeatureType>& types, size_t max_rows);

}  // namespace headwater::server
