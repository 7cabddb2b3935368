#pragma once
// The one JSON reader. Every JSON input — HTTP bodies, Kafka messages, `--entities`, the registry
// file — is parsed here, and bounded before it is parsed: RapidJSON's parser recurses once per
// level of nesting, so 200,000 nested `[` would exhaust a server thread's stack.

#include <rapidjson/document.h>

#include <string_view>

#include "headwater/core/status.h"

namespace headwater {

/// The deepest nesting of arrays and objects any JSON input may have. Feast's requests nest four
/// levels deep and the registry file five; nothing real comes near this.
constexpr int kMaxJsonDepth = 64;

/// Parses `text` into `document`. Invalid when `text` nests deeper than kMaxJsonDepth, is not
/// JSON, or is not UTF-8 — raw bytes or escapes (strings become Arrow utf8 values and Parquet
/// strings). The message starts with `what` ("the body", "registry /repo/data/registry.json")
/// and gives the byte offset. `document` is reused as it is, so a caller parsing many messages
/// keeps one.
Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* document);

/// What ParseJson checks before RapidJSON's recursive parser runs, in one linear pass without
/// allocation: nesting of arrays and objects up to kMaxJsonDepth (brackets in strings do not
/// count), and no lone surrogate escape (`\uDC00` without its high half), which RapidJSON 1.1
/// would turn into bytes that are not UTF-8.
Status CheckJsonText(std::string_view text, std::string_view what);

}  // namespace headwater
