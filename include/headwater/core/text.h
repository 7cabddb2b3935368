#pragma once
// Text for people: messages quote what users wrote (file contents, names, values), and that may
// hold bytes a terminal would act on or that are not text at all.

#include <string>
#include <string_view>

namespace headwater {

/// `text` safe to print: control characters other than newline and tab, DEL, and bytes that are
/// not part of well-formed UTF-8 become `\xNN`; everything else is kept. Every adapter passes
/// error messages through it on the way out (CLI, HTTP, Python).
std::string PrintableText(std::string_view text);

/// Lower-case hex SHA-256 of `text` (API tokens, idempotency keys).
std::string Sha256Hex(std::string_view text);

/// The length of the well-formed UTF-8 sequence at the start of `text` (1 to 4), or 0 when the
/// first byte does not start one (stray continuation byte, overlong form, surrogate, > U+10FFFF).
size_t Utf8SequenceLength(std::string_view text);

}  // namespace headwater
