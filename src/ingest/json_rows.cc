#include "headwater/ingest/json_rows.h"

#include <arrow/api.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "headwater/core/time.h"

namespace headwater::ingest {
namespace {

Status Expected(const char* what, const rapidjson::Value& value) {
  return Status::Invalid("expected ", what, ", got ", DescribeJson(value));
}

// Integer columns: the JSON integer must fit the column's width and sign.
Status ReadInteger(const rapidjson::Value& value, const arrow::DataType& type, JsonCell* cell) {
  const int bits = static_cast<const arrow::FixedWidthType&>(type).bit_width();
  const bool is_signed = arrow::is_signed_integer(type.id());
  if (is_signed ? !value.IsInt64() : !value.IsUint64()) {
    if (value.IsInt64()) {
      return Status::Invalid(value.GetInt64(), " is out of range for ", type.ToString());
    }
    if (value.IsUint64()) {
      return Status::Invalid(value.GetUint64(), " is out of range for ", type.ToString());
    }
    return Expected("an integer", value);
  }
  if (is_signed) {
    const int64_t v = value.GetInt64();
    if (bits < 64 && (v < -(int64_t{1} << (bits - 1)) || v >= (int64_t{1} << (bits - 1)))) {
      return Status::Invalid(v, " is out of range for ", type.ToString());
    }
    cell->integer = v;
  } else {
    const uint64_t v = value.GetUint64();
    if (v > (bits < 64 ? (uint64_t{1} << bits) - 1 : uint64_t{INT64_MAX})) {
      return Status::Invalid(v, " is out of range for ", type.ToString());
    }
    cell->integer = static_cast<int64_t>(v);
  }
  cell->kind = JsonCell::Kind::kInteger;
  return Status::OK();
}

// Timestamps: ISO 8601 text or epoch milliseconds (Kafka's unit), kept in the column's unit.
Status ReadTimestamp(const rapidjson::Value& value, const arrow::TimestampType& type,
                     JsonCell* cell) {
  int64_t micros;
  if (value.IsNumber()) {
    const double millis = value.GetDouble();
    if (!std::isfinite(millis) || std::abs(millis) > 9.2e15) {
      return Status::Invalid(fmt::format("{}", millis), " is out of range for a timestamp");
    }
    micros = static_cast<int64_t>(std::llround(millis * 1000));
  } else if (value.IsString()) {
    ARROW_ASSIGN_OR_RAISE(Timestamp time, ParseTimestamp(std::string_view(
                                              value.GetString(), value.GetStringLength())));
    micros = time.micros;
  } else {
    return Expected("an ISO 8601 timestamp or epoch milliseconds", value);
  }
  switch (type.unit()) {
    case arrow::TimeUnit::SECOND:
      cell->integer = micros / 1'000'000;
      break;
    case arrow::TimeUnit::MILLI:
      cell->integer = micros / 1'000;
      break;
    case arrow::TimeUnit::MICRO:
      cell->integer = micros;
      break;
    case arrow::TimeUnit::NANO:
      if (std::abs(micros) > INT64_MAX / 1000) {
        return Status::Invalid(FormatTimestamp(Timestamp{micros}), " is out of range for ",
                               type.ToString());
      }
      cell->integer = micros * 1000;
      break;
  }
  cell->kind = JsonCell::Kind::kInteger;
  return Status::OK();
}

}  // namespace

std::string DescribeJson(const rapidjson::Value& value) {
  if (value.IsString()) {
    return "the string \"" +
           std::string(value.GetString(), std::min<size_t>(value.GetStringLength(), 40)) + "\"";
  }
  if (value.IsNull()) return "null";
  if (value.IsBool()) return "a boolean";
  if (value.IsNumber()) return value.IsInt64() ? "an integer" : "a non-integer number";
  return value.IsArray() ? "an array" : "an object";
}

Status ReadJsonValue(const rapidjson::Value& value, const arrow::DataType& type, JsonCell* cell) {
  *cell = JsonCell{};
  if (value.IsNull() || type.id() == arrow::Type::NA) return Status::OK();  // NA: echoed as null
  switch (type.id()) {
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::UINT8:
    case arrow::Type::UINT16:
    case arrow::Type::UINT32:
    case arrow::Type::UINT64:
      return ReadInteger(value, type, cell);
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
      if (!value.IsNumber()) return Expected("a number", value);
      cell->real = value.GetDouble();
      if (type.id() == arrow::Type::FLOAT &&
          std::abs(cell->real) > std::numeric_limits<float>::max()) {
        return Status::Invalid(fmt::format("{}", cell->real), " is out of range for float");
      }
      cell->kind = JsonCell::Kind::kReal;
      return Status::OK();
    case arrow::Type::BOOL:
      if (!value.IsBool()) return Expected("true or false", value);
      cell->boolean = value.GetBool();
      cell->kind = JsonCell::Kind::kBoolean;
      return Status::OK();
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
      if (!value.IsString()) return Expected("a string", value);
      cell->bytes = std::string_view(value.GetString(), value.GetStringLength());
      cell->kind = JsonCell::Kind::kBytes;
      return Status::OK();
    case arrow::Type::TIMESTAMP:
      return ReadTimestamp(value, static_cast<const arrow::TimestampType&>(type), cell);
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: {
      if (!value.IsArray()) return Expected("a list", value);
      const arrow::DataType& element_type = *type.field(0)->type();
      JsonCell element;
      for (rapidjson::SizeType e = 0; e < value.Size(); ++e) {
        Status read = ReadJsonValue(value[e], element_type, &element);
        if (!read.ok()) return Status::Invalid("[", e, "]: ", read.message());
      }
      cell->list = &value;
      cell->kind = JsonCell::Kind::kList;
      return Status::OK();
    }
    default:
      return Status::Invalid("a column of type ", type.ToString(), " cannot be read from JSON");
  }
}

Status AppendJsonCell(const JsonCell& cell, arrow::ArrayBuilder* builder) {
  if (cell.kind == JsonCell::Kind::kNull) return builder->AppendNull();
  switch (builder->type()->id()) {
    case arrow::Type::INT8:
      return static_cast<arrow::Int8Builder*>(builder)->Append(static_cast<int8_t>(cell.integer));
    case arrow::Type::INT16:
      return static_cast<arrow::Int16Builder*>(builder)->Append(static_cast<int16_t>(cell.integer));
    case arrow::Type::INT32:
      return static_cast<arrow::Int32Builder*>(builder)->Append(static_cast<int32_t>(cell.integer));
    case arrow::Type::INT64:
      return static_cast<arrow::Int64Builder*>(builder)->Append(cell.integer);
    case arrow::Type::UINT8:
      return static_cast<arrow::UInt8Builder*>(builder)->Append(static_cast<uint8_t>(cell.integer));
    case arrow::Type::UINT16:
      return static_cast<arrow::UInt16Builder*>(builder)->Append(
          static_cast<uint16_t>(cell.integer));
    case arrow::Type::UINT32:
      return static_cast<arrow::UInt32Builder*>(builder)->Append(
          static_cast<uint32_t>(cell.integer));
    case arrow::Type::UINT64:
      return static_cast<arrow::UInt64Builder*>(builder)->Append(
          static_cast<uint64_t>(cell.integer));
    case arrow::Type::TIMESTAMP:
      return static_cast<arrow::TimestampBuilder*>(builder)->Append(cell.integer);
    case arrow::Type::FLOAT:
      return static_cast<arrow::FloatBuilder*>(builder)->Append(static_cast<float>(cell.real));
    case arrow::Type::DOUBLE:
      return static_cast<arrow::DoubleBuilder*>(builder)->Append(cell.real);
    case arrow::Type::BOOL:
      return static_cast<arrow::BooleanBuilder*>(builder)->Append(cell.boolean);
    case arrow::Type::STRING:
      return static_cast<arrow::StringBuilder*>(builder)->Append(cell.bytes);
    case arrow::Type::LARGE_STRING:
      return static_cast<arrow::LargeStringBuilder*>(builder)->Append(cell.bytes);
    case arrow::Type::BINARY:
      return static_cast<arrow::BinaryBuilder*>(builder)->Append(cell.bytes);
    case arrow::Type::LARGE_BINARY:
      return static_cast<arrow::LargeBinaryBuilder*>(builder)->Append(cell.bytes);
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST: {
      auto* values = builder->type()->id() == arrow::Type::LIST
                         ? static_cast<arrow::ListBuilder*>(builder)->value_builder()
                         : static_cast<arrow::LargeListBuilder*>(builder)->value_builder();
      ARROW_RETURN_NOT_OK(builder->type()->id() == arrow::Type::LIST
                              ? static_cast<arrow::ListBuilder*>(builder)->Append()
                              : static_cast<arrow::LargeListBuilder*>(builder)->Append());
      JsonCell element;
      for (const auto& value : cell.list->GetArray()) {
        ARROW_RETURN_NOT_OK(ReadJsonValue(value, *values->type(), &element));
        ARROW_RETURN_NOT_OK(AppendJsonCell(element, values));
      }
      return Status::OK();
    }
    default:
      return Status::Invalid("cannot append to a column of type ", builder->type()->ToString());
  }
}

std::map<std::string, std::shared_ptr<arrow::DataType>> JsonColumnTypes(
    const std::map<std::string, FeatureType>& types) {
  std::map<std::string, std::shared_ptr<arrow::DataType>> out;
  for (auto [name, type] : types) {
    if (type.kind == ScalarKind::kFloat32) type.kind = ScalarKind::kFloat64;
    out.emplace(name, ToArrowType(type));
  }
  return out;
}

Result<size_t> CheckJsonColumns(const rapidjson::Value& object, std::string_view name,
                                size_t max_rows) {
  if (!object.IsObject() || object.MemberCount() == 0) {
    return Status::Invalid(name, " must be a JSON object of column -> list of values");
  }
  size_t rows = 0;
  std::string_view first;
  for (const auto& member : object.GetObject()) {
    const std::string_view column(member.name.GetString(), member.name.GetStringLength());
    if (!member.value.IsArray()) {
      return Status::Invalid(name, ".", column, " must be a list of values, not ",
                             DescribeJson(member.value));
    }
    const size_t n = member.value.Size();
    if (n == 0) return Status::Invalid(name, ".", column, " is empty");
    if (n > max_rows) {
      return Status::Invalid(name, ".", column, " has ", n, " values; at most ", max_rows,
                             " rows per request");
    }
    if (!first.empty() && n != rows) {
      return Status::Invalid(name, ".", column, " has ", n, " values but ", name, ".", first,
                             " has ", rows);
    }
    if (first.empty()) first = column;
    rows = n;
  }
  return rows;
}

Status ReadJsonColumnValue(const rapidjson::Value& value, const arrow::DataType& type,
                           std::string_view name, std::string_view column, size_t row,
                           JsonCell* cell) {
  Status read = ReadJsonValue(value, type, cell);
  if (read.ok()) return read;
  return Status::Invalid(name, ".", column, "[", row, "]",
                         read.message().front() == '[' ? "" : ": ", read.message());
}

Result<std::shared_ptr<arrow::RecordBatch>> ReadJsonColumns(
    const rapidjson::Value& object,
    const std::map<std::string, std::shared_ptr<arrow::DataType>>& types, std::string_view name,
    size_t max_rows) {
  ARROW_ASSIGN_OR_RAISE(const size_t rows, CheckJsonColumns(object, name, max_rows));
  arrow::FieldVector fields;
  arrow::ArrayVector columns;
  JsonCell cell;
  for (const auto& member : object.GetObject()) {
    const std::string column(member.name.GetString(), member.name.GetStringLength());
    auto type = types.find(column);
    if (type == types.end() || std::any_of(fields.begin(), fields.end(), [&](const auto& field) {
          return field->name() == column;
        })) {
      continue;  // not needed, or a repeated name (the first one counts)
    }
    std::unique_ptr<arrow::ArrayBuilder> builder;
    ARROW_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), type->second, &builder));
    ARROW_RETURN_NOT_OK(builder->Reserve(static_cast<int64_t>(rows)));
    for (rapidjson::SizeType row = 0; row < rows; ++row) {
      ARROW_RETURN_NOT_OK(
          ReadJsonColumnValue(member.value[row], *type->second, name, column, row, &cell));
      ARROW_RETURN_NOT_OK(AppendJsonCell(cell, builder.get()));
    }
    ARROW_ASSIGN_OR_RAISE(auto array, builder->Finish());
    fields.push_back(arrow::field(column, type->second));
    columns.push_back(std::move(array));
  }
  return arrow::RecordBatch::Make(arrow::schema(std::move(fields)), static_cast<int64_t>(rows),
                                  std::move(columns));
}

}  // namespace headwater::ingest
