#include "headwater/core/json_reader.h"

#include <rapidjson/error/en.h>

#include <array>
#include <cstdint>

namespace headwater {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The \uXXXX escape starting at text[i] (the backslash), or -1 when it is not one.
int EscapedCodeUnit(std::string_view text, size_t i) {
  if (i + 5 >= text.size() || text[i + 1] != 'u') return -1;
  int value = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    const int digit = HexValue(text[k]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

// Where the scan stops: outside strings at quotes and brackets, inside at quotes and
// backslashes; the inner loops skip every other byte with one table lookup.
constexpr auto kStopsOutside = [] {
  std::array<bool, 256> stops{};
  for (unsigned char c : {'"', '[', '{', ']', '}'}) stops[c] = true;
  return stops;
}();
constexpr auto kStopsInside = [] {
  std::array<bool, 256> stops{};
  for (unsigned char c : {'"', '\\'}) stops[c] = true;
  return stops;
}();

Status CheckJsonText(std::string_view text, std::string_view what) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  int depth = 0;
  size_t i = 0;
  while (i < size) {
    while (i < size && !kStopsOutside[bytes[i]]) ++i;  // outside strings
    if (i == size) break;
    if (bytes[i] == '[' || bytes[i] == '{') {
      if (++depth > kMaxJsonDepth) {
        return Status::Invalid(what, " nests arrays and objects more than ", kMaxJsonDepth,
                               " deep (the limit) at offset ", i);
      }
      ++i;
      continue;
    }
    if (bytes[i] != '"') {
      --depth;  // a closing bracket; unbalanced input is the parser's to report
      ++i;
      continue;
    }
    // A string, from its opening quote.
    bool after_high_surrogate = false;  // the last thing in it was \uD800-\uDBFF
    for (++i; i < size; ++i) {
      const size_t run = i;
      while (i < size && !kStopsInside[bytes[i]]) ++i;
      if (i != run) after_high_surrogate = false;
      if (i == size || bytes[i] == '"') break;
      // RapidJSON 1.1 refuses a high surrogate escape without its low half, but turns a lone
      // low one (\uDC00-\uDFFF) into bytes that are not UTF-8; refuse it here.
      const int unit = EscapedCodeUnit(text, i);
      if (unit >= 0xDC00 && unit <= 0xDFFF && !after_high_surrogate) {
        return Status::Invalid(what, " has a lone surrogate escape \\u", text.substr(i + 2, 4),
                               " (not a character) at offset ", i);
      }
      after_high_surrogate = unit >= 0xD800 && unit <= 0xDBFF;
      i += unit >= 0 ? 5 : 1;  // the escaped character cannot end the string
    }
    ++i;  // past the closing quote
  }
  return Status::OK();
}

Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* document) {
  ARROW_RETURN_NOT_OK(CheckJsonText(text, what));
  document->Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (document->HasParseError()) {
    return Status::Invalid(
        what, " is not valid JSON: ", rapidjson::GetParseError_En(document->GetParseError()),
        " at offset ", document->GetErrorOffset());
  }
  return Status::OK();
}

}  // namespace headwater
