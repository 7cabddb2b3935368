#include "headwater/ingest/json_events.h"

#include <arrow/api.h>
#include <rapidjson/document.h>

#include <algorithm>

#include "headwater/core/json_reader.h"
#include "headwater/ingest/json_rows.h"

namespace headwater::ingest {
namespace {

std::string_view JsonTypeName(const rapidjson::Value& value) {
  if (value.IsNull()) return "null";
  if (value.IsBool()) return "a boolean";
  if (value.IsNumber()) return "a number";
  if (value.IsString()) return "a string";
  if (value.IsArray()) return "an array";
  return "an object";
}

// A timestamp cell's value (in its column's unit) as microseconds, for the bounds.
int64_t Micros(int64_t value, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND:
      return value * 1'000'000;
    case arrow::TimeUnit::MILLI:
      return value * 1'000;
    case arrow::TimeUnit::MICRO:
      return value;
    case arrow::TimeUnit::NANO:
      return value / 1'000;
  }
  return value;
}

}  // namespace

struct JsonEventDecoder::Impl {
  std::shared_ptr<arrow::Schema> schema;
  std::vector<bool> required;
  std::vector<bool> bounded;  // event and created times: within the EventTimeBounds
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders;
  std::vector<JsonCell> staged;  // a message's values, checked before any is appended
  // One message at a time, in a pool emptied before each: a rapidjson document reused for many
  // parses keeps every earlier value's memory in its pool (the soak test saw the server grow by
  // the Kafka input's size, 1.2 MB/s). The buffer is the pool's first chunk, which Clear keeps.
  char buffer[64 << 10];
  rapidjson::MemoryPoolAllocator<> allocator{buffer, sizeof(buffer)};
  rapidjson::Document document{&allocator};
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
    impl->bounded.push_back(contains(event_times, field->name()) &&
                            field->type()->id() == arrow::Type::TIMESTAMP);
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
  impl.document.SetNull();
  impl.allocator.Clear();
  ARROW_RETURN_NOT_OK(ParseJson(message, "the message", &impl.document));
  if (!impl.document.IsObject()) {
    return Status::Invalid("the message is ", JsonTypeName(impl.document), ", not an object");
  }
  const rapidjson::Value& object = impl.document;
  for (int c = 0; c < impl.schema->num_fields(); ++c) {
    const arrow::Field& field = *impl.schema->field(c);
    const auto column = static_cast<size_t>(c);
    JsonCell& cell = impl.staged[column];
    auto member = object.FindMember(field.name().c_str());
    if (member == object.MemberEnd() || member->value.IsNull()) {
      if (impl.required[column]) {
        return Status::Invalid("field '", field.name(), "' is missing or null");
      }
      cell = JsonCell{};
      continue;
    }
    Status read = ReadJsonValue(member->value, *field.type(), &cell);
    if (!read.ok()) return Status::Invalid("field '", field.name(), "': ", read.message());
    if (impl.bounded[column]) {
      const auto unit = static_cast<const arrow::TimestampType&>(*field.type()).unit();
      ARROW_RETURN_NOT_OK(
          bounds.Check(Timestamp{Micros(cell.integer, unit)}, "field '" + field.name() + "'"));
    }
  }
  for (size_t c = 0; c < impl.staged.size(); ++c) {
    ARROW_RETURN_NOT_OK(AppendJsonCell(impl.staged[c], impl.builders[c].get()));
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
