#include "headwater/server/online_json.h"

#include <arrow/type.h>

#include "headwater/core/json_writer.h"
#include "headwater/core/time.h"
#include "headwater/ingest/json_rows.h"

namespace headwater::server {
namespace {

// Statuses (by FeatureStatus) and the epoch as JSON strings: plain ASCII, written without the
// escaping pass.
constexpr std::string_view kQuotedStatuses[] = {"\"PRESENT\"", "\"NULL_VALUE\"", "\"NOT_FOUND\"",
                                                "\"OUTSIDE_MAX_AGE\""};
constexpr std::string_view kQuotedEpoch = "\"1970-01-01T00:00:00Z\"";

// Stored values as JSON: bytes as base64, timestamps as ISO 8601 text, Float32 in its shortest
// round-trip form, NaN and infinities (never PRESENT) as null.
class JsonValues final : public online::ValueVisitor {
 public:
  explicit JsonValues(JsonWriter* out) : out_(out) {}
  void Null() override { out_->Null(); }
  void Int(int64_t value) override { out_->Int(value); }
  void Float(float value) override { out_->Float(value); }
  void Double(double value) override { out_->Double(value); }
  void Bool(bool value) override { out_->Bool(value); }
  void Time(Timestamp value) override { out_->String(FormatTimestamp(value)); }
  void String(std::string_view value) override { out_->String(value); }
  // Stored Json values were checked to be JSON documents when written.
  void Json(std::string_view text) override { out_->Raw(text); }
  void Bytes(std::string_view value) override {
    std::string encoded;
    AppendBase64(value, &encoded);
    out_->String(encoded);
  }
  void BeginList(uint32_t) override { out_->BeginArray(); }
  void EndList() override { out_->EndArray(); }

 private:
  JsonWriter* out_;
};

// An entity column as it was sent: integers, strings (bytes keys too), numbers, booleans and
// times (request values) as they were, anything else as null.
void WriteEntityValues(const online::EntityColumn& column, int64_t num_rows, JsonWriter* out) {
  using Kind = online::EntityColumn::Kind;
  for (size_t row = 0; row < static_cast<size_t>(num_rows); ++row) {
    if (!column.IsValid(row)) {
      out->Null();
      continue;
    }
    switch (column.kind) {
      case Kind::kInt:
        out->Int(column.ints[row]);
        break;
      case Kind::kDouble:
        out->Double(column.doubles[row]);
        break;
      case Kind::kBool:
        out->Bool(column.ints[row] != 0);
        break;
      case Kind::kTime:
        out->String(FormatTimestamp(Timestamp{column.ints[row]}));
        break;
      default:
        out->String(column.strings[row]);
        break;
    }
  }
}

// The type a join key or request value is read as, and the entity column kind it becomes.
std::pair<std::shared_ptr<arrow::DataType>, online::EntityColumn::Kind> JsonColumnType(
    ScalarKind kind) {
  using Kind = online::EntityColumn::Kind;
  switch (kind) {
    case ScalarKind::kString:
      return {arrow::utf8(), Kind::kString};
    case ScalarKind::kBytes:
      return {arrow::binary(), Kind::kBytes};
    case ScalarKind::kFloat32:
    case ScalarKind::kFloat64:
      return {arrow::float64(), Kind::kDouble};
    case ScalarKind::kBool:
      return {arrow::boolean(), Kind::kBool};
    case ScalarKind::kUnixTimestamp:
      return {arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), Kind::kTime};
    default:
      return {arrow::int64(), Kind::kInt};
  }
}

// A member no requested view reads is only echoed: kept when it is plainly integers or plainly
// strings, null otherwise.
void ReadEchoColumn(const rapidjson::Value& values, online::EntityColumn* column) {
  bool integers = true, strings = true, nulls = false;
  for (const auto& value : values.GetArray()) {
    integers = integers && (value.IsNull() || value.IsInt64());
    strings = strings && (value.IsNull() || value.IsString());
    nulls = nulls || value.IsNull();
  }
  if (!integers && !strings) return;  // kOther
  column->kind = integers ? online::EntityColumn::Kind::kInt : online::EntityColumn::Kind::kString;
  if (nulls) column->valid.reserve(values.Size());
  for (const auto& value : values.GetArray()) {
    if (nulls) column->valid.push_back(value.IsNull() ? 0 : 1);
    if (integers) {
      column->ints.push_back(value.IsNull() ? 0 : value.GetInt64());
    } else {
      column->strings.push_back(value.IsNull()
                                    ? std::string_view()
                                    : std::string_view(value.GetString(), value.GetStringLength()));
    }
  }
}

}  // namespace

Result<online::EntityRows> EntitiesFromJson(
    const rapidjson::Value& entities, const std::map<std::string, FeatureType>& column_types) {
  if (!entities.IsObject() || entities.MemberCount() == 0) {
    return Status::Invalid(
        "entities must be a JSON object of join key -> list of values, "
        "e.g. {\"driver_id\": [1001, 1002]}");
  }
  online::EntityRows rows;
  ARROW_ASSIGN_OR_RAISE(const size_t num_rows, ingest::CheckJsonColumns(entities, "entities"));
  rows.num_rows = static_cast<int64_t>(num_rows);
  rows.columns.reserve(entities.MemberCount());
  ingest::JsonCell cell;
  for (const auto& member : entities.GetObject()) {
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (rows.Find(name) != nullptr) continue;  // a repeated name: the first one counts
    online::EntityColumn& column = rows.columns.emplace_back();
    column.name = name;
    auto known = column_types.find(std::string(name));
    if (known == column_types.end()) {
      ReadEchoColumn(member.value, &column);
      continue;
    }
    const auto [type, kind] = JsonColumnType(known->second.kind);
    column.kind = kind;
    for (size_t row = 0; row < num_rows; ++row) {
      ARROW_RETURN_NOT_OK(
          ingest::ReadJsonColumnValue(member.value[static_cast<rapidjson::SizeType>(row)], *type,
                                      "entities", name, row, &cell));
      if (cell.kind == ingest::JsonCell::Kind::kNull) {
        if (column.valid.empty()) column.valid.assign(num_rows, 1);
        column.valid[row] = 0;
      }
      switch (kind) {
        case online::EntityColumn::Kind::kString:
        case online::EntityColumn::Kind::kBytes:
          column.strings.push_back(cell.bytes);
          break;
        case online::EntityColumn::Kind::kDouble:
          column.doubles.push_back(cell.kind == ingest::JsonCell::Kind::kInteger
                                       ? static_cast<double>(cell.integer)
                                       : cell.real);
          break;
        case online::EntityColumn::Kind::kBool:
          column.ints.push_back(cell.boolean ? 1 : 0);
          break;
        default:
          column.ints.push_back(cell.integer);
          break;
      }
    }
  }
  return rows;
}

std::string OnlineFeaturesJson(const online::EntityRows& entities,
                               const online::OnlineFeatures& features) {
  const int64_t num_rows = features.num_rows();
  const size_t num_features = features.feature_names().size();
  JsonWriter out;
  // About 48 bytes a cell (value, status, timestamp): one allocation for the whole response.
  out.Reserve(256 + static_cast<size_t>(num_rows) * (entities.columns.size() + num_features) * 48);
  out.BeginObject().Key("metadata").BeginObject().Key("feature_names").BeginArray();
  for (const auto& column : entities.columns) {
    if (features.Echoes(column.name)) out.String(column.name);
  }
  for (const std::string& name : features.feature_names()) out.String(name);
  out.EndArray().EndObject().Key("results").BeginArray();
  for (const auto& column : entities.columns) {
    if (!features.Echoes(column.name)) continue;
    out.BeginObject().Key("values").BeginArray();
    WriteEntityValues(column, num_rows, &out);
    out.EndArray().Key("statuses").BeginArray();
    for (int64_t row = 0; row < num_rows; ++row) out.Raw(kQuotedStatuses[0]);
    out.EndArray().Key("event_timestamps").BeginArray();
    for (int64_t row = 0; row < num_rows; ++row) out.Raw(kQuotedEpoch);
    out.EndArray().EndObject();
  }
  // Features of one view share each row's event time: a time is formatted (quoted, as it never
  // needs escaping) once per run of features that repeat it.
  std::vector<int64_t> formatted_micros(static_cast<size_t>(num_rows), 0);
  std::vector<std::string> formatted(static_cast<size_t>(num_rows), std::string(kQuotedEpoch));
  JsonValues values(&out);
  for (size_t f = 0; f < num_features; ++f) {
    out.BeginObject().Key("values").BeginArray();
    for (int64_t row = 0; row < num_rows; ++row) features.Visit(f, row, &values);
    out.EndArray().Key("statuses").BeginArray();
    for (int64_t row = 0; row < num_rows; ++row) {
      out.Raw(kQuotedStatuses[static_cast<size_t>(features.status(f, row))]);
    }
    out.EndArray().Key("event_timestamps").BeginArray();
    for (int64_t row = 0; row < num_rows; ++row) {
      const auto r = static_cast<size_t>(row);
      const int64_t micros = features.event_time(f, row).micros;
      if (formatted_micros[r] != micros) {
        formatted_micros[r] = micros;
        formatted[r] = '"' + FormatTimestamp(Timestamp{micros}) + '"';
      }
      out.Raw(formatted[r]);
    }
    out.EndArray().EndObject();
  }
  out.EndArray().EndObject();
  return out.Take();
}

}  // namespace headwater::server
