#include "headwater/core/time.h"

#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/type.h>
#include <arrow/util/checked_cast.h>
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <chrono>

namespace headwater {
namespace {

constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

struct Unit {
  std::string_view suffix;
  int64_t micros;
};
constexpr Unit kUnits[] = {{"d", kMicrosPerDay},
                           {"h", 3'600 * kMicrosPerSecond},
                           {"m", 60 * kMicrosPerSecond},
                           {"s", kMicrosPerSecond},
                           {"ms", 1'000},
                           {"us", 1}};

// Reads exactly `width` decimal digits at `pos`; false if they are not all digits.
bool ReadDigits(std::string_view text, size_t& pos, size_t width, int& value) {
  if (pos + width > text.size()) return false;
  value = 0;
  for (size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return true;
}

bool Consume(std::string_view text, size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

int64_t DaysFromCivil(int year, unsigned month, unsigned day) {
  using namespace std::chrono;
  return sys_days{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}}
      .time_since_epoch()
      .count();
}

// Appends value * multiply / divide (flooring, so instants before the epoch round towards the
// past), keeping nulls.
template <typename ArrayType>
void AppendScaled(const ArrayType& array, int64_t multiply, int64_t divide,
                  arrow::Int64Builder& builder) {
  for (int64_t i = 0; i < array.length(); ++i) {
    if (array.IsNull(i)) {
      builder.UnsafeAppendNull();
      continue;
    }
    int64_t value = array.Value(i);
    int64_t quotient = value / divide;
    if (value % divide < 0) --quotient;
    builder.UnsafeAppend(quotient * multiply);
  }
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  auto invalid = [&] {
    return Status::Invalid("'", text,
                           "' is not a duration: use a number with a unit d, h, m, s, ms or us "
                           "(e.g. 90s, 1h30m, 7d, 250ms), or 0 for no limit");
  };
  if (text == "0") return Duration{0};
  if (text.empty()) return invalid();
  int64_t total = 0;
  size_t pos = 0;
  size_t last_unit = 0;  // index into kUnits + 1 of the previous part, to force d > h > m > s
  while (pos < text.size()) {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data() + pos || number < 0) return invalid();
    pos = static_cast<size_t>(end - text.data());
    if (pos >= text.size()) return invalid();
    // The unit: letters up to the next digit.
    size_t letters = pos;
    while (letters < text.size() && !std::isdigit(static_cast<unsigned char>(text[letters]))) {
      ++letters;
    }
    const std::string_view suffix = text.substr(pos, letters - pos);
    size_t unit = 0;
    while (unit < std::size(kUnits) && kUnits[unit].suffix != suffix) ++unit;
    if (unit == std::size(kUnits) || unit + 1 <= last_unit) return invalid();
    last_unit = unit + 1;
    pos = letters;
    if (number > INT64_MAX / kUnits[unit].micros - total / kUnits[unit].micros) return invalid();
    total += number * kUnits[unit].micros;
  }
  return Duration{total};
}

std::string FormatDuration(Duration duration) {
  if (duration.micros == 0) return "0";
  for (const Unit& unit : kUnits) {
    if (duration.micros % unit.micros == 0) {
      return fmt::format("{}{}", duration.micros / unit.micros, unit.suffix);
    }
  }
  return fmt::format("{}us", duration.micros);
}

Result<Timestamp> ParseTimestamp(std::string_view text) {
  auto invalid = [&] {
    return Status::Invalid("'", text,
                           "' is not an ISO 8601 timestamp (expected e.g. 2024-05-01, "
                           "2024-05-01T10:00:00, 2024-05-01 10:00:00.5+02:00)");
  };
  size_t pos = 0;
  int year, month, day;
  if (!ReadDigits(text, pos, 4, year) || !Consume(text, pos, '-') ||
      !ReadDigits(text, pos, 2, month) || !Consume(text, pos, '-') ||
      !ReadDigits(text, pos, 2, day)) {
    return invalid();
  }
  if (month < 1 || month > 12 || day < 1 ||
      !std::chrono::year_month_day{std::chrono::year{year}, std::chrono::month(month),
                                   std::chrono::day(day)}
           .ok()) {
    return invalid();
  }
  int64_t micros = DaysFromCivil(year, month, day) * kMicrosPerDay;
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
    ++pos;
    int hour, minute, second = 0;
    if (!ReadDigits(text, pos, 2, hour) || !Consume(text, pos, ':') ||
        !ReadDigits(text, pos, 2, minute)) {
      return invalid();
    }
    if (Consume(text, pos, ':')) {
      if (!ReadDigits(text, pos, 2, second)) return invalid();
      if (Consume(text, pos, '.') || Consume(text, pos, ',')) {
        int64_t fraction = 0;
        int digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 6) fraction = fraction * 10 + (text[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return invalid();
        for (int d = digits; d < 6; ++d) fraction *= 10;
        micros += fraction;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return invalid();
    micros += ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond;
  }
  if (pos < text.size()) {
    char sign = text[pos];
    if (sign == 'Z' || sign == 'z') {
      ++pos;
    } else if (sign == '+' || sign == '-') {
      ++pos;
      int offset_hours, offset_minutes = 0;
      if (!ReadDigits(text, pos, 2, offset_hours)) return invalid();
      if (Consume(text, pos, ':')) {
        if (!ReadDigits(text, pos, 2, offset_minutes)) return invalid();
      } else if (pos < text.size()) {
        if (!ReadDigits(text, pos, 2, offset_minutes)) return invalid();
      }
      if (offset_hours > 23 || offset_minutes > 59) return invalid();
      int64_t offset = (offset_hours * 60 + offset_minutes) * 60 * kMicrosPerSecond;
      micros += sign == '+' ? -offset : offset;
    }
  }
  if (pos != text.size()) return invalid();
  return Timestamp{micros};
}

std::string FormatTimestamp(Timestamp timestamp) {
  // Hand-formatted: online responses print one per row, so this is on the read path.
  using namespace std::chrono;
  int64_t days = timestamp.micros / kMicrosPerDay;
  int64_t rest = timestamp.micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  year_month_day date{sys_days{std::chrono::days{days}}};
  const int64_t seconds = rest / kMicrosPerSecond;
  const int64_t fraction = rest % kMicrosPerSecond;
  char buffer[40];
  char* out = buffer;
  auto digits = [&out](int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[i] = static_cast<char>('0' + value % 10);
    out += width;
  };
  const int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) return fmt::format("{}us", timestamp.micros);  // beyond ISO 8601
  digits(year, 4);
  *out++ = '-';
  digits(static_cast<unsigned>(date.month()), 2);
  *out++ = '-';
  digits(static_cast<unsigned>(date.day()), 2);
  *out++ = 'T';
  digits(seconds / 3600, 2);
  *out++ = ':';
  digits(seconds / 60 % 60, 2);
  *out++ = ':';
  digits(seconds % 60, 2);
  if (fraction != 0) {
    *out++ = '.';
    digits(fraction, 6);
  }
  *out++ = 'Z';
  return std::string(buffer, out);
}

Result<std::shared_ptr<arrow::Int64Array>> ToEpochMicros(const arrow::ChunkedArray& column,
                                                         std::string_view what) {
  const arrow::DataType& type = *column.type();
  // Microsecond timestamps already are epoch microseconds: reinterpret, don't copy.
  if (type.id() == arrow::Type::TIMESTAMP && column.num_chunks() == 1 &&
      arrow::internal::checked_cast<const arrow::TimestampType&>(type).unit() ==
          arrow::TimeUnit::MICRO) {
    auto data = column.chunk(0)->data()->Copy();
    data->type = arrow::int64();
    return std::make_shared<arrow::Int64Array>(std::move(data));
  }
  arrow::Int64Builder builder;
  ARROW_RETURN_NOT_OK(builder.Reserve(column.length()));
  for (const auto& chunk : column.chunks()) {
    const int64_t n = chunk->length();
    switch (type.id()) {
      case arrow::Type::TIMESTAMP: {
        int64_t multiply = 1, divide = 1;
        switch (arrow::internal::checked_cast<const arrow::TimestampType&>(type).unit()) {
          case arrow::TimeUnit::SECOND:
            multiply = kMicrosPerSecond;
            break;
          case arrow::TimeUnit::MILLI:
            multiply = 1000;
            break;
          case arrow::TimeUnit::MICRO:
            break;
          case arrow::TimeUnit::NANO:
            divide = 1000;
            break;
        }
        AppendScaled(arrow::internal::checked_cast<const arrow::TimestampArray&>(*chunk), multiply,
                     divide, builder);
        break;
      }
      case arrow::Type::DATE32:
        AppendScaled(arrow::internal::checked_cast<const arrow::Date32Array&>(*chunk),
                     kMicrosPerDay, 1, builder);
        break;
      case arrow::Type::DATE64:
        AppendScaled(arrow::internal::checked_cast<const arrow::Date64Array&>(*chunk), 1000, 1,
                     builder);
        break;
      case arrow::Type::STRING:
      case arrow::Type::LARGE_STRING: {
        for (int64_t i = 0; i < n; ++i) {
          if (chunk->IsNull(i)) {
            builder.UnsafeAppendNull();
            continue;
          }
          std::string_view text =
              type.id() == arrow::Type::STRING
                  ? arrow::internal::checked_cast<const arrow::StringArray&>(*chunk).GetView(i)
                  : arrow::internal::checked_cast<const arrow::LargeStringArray&>(*chunk).GetView(
                        i);
          auto parsed = ParseTimestamp(text);
          if (!parsed.ok()) {
            return Status::Invalid(what, ", row ", builder.length() + 1, ": ",
                                   parsed.status().message());
          }
          builder.UnsafeAppend(parsed->micros);
        }
        break;
      }
      default:
        return Status::TypeError(what, " has type ", type.ToString(),
                                 "; expected a timestamp, a date or ISO 8601 strings");
    }
  }
  std::shared_ptr<arrow::Int64Array> out;
  ARROW_RETURN_NOT_OK(builder.Finish(&out));
  return out;
}

}  // namespace headwater
