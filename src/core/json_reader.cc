#include "headwater/core/json_reader.h"

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

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

namespace {

// The document's SAX events, with every number read from its text by std::from_chars: the
// double nearest to it, as Python, Java and Arrow read it. (RapidJSON 1.1.0's default mode is
// one ULP or more off for about four in ten 17-digit numbers; its full-precision mode reads
// 0e+300 as 1.45e+281 and has undefined behaviour.) Integers keep RapidJSON's classification:
// a 64-bit integer when the text is one that fits, a double otherwise.
class NearestNumbers {
 public:
  explicit NearestNumbers(rapidjson::Document& document) : document_(document) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int(i); }
  bool Uint(unsigned u) { return document_.Uint(u); }
  bool Int64(int64_t i) { return document_.Int64(i); }
  bool Uint64(uint64_t u) { return document_.Uint64(u); }
  bool Double(double d) { return document_.Double(d); }
  bool String(const char* text, rapidjson::SizeType length, bool copy) {
    return document_.String(text, length, copy);
  }
  bool StartObject() { return document_.StartObject(); }
  bool Key(const char* text, rapidjson::SizeType length, bool copy) {
    return document_.Key(text, length, copy);
  }
  bool EndObject(rapidjson::SizeType members) { return document_.EndObject(members); }
  bool StartArray() { return document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { return document_.EndArray(elements); }

  bool RawNumber(const char* text, rapidjson::SizeType length, bool /*copy*/) {
    const char* end = text + length;
    const bool integer =
        std::find_if(text, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) == end;
    if (integer) {
      if (text[0] == '-') {
        int64_t value;
        auto [stop, error] = std::from_chars(text, end, value);
        if (error == std::errc() && stop == end) return document_.Int64(value);
      } else {
        uint64_t value;
        auto [stop, error] = std::from_chars(text, end, value);
        if (error == std::errc() && stop == end) return document_.Uint64(value);
      }
    }
    double value = 0;
    auto [stop, error] = std::from_chars(text, end, value);
    if (error == std::errc::result_out_of_range) {
      // Beyond a double (RapidJSON's error), or below its smallest (zero, with its sign).
      const std::string copy(text, length);
      value = std::strtod(copy.c_str(), nullptr);
      if (std::isinf(value)) {
        too_big_ = true;
        return false;
      }
    } else if (error != std::errc() || stop != end) {
      return false;  // RapidJSON checked the grammar; not reached
    }
    return document_.Double(value);
  }

  bool too_big() const { return too_big_; }

 private:
  rapidjson::Document& document_;
  bool too_big_ = false;
};

}  // namespace

Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* document) {
  ARROW_RETURN_NOT_OK(CheckJsonText(text, what));
  rapidjson::ParseResult result;
  bool too_big = false;
  auto parse = [&](rapidjson::Document& target) {
    NearestNumbers handler(target);
    rapidjson::MemoryStream bytes(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> input(bytes);
    rapidjson::Reader reader;
    result =
        reader.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag>(
            input, handler);
    too_big = handler.too_big();
    return !result.IsError();
  };
  document->Populate(parse);
  if (result.IsError()) {
    return Status::Invalid(
        what, " is not valid JSON: ",
        rapidjson::GetParseError_En(too_big ? rapidjson::kParseErrorNumberTooBig : result.Code()),
        " at offset ", result.Offset());
  }
  return Status::OK();
}

}  // namespace headwater
