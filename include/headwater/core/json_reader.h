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
/// JSON, or is not UTF-8 (strings become Arrow utf8 values and Parquet strings). The message
/// starts with `what` ("the body", "registry /repo/data/registry.json") and gives the byte offset.
/// `document` is reused as it is, so a caller parsing many messages keeps one.
Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* document);

/// The offset of the first byte at which `text` opens more than `max_depth` arrays and objects,
/// or -1. Brackets inside strings do not count. Linear, no recursion, no allocation.
int64_t JsonNestingOverflow(std::string_view text, int max_depth);

}  // namespace headwater
