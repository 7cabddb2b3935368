#include "headwater/engine/feature_columns.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/compute/cast.h>
#include <arrow/util/checked_cast.h>
#include <rapidjson/document.h>

#include <string>

#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/core/time.h"

namespace headwater::engine {
namespace {

using arrow::internal::checked_cast;

// Appends row `i` of `array` as one JSON value.
Status AppendJson(const arrow::Array& array, int64_t i, JsonWriter* out) {
  if (array.IsNull(i)) {
    out->Null();
    return Status::OK();
  }
  switch (array.type_id()) {
    case arrow::Type::BOOL:
      out->Bool(checked_cast<const arrow::BooleanArray&>(array).Value(i));
      return Status::OK();
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
    case arrow::Type::UINT32: {
      ARROW_ASSIGN_OR_RAISE(auto scalar, array.GetScalar(i));
      ARROW_ASSIGN_OR_RAISE(auto wide, scalar->CastTo(arrow::int64()));
      out->Int(checked_cast<const arrow::Int64Scalar&>(*wide).value);
      return Status::OK();
    }
    case arrow::Type::FLOAT:
      out->Float(checked_cast<const arrow::FloatArray&>(array).Value(i));
      return Status::OK();
    case arrow::Type::DOUBLE:
      out->Double(checked_cast<const arrow::DoubleArray&>(array).Value(i));
      return Status::OK();
    case arrow::Type::STRING:
      out->String(checked_cast<const arrow::StringArray&>(array).GetView(i));
      return Status::OK();
    case arrow::Type::LARGE_STRING:
      out->String(checked_cast<const arrow::LargeStringArray&>(array).GetView(i));
      return Status::OK();
    case arrow::Type::TIMESTAMP: {
      ARROW_ASSIGN_OR_RAISE(auto scalar, array.GetScalar(i));
      ARROW_ASSIGN_OR_RAISE(auto micros, scalar->CastTo(arrow::timestamp(arrow::TimeUnit::MICRO)));
      out->String(
          FormatTimestamp(Timestamp{checked_cast<const arrow::TimestampScalar&>(*micros).value}));
      return Status::OK();
    }
    case arrow::Type::STRUCT: {
      const auto& structs = checked_cast<const arrow::StructArray&>(array);
      out->BeginObject();
      for (int f = 0; f < structs.num_fields(); ++f) {
        out->Key(structs.struct_type()->field(f)->name());
        ARROW_RETURN_NOT_OK(AppendJson(*structs.field(f), i, out));
      }
      out->EndObject();
      return Status::OK();
    }
    case arrow::Type::MAP: {
      const auto& maps = checked_cast<const arrow::MapArray&>(array);
      const auto& keys = *maps.keys();
      out->BeginObject();
      for (int64_t j = maps.value_offset(i); j < maps.value_offset(i + 1); ++j) {
        ARROW_ASSIGN_OR_RAISE(auto key, keys.GetScalar(j));
        out->Key(key->ToString());
        ARROW_RETURN_NOT_OK(AppendJson(*maps.items(), j, out));
      }
      out->EndObject();
      return Status::OK();
    }
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: {
      ARROW_ASSIGN_OR_RAISE(auto scalar, array.GetScalar(i));
      const auto& values = *checked_cast<const arrow::BaseListScalar&>(*scalar).value;
      out->BeginArray();
      for (int64_t j = 0; j < values.length(); ++j) {
        ARROW_RETURN_NOT_OK(AppendJson(values, j, out));
      }
      out->EndArray();
      return Status::OK();
    }
    default:
      return Status::TypeError("a ", array.type()->ToString(), " value has no JSON form");
  }
}

Result<std::shared_ptr<arrow::Array>> DocumentsAsJson(std::shared_ptr<arrow::Array> in) {
  if (in->type_id() == arrow::Type::LARGE_STRING || in->type_id() == arrow::Type::STRING_VIEW) {
    ARROW_ASSIGN_OR_RAISE(in, arrow::compute::Cast(*in, arrow::utf8()));
  }
  const arrow::Array& column = *in;
  arrow::StringBuilder builder;
  ARROW_RETURN_NOT_OK(builder.Reserve(column.length()));
  const bool text = column.type_id() == arrow::Type::STRING;
  rapidjson::Document document;
  for (int64_t i = 0; i < column.length(); ++i) {
    if (column.IsNull(i)) {
      ARROW_RETURN_NOT_OK(builder.AppendNull());
      continue;
    }
    if (text) {
      auto value = checked_cast<const arrow::StringArray&>(column).GetView(i);
      Status valid = ParseJson(value, "value", &document);
      if (!valid.ok()) {
        return Status::Invalid("row ", i, " is not a JSON document: ", valid.message());
      }
      ARROW_RETURN_NOT_OK(builder.Append(value));
      continue;
    }
    JsonWriter out;
    ARROW_RETURN_NOT_OK(AppendJson(column, i, &out));
    ARROW_RETURN_NOT_OK(builder.Append(out.str()));
  }
  return builder.Finish();
}

}  // namespace

Result<std::shared_ptr<arrow::Array>> ReadAsFeature(const std::shared_ptr<arrow::Array>& column,
                                                    FeatureType declared) {
  if (declared.kind == ScalarKind::kJson) return DocumentsAsJson(column);
  const auto type = ToArrowType(declared);
  if (column->type()->Equals(*type)) return column;
  arrow::compute::CastOptions options = arrow::compute::CastOptions::Safe(type);
  options.allow_time_truncate = true;
  ARROW_ASSIGN_OR_RAISE(auto cast, arrow::compute::Cast(*column, type, options));
  return cast;
}

}  // namespace headwater::engine
