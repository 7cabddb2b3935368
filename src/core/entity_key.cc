#include "headwater/core/entity_key.h"

#include <arrow/array.h>
#include <arrow/type.h>

namespace headwater {
namespace {

void AppendLength(uint32_t length, std::string* out) {
  char bytes[4] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                   static_cast<char>(length >> 8), static_cast<char>(length)};
  out->append(bytes, 4);
}

template <typename ArrayType>
void EncodeBinaryColumn(const ArrayType& array, char tag, std::vector<std::string>* parts) {
  for (int64_t i = 0; i < array.length(); ++i) {
    AppendBytesKeyPart(tag, array.GetView(i), &(*parts)[i]);
  }
}

template <typename ArrayType>
void EncodeIntegerColumn(const ArrayType& array, std::vector<std::string>* parts) {
  for (int64_t i = 0; i < array.length(); ++i) AppendIntegerKeyPart(array.Value(i), &(*parts)[i]);
}

}  // namespace

Status EncodeEntityKeys(const std::vector<std::shared_ptr<arrow::Array>>& columns, int64_t num_rows,
                        ByteRows* out, std::vector<uint8_t>* valid) {
  valid->assign(num_rows, 1);
  for (const auto& column : columns) {
    if (column->length() != num_rows) {
      return Status::Invalid("key columns differ in length: ", column->length(), " vs ", num_rows);
    }
    if (column->null_count() > 0) {
      for (int64_t i = 0; i < num_rows; ++i) (*valid)[i] &= column->IsValid(i) ? 1 : 0;
    }
    switch (column->type_id()) {
      case arrow::Type::INT32:
      case arrow::Type::INT64:
      case arrow::Type::STRING:
      case arrow::Type::LARGE_STRING:
      case arrow::Type::BINARY:
      case arrow::Type::LARGE_BINARY:
        break;
      default:
        return Status::TypeError("a join key column must be an integer, string or bytes, not ",
                                 column->type()->ToString());
    }
  }
  // The common case, one integer key, writes straight into the output buffer.
  if (columns.size() == 1 && (columns[0]->type_id() == arrow::Type::INT64 ||
                              columns[0]->type_id() == arrow::Type::INT32)) {
    out->data.reserve(out->data.size() + num_rows * 10);
    out->offsets.reserve(out->offsets.size() + num_rows);
    const bool is_64 = columns[0]->type_id() == arrow::Type::INT64;
    const auto* ints64 =
        is_64 ? static_cast<const arrow::Int64Array&>(*columns[0]).raw_values() : nullptr;
    const auto* ints32 =
        is_64 ? nullptr : static_cast<const arrow::Int32Array&>(*columns[0]).raw_values();
    for (int64_t i = 0; i < num_rows; ++i) {
      out->data.push_back(static_cast<char>(kEntityKeyVersion));
      out->data.push_back('i');
      AppendSortableInt64(is_64 ? ints64[i] : ints32[i], &out->data);
      out->FinishRow();
    }
    return Status::OK();
  }
  // Composite or string keys: build each row's parts column by column.
  std::vector<std::string> parts(num_rows, std::string(1, static_cast<char>(kEntityKeyVersion)));
  for (const auto& column : columns) {
    switch (column->type_id()) {
      case arrow::Type::INT32:
        EncodeIntegerColumn(static_cast<const arrow::Int32Array&>(*column), &parts);
        break;
      case arrow::Type::INT64:
        EncodeIntegerColumn(static_cast<const arrow::Int64Array&>(*column), &parts);
        break;
      case arrow::Type::STRING:
        EncodeBinaryColumn(static_cast<const arrow::StringArray&>(*column), 's', &parts);
        break;
      case arrow::Type::LARGE_STRING:
        EncodeBinaryColumn(static_cast<const arrow::LargeStringArray&>(*column), 's', &parts);
        break;
      case arrow::Type::BINARY:
        EncodeBinaryColumn(static_cast<const arrow::BinaryArray&>(*column), 'b', &parts);
        break;
      default:
        EncodeBinaryColumn(static_cast<const arrow::LargeBinaryArray&>(*column), 'b', &parts);
        break;
    }
  }
  for (const std::string& part : parts) {
    out->data += part;
    out->FinishRow();
  }
  return Status::OK();
}

void AppendIntegerKeyPart(int64_t value, std::string* out) {
  out->push_back('i');
  AppendSortableInt64(value, out);
}

void AppendBytesKeyPart(char tag, std::string_view value, std::string* out) {
  out->push_back(tag);
  AppendLength(static_cast<uint32_t>(value.size()), out);
  out->append(value);
}

Result<std::vector<EntityKeyPart>> DecodeEntityKey(std::string_view key) {
  if (key.empty() || static_cast<uint8_t>(key[0]) != kEntityKeyVersion) {
    return Status::Invalid("not a version ", int{kEntityKeyVersion}, " entity key");
  }
  std::vector<EntityKeyPart> parts;
  size_t pos = 1;
  while (pos < key.size()) {
    EntityKeyPart part;
    char tag = key[pos++];
    if (tag == 'i') {
      if (pos + 8 > key.size()) return Status::Invalid("truncated entity key");
      part.int_value = ReadSortableInt64(key.data() + pos);
      pos += 8;
    } else if (tag == 's' || tag == 'b') {
      if (pos + 4 > key.size()) return Status::Invalid("truncated entity key");
      uint32_t length = 0;
      for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<uint8_t>(key[pos + i]);
      pos += 4;
      if (pos + length > key.size()) return Status::Invalid("truncated entity key");
      part.kind = tag == 's' ? EntityKeyPart::Kind::kString : EntityKeyPart::Kind::kBytes;
      part.bytes = std::string(key.substr(pos, length));
      pos += length;
    } else {
      return Status::Invalid("unknown entity key part tag ", int{tag});
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace headwater
