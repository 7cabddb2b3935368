#pragma once
// Flink SQL text: quoting and literals, shared by the stream and the batch compilers.

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace headwater::flink {

// `name`, with backticks doubled.
inline std::string Name(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  return out + "`";
}

// 'text', with quotes doubled.
inline std::string Text(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// A whole number of milliseconds as a Flink interval literal (days below 100).
inline std::string Interval(int64_t millis) {
  return fmt::format("INTERVAL '{} {:02}:{:02}:{:02}.{:03}' DAY TO SECOND(3)", millis / 86'400'000,
                     millis / 3'600'000 % 24, millis / 60'000 % 60, millis / 1000 % 60,
                     millis % 1000);
}

}  // namespace headwater::flink
