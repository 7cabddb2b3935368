#include "headwater/ingest/event_time_bounds.h"

#include <arrow/array.h>

#include <string>

namespace headwater::ingest {

EventTimeBounds EventTimeBounds::At(const registry::RepoConfig& config, Timestamp now) {
  EventTimeBounds bounds;
  bounds.skew = config.max_event_time_skew;
  // Saturating: a skew of years must not wrap around.
  bounds.latest.micros =
      now.micros > INT64_MAX - bounds.skew.micros ? INT64_MAX : now.micros + bounds.skew.micros;
  return bounds;
}

Status EventTimeBounds::Check(Timestamp time, std::string_view where) const {
  if (time.micros > latest.micros) {
    return Status::Invalid(where, ": ", FormatTimestamp(time), " is later than now + ",
                           FormatDuration(skew), " (max_event_time_skew in feature_store.yaml)");
  }
  if (time.micros < earliest.micros) {
    return Status::Invalid(where, ": ", FormatTimestamp(time), " is before ",
                           FormatTimestamp(earliest), ", the earliest event time accepted");
  }
  return Status::OK();
}

Status EventTimeBounds::CheckColumn(const arrow::Array& micros, std::string_view column) const {
  const auto& times = static_cast<const arrow::TimestampArray&>(micros);
  const int64_t* values = times.raw_values();
  for (int64_t row = 0; row < times.length(); ++row) {
    const int64_t t = values[row];
    if ((t > latest.micros || t < earliest.micros) && times.IsValid(row)) {
      return Check(Timestamp{t}, "df." + std::string(column) + "[" + std::to_string(row) + "]");
    }
  }
  return Status::OK();
}

}  // namespace headwater::ingest
