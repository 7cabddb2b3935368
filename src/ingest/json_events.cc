#include "headwater/ingest/json_events.h"

#include <arrow/api.h>
#include <rapidjson/document.h>

#include <cmath>
#include <limits>
#include <variant>

#include "headwater/core/json_reader.h"
#include "headwater/core/time.h"

namespace headwater::ingest {
namespace {

// One decoded value, checked before anything is appended.
using Value = std::variant<std::monostate, int64_t, double, bool, std::string>;

std::string_view JsonTypeName(const rapidjson::Value& value) {
  if (value.IsNull()) return "null";
  if (value.IsBool()) return "a boolean";
  if (value.IsNumber()) return "a number";
  if (value.IsString()) return "a string";
  if (value.IsArray()) return "an array";
  return "an object";
}

}  // namespace

struct JsonEventDecoder::Impl {
  std::shared_ptr<arrow::Schema> schema;
  std::vector<bool> required;
  std::vector<bool> bounded;  // event and created times: within the EventTimeBounds
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
  std::vector<Value> staged;
  rapidjson::Document document;

  Result<Value> Convert(const arrow::Field& field, const rapidjson::Value& json, bool bounded,
                        const EventTimeBounds& bounds) {
    auto mismatch = [&] {
      return Status::Invalid("field '", field.name(), "' is ", JsonTypeName(json), "; expected ",
                             field.type()->ToString());
    };
    auto out_of_range = [&](const auto& value) {
      return Status::Invalid("field '", field.name(), "': ", value, " is out of range for ",
                             field.type()->ToString());
    };
    switch (field.type()->id()) {
      case arrow::Type::INT8:
      case arrow::Type::INT16:
      case arrow::Type::INT32:
      case arrow::Type::INT64: {
        if (!json.IsInt64()) return mismatch();
        const int64_t value = json.GetInt64();
        const int bits = static_cast<const arrow::FixedWidthType&>(*field.type()).bit_width();
        if (bits < 64 &&
            (value < -(int64_t{1} << (bits - 1)) || value >= (int64_t{1} << (bits - 1)))) {
          return out_of_range(value);
        }
        return Value(value);
      }
      case arrow::Type::FLOAT:
      case arrow::Type::DOUBLE: {
        if (!json.IsNumber()) return mismatch();
        const double value = json.GetDouble();
        if (field.type()->id() == arrow::Type::FLOAT &&
            std::abs(value) > std::numeric_limits<float>::max()) {
          return out_of_range(value);
        }
        return Value(value);
      }
      case arrow::Type::BOOL:
        if (!json.IsBool()) return mismatch();
        return Value(json.GetBool());
      case arrow::Type::STRING:
      case arrow::Type::LARGE_STRING:
      case arrow::Type::BINARY:
      case arrow::Type::LARGE_BINARY:
        if (!json.IsString()) return mismatch();
        return Value(std::string(json.GetString(), json.GetStringLength()));
      case arrow::Type::TIMESTAMP: {
        int64_t micros;
        if (json.IsNumber()) {
          const double millis = json.GetDouble();
          if (!std::isfinite(millis) || std::abs(millis) > 9.2e15) return mismatch();
          micros = static_cast<int64_t>(std::llround(millis * 1000));
        } else if (json.IsString()) {
          auto time = ParseTimestamp(std::string_view(json.GetString(), json.GetStringLength()));
          if (!time.ok()) {
            return Status::Invalid("field '", field.name(), "': ", time.status().message());
          }
          micros = time->micros;
        } else {
          return mismatch();
        }
        if (bounded)
          ARROW_RETURN_NOT_OK(bounds.Check(Timestamp{micros}, "field '" + field.name() + "'"));
        const auto unit = static_cast<const arrow::TimestampType&>(*field.type()).unit();
        if (unit == arrow::TimeUnit::NANO && std::abs(micros) > INT64_MAX / 1000) {
          return out_of_range(FormatTimestamp(Timestamp{micros}));
        }
        return Value(micros);
      }
      default:
        return Status::Invalid("field '", field.name(), "' has type ", field.type()->ToString(),
                               ", which JSON messages cannot fill");
    }
  }

  Status Append(size_t column, const Value& value) {
    arrow::ArrayBuilder* builder = builders[column].get();
    if (std::holds_alternative<std::monostate>(value)) return builder->AppendNull();
    switch (builder->type()->id()) {
      case arrow::Type::INT8:
        return static_cast<arrow::Int8Builder*>(builder)->Append(
            static_cast<int8_t>(std::get<int64_t>(value)));
      case arrow::Type::INT16:
        return static_cast<arrow::Int16Builder*>(builder)->Append(
            static_cast<int16_t>(std::get<int64_t>(value)));
      case arrow::Type::INT32:
        return static_cast<arrow::Int32Builder*>(builder)->Append(
            static_cast<int32_t>(std::get<int64_t>(value)));
      case arrow::Type::INT64:
        return static_cast<arrow::Int64Builder*>(builder)->Append(std::get<int64_t>(value));
      case arrow::Type::TIMESTAMP: {
        // Stored in the column's own unit.
        const auto& type = static_cast<const arrow::TimestampType&>(*builder->type());
        int64_t micros = std::get<int64_t>(value);
        int64_t stored = type.unit() == arrow::TimeUnit::SECOND  ? micros / 1'000'000
                         : type.unit() == arrow::TimeUnit::MILLI ? micros / 1'000
                         : type.unit() == arrow::TimeUnit::MICRO ? micros
                                                                 : micros * 1'000;
        return static_cast<arrow::TimestampBuilder*>(builder)->Append(stored);
      }
      case arrow::Type::FLOAT:
        return static_cast<arrow::FloatBuilder*>(builder)->Append(
            static_cast<float>(std::get<double>(value)));
      case arrow::Type::DOUBLE:
        return static_cast<arrow::DoubleBuilder*>(builder)->Append(std::get<double>(value));
      case arrow::Type::BOOL:
        return static_cast<arrow::BooleanBuilder*>(builder)->Append(std::get<bool>(value));
      case arrow::Type::STRING:
        return static_cast<arrow::StringBuilder*>(builder)->Append(std::get<std::string>(value));
      case arrow::Type::LARGE_STRING:
        return static_cast<arrow::LargeStringBuilder*>(builder)->Append(
            std::get<std::string>(value));
      case arrow::Type::BINARY:
        return static_cast<arrow::BinaryBuilder*>(builder)->Append(std::get<std::string>(value));
      case arrow::Type::LARGE_BINARY:
        return static_cast<arrow::LargeBinaryBuilder*>(builder)->Append(
            std::get<std::string>(value));
      default:
        return Status::Invalid("unsupported column type");
    }
  }
};

JsonEventDecoder::JsonEventDecoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonEventDecoder::~JsonEventDecoder() = default;

Result<std::unique_ptr<JsonEventDecoder>> JsonEventDecoder::Make(
    std::shared_ptr<arrow::Schema> schema, std::vector<std::string> required,
    std::vector<std::string> event_times) {
  auto impl = std::make_unique<Impl>();
  auto contains = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (const auto& field : schema->fields()) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    ARROW_RETURN_NOT_OK(arrow::MakeBuilder(arrow::default_memory_pool(), field->type(), &builder));
    impl->builders.push_back(std::move(builder));
    impl->required.push_back(contains(required, field->name()));
    impl->bounded.push_back(contains(event_times, field->name()));
  }
  for (const auto& names : {required, event_times}) {
    for (const std::string& name : names) {
      if (schema->GetFieldByName(name) == nullptr) {
        return Status::Invalid("the message schema lacks column '", name, "'");
      }
    }
  }
  impl->staged.resize(static_cast<size_t>(schema->num_fields()));
  impl->schema = std::move(schema);
  return std::unique_ptr<JsonEventDecoder>(new JsonEventDecoder(std::move(impl)));
}

Status JsonEventDecoder::Append(std::string_view message, const EventTimeBounds& bounds) {
  Impl& impl = *impl_;
  ARROW_RETURN_NOT_OK(ParseJson(message, "the message", &impl.document));
  if (!impl.document.IsObject()) {
    return Status::Invalid("the message is ", JsonTypeName(impl.document), ", not an object");
  }
  const rapidjson::Value& object = impl.document;
  for (int c = 0; c < impl.schema->num_fields(); ++c) {
    const arrow::Field& field = *impl.schema->field(c);
    auto member = object.FindMember(field.name().c_str());
    Value& value = impl.staged[static_cast<size_t>(c)];
    if (member == object.MemberEnd() || member->value.IsNull()) {
      if (impl.required[static_cast<size_t>(c)]) {
        return Status::Invalid("field '", field.name(), "' is missing or null");
      }
      value = std::monostate{};
      continue;
    }
    ARROW_ASSIGN_OR_RAISE(
        value, impl.Convert(field, member->value, impl.bounded[static_cast<size_t>(c)], bounds));
  }
  for (size_t c = 0; c < impl.staged.size(); ++c) {
    ARROW_RETURN_NOT_OK(impl.Append(c, impl.staged[c]));
  }
  ++rows_;
  return Status::OK();
}

Result<std::shared_ptr<arrow::RecordBatch>> JsonEventDecoder::Flush() {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (auto& builder : impl_->builders) {
    std::shared_ptr<arrow::Array> array;
    ARROW_RETURN_NOT_OK(builder->Finish(&array));
    columns.push_back(std::move(array));
  }
  auto batch = arrow::RecordBatch::Make(impl_->schema, rows_, std::move(columns));
  rows_ = 0;
  return batch;
}

}  // namespace headwater::ingest
