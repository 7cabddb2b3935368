#include "headwater/core/json_reader.h"

#include <rapidjson/error/en.h>

namespace headwater {

int64_t JsonNestingOverflow(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return static_cast<int64_t>(i);
        break;
      case ']':
      case '}':
        --depth;  // unbalanced input is the parser's to report
        break;
      default:
        break;
    }
  }
  return -1;
}

Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* document) {
  const int64_t overflow = JsonNestingOverflow(text, kMaxJsonDepth);
  if (overflow >= 0) {
    return Status::Invalid(what, " nests arrays and objects more than ", kMaxJsonDepth,
                           " deep (the limit) at offset ", overflow);
  }
  document->Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (document->HasParseError()) {
    return Status::Invalid(
        what, " is not valid JSON: ", rapidjson::GetParseError_En(document->GetParseError()),
        " at offset ", document->GetErrorOffset());
  }
  return Status::OK();
}

}  // namespace headwater
