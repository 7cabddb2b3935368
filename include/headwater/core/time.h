#pragma once
// Instants and durations. Every timestamp in Headwater is a UTC instant with microsecond
// precision; inputs with an offset are converted, inputs without a zone are taken as UTC.

#include <arrow/chunked_array.h>
#include <arrow/type_fwd.h>

#include <compare>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "headwater/core/status.h"

namespace headwater {

/// A length of time in microseconds. Zero means "no limit" where a TTL is meant.
struct Duration {
  int64_t micros = 0;
  auto operator<=>(const Duration&) const = default;
};

/// A UTC instant (event time) in microseconds since the Unix epoch.
struct Timestamp {
  int64_t micros = 0;
  auto operator<=>(const Timestamp&) const = default;
};

constexpr int64_t kMicrosPerSecond = 1'000'000;

/// Parses a duration: a non-negative integer with a unit s, m, h or d ("90s", "1d"), a sum of
/// such parts ("1h30m"), or a bare "0". Invalid text gives Status::Invalid naming it.
Result<Duration> ParseDuration(std::string_view text);

/// Formats a duration in the largest unit that divides it exactly ("1d", "90m", "0").
std::string FormatDuration(Duration duration);

/// Parses an ISO 8601 instant: "YYYY-MM-DD", optionally followed by "T" or " " and
/// "HH:MM[:SS[.fraction]]", optionally followed by "Z" or an offset "+HH:MM", "+HHMM", "+HH".
/// Without a zone the text is taken as UTC. Fractions beyond microseconds are truncated.
Result<Timestamp> ParseTimestamp(std::string_view text);

/// Formats as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (the fraction only when non-zero), as Feast does.
std::string FormatTimestamp(Timestamp timestamp);

/// Converts a column of instants to int64 microseconds since the epoch (UTC), keeping nulls.
/// Accepts timestamp columns of any unit and zone, date32/date64, and strings in ParseTimestamp's
/// format. `what` names the column in error messages ("column 'event_timestamp' of x.csv").
Result<std::shared_ptr<arrow::Int64Array>> ToEpochMicros(const arrow::ChunkedArray& column,
                                                         std::string_view what);

}  // namespace headwater
