#pragma once
// The one JSON writer: registry files, registry-dump, CLI and HTTP responses all use it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace headwater {

/// Appends the standard base64 encoding (with padding) of `bytes`: how JSON carries bytes.
void AppendBase64(std::string_view bytes, std::string* out);

/// Appends compact or indented JSON text to a string. The caller keeps the calls balanced
/// (BeginObject/EndObject, Key before each object member); commas are inserted automatically.
class JsonWriter {
 public:
  /// `indent` > 0 pretty-prints with that many spaces per level.
  explicit JsonWriter(int indent = 0) : indent_(indent) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  /// Shortest text that reads back as the same double; NaN and infinities become null.
  JsonWriter& Double(double value);
  /// Shortest text that reads back as the same float (1.111f prints as 1.111).
  JsonWriter& Float(float value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  /// Inserts already-serialised JSON text as one value.
  JsonWriter& Raw(std::string_view json);

  /// Reserves room for `bytes` of output, to avoid regrowing a large response.
  void Reserve(size_t bytes) { out_.reserve(bytes); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void BeforeValue();
  JsonWriter& Close(char bracket);
  template <typename Number>
  JsonWriter& AppendNumber(Number value);
  void NewLine();

  std::string out_;
  int indent_;
  // One entry per open container: whether it already holds a member.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

/// Appends `value` to `out` as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace headwater
