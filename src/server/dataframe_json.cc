#include "dataframe_json.h"

#include <arrow/api.h>

#include <algorithm>

#include "headwater/core/time.h"
#include "headwater/online/online_reader.h"

namespace headwater::server {
namespace {

// Appends one JSON value to a builder of `kind`; `where` names it for errors.
Status AppendScalar(arrow::ArrayBuilder* builder, ScalarKind kind, const rapidjson::Value& value,
                    const std::string& where) {
  if (value.IsNull()) return builder->AppendNull();
  auto wrong = [&](const char* expected) {
    return Status::Invalid(where, ": expected ", expected, ", got ", online::DescribeJson(value));
  };
  switch (kind) {
    case ScalarKind::kInt32:
      if (!value.IsInt()) return wrong("a 32-bit integer");
      return static_cast<arrow::Int32Builder*>(builder)->Append(value.GetInt());
    case ScalarKind::kInt64:
      if (!value.IsInt64()) return wrong("an integer");
      return static_cast<arrow::Int64Builder*>(builder)->Append(value.GetInt64());
    case ScalarKind::kFloat32:  // read as a double; the write path narrows it, checking range
    case ScalarKind::kFloat64:
      if (!value.IsNumber()) return wrong("a number");
      return static_cast<arrow::DoubleBuilder*>(builder)->Append(value.GetDouble());
    case ScalarKind::kBool:
      if (!value.IsBool()) return wrong("true or false");
      return static_cast<arrow::BooleanBuilder*>(builder)->Append(value.GetBool());
    case ScalarKind::kString:
      if (!value.IsString()) return wrong("a string");
      return static_cast<arrow::StringBuilder*>(builder)->Append(value.GetString(),
                                                                 value.GetStringLength());
    case ScalarKind::kBytes:
      if (!value.IsString()) return wrong("a string");
      return static_cast<arrow::BinaryBuilder*>(builder)->Append(value.GetString(),
                                                                 value.GetStringLength());
    case ScalarKind::kUnixTimestamp: {
      if (!value.IsString()) return wrong("an ISO 8601 timestamp string");
      auto parsed = ParseTimestamp(std::string_view(value.GetString(), value.GetStringLength()));
      if (!parsed.ok()) return Status::Invalid(where, ": ", parsed.status().message());
      return static_cast<arrow::TimestampBuilder*>(builder)->Append(parsed->micros);
    }
  }
  return Status::Invalid(where, ": unsupported type");
}

}  // namespace

std::shared_ptr<arrow::DataType> JsonColumnType(FeatureType type) {
  if (type.kind == ScalarKind::kFloat32) type.kind = ScalarKind::kFloat64;
  return ToArrowType(type);
}

Result<size_t> DataFrameRows(const rapidjson::Value& df, size_t max_rows) {
  if (!df.IsObject() || df.MemberCount() == 0) {
    return Status::Invalid("df must be a JSON object of column -> list of values");
  }
  size_t rows = 0;
  bool first = true;
  for (const auto& member : df.GetObject()) {
    std::string name(member.name.GetString(), member.name.GetStringLength());
    if (!member.value.IsArray()) return Status::Invalid("df.", name, " must be a list of values");
    size_t n = member.value.Size();
    if (n == 0) return Status::Invalid("df.", name, " is empty");
    if (n > max_rows) {
      return Status::Invalid("df.", name, " has ", n, " rows; at most ", max_rows, " per request");
    }
    if (!first && n != rows)
      return Status::Invalid("df.", name, " has ", n, " values, others ", rows);
    rows = n;
    first = false;
  }
  return rows;
}

Result<std::shared_ptr<arrow::Array>> ColumnFromJson(const rapidjson::Value& df,
                                                     const std::string& name, FeatureType type,
                                                     size_t num_rows) {
  auto member = df.FindMember(name.c_str());
  if (member == df.MemberEnd()) return Status::Invalid("df lacks column '", name, "'");
  const rapidjson::Value& values = member->value;
  std::unique_ptr<arrow::ArrayBuilder> builder;
  ARROW_RETURN_NOT_OK(
      arrow::MakeBuilder(arrow::default_memory_pool(), JsonColumnType(type), &builder));
  ARROW_RETURN_NOT_OK(builder->Reserve(static_cast<int64_t>(num_rows)));
  for (rapidjson::SizeType row = 0; row < num_rows; ++row) {
    const rapidjson::Value& value = values[row];
    const std::string where = "df." + name + "[" + std::to_string(row) + "]";
    if (!type.is_array) {
      ARROW_RETURN_NOT_OK(AppendScalar(builder.get(), type.kind, value, where));
      continue;
    }
    auto* list = static_cast<arrow::ListBuilder*>(builder.get());
    if (value.IsNull()) {
      ARROW_RETURN_NOT_OK(list->AppendNull());
      continue;
    }
    if (!value.IsArray())
      return Status::Invalid(where, ": expected a list, got ", online::DescribeJson(value));
    ARROW_RETURN_NOT_OK(list->Append());
    for (rapidjson::SizeType e = 0; e < value.Size(); ++e) {
      ARROW_RETURN_NOT_OK(AppendScalar(list->value_builder(), type.kind, value[e],
                                       where + "[" + std::to_string(e) + "]"));
    }
  }
  std::shared_ptr<arrow::Array> array;
  ARROW_RETURN_NOT_OK(builder->Finish(&array));
  return array;
}

Result<std::shared_ptr<arrow::Table>> DataFrameFromJson(
    const rapidjson::Value& df, const std::map<std::string, FeatureType>& types, size_t max_rows) {
  ARROW_ASSIGN_OR_RAISE(size_t rows, DataFrameRows(df, max_rows));
  arrow::FieldVector fields;
  arrow::ArrayVector columns;
  for (const auto& member : df.GetObject()) {
    std::string name(member.name.GetString(), member.name.GetStringLength());
    auto type = types.find(name);
    if (type == types.end() || std::any_of(fields.begin(), fields.end(), [&](const auto& field) {
          return field->name() == name;
        })) {
      continue;  // not needed, or a repeated name (the first one counts)
    }
    ARROW_ASSIGN_OR_RAISE(auto column, ColumnFromJson(df, name, type->second, rows));
    fields.push_back(arrow::field(name, column->type()));
    columns.push_back(std::move(column));
  }
  return arrow::Table::Make(arrow::schema(std::move(fields)), columns, static_cast<int64_t>(rows));
}

}  // namespace headwater::server
