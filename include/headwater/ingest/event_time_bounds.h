#pragma once
// The window every written event time must fall in, whichever path writes it: push (online,
// offline, stream), write-to-online-store, Kafka messages. Without it one row stamped 9999-12-31
// wins over every later write to its key (writes keep the newest event time), and a row from
// year 0 makes the offline data unreadable by pyarrow and pandas.

#include <arrow/type_fwd.h>

#include <string_view>

#include "headwater/core/status.h"
#include "headwater/core/time.h"
#include "headwater/registry/repo_config.h"

namespace headwater::ingest {

/// The earliest event time accepted, 1900-01-01T00:00:00Z. Earlier times are nearly always a
/// zero or a wrong unit, and pandas' nanosecond timestamps end in 1677.
inline constexpr Timestamp kEarliestEventTime{-2'208'988'800'000'000};

/// [kEarliestEventTime, now + max_event_time_skew], for event and created times alike.
struct EventTimeBounds {
  Timestamp earliest = kEarliestEventTime;
  Timestamp latest;
  Duration skew;  // named in messages

  /// The bounds at `now` under `config.max_event_time_skew`.
  static EventTimeBounds At(const registry::RepoConfig& config, Timestamp now);

  /// OK, or Invalid "<where>: <time> is later than now + 1d (max_event_time_skew in
  /// feature_store.yaml)" / "<where>: <time> is before 1900-01-01T00:00:00Z, the earliest event
  /// time accepted".
  Status Check(Timestamp time, std::string_view where) const;

  /// Check for each non-null value of a microsecond timestamp column, naming the first offender
  /// "df.<column>[<row>]".
  Status CheckColumn(const arrow::Array& micros, std::string_view column) const;
};

}  // namespace headwater::ingest
