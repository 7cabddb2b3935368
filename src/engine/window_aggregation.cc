#include "headwater/engine/window_aggregation.h"

#include <cmath>

namespace headwater::engine {
namespace {

struct Name {
  Aggregation aggregation;
  std::string_view name;
};
constexpr Name kNames[] = {{Aggregation::kCount, "count"},  {Aggregation::kSum, "sum"},
                           {Aggregation::kMin, "min"},      {Aggregation::kMax, "max"},
                           {Aggregation::kMean, "mean"},    {Aggregation::kLast, "last"},
                           {Aggregation::kStddev, "stddev"}};

}  // namespace

Result<Aggregation> ParseAggregation(std::string_view name) {
  if (name == "avg") return Aggregation::kMean;
  if (name == "std") return Aggregation::kStddev;
  for (const Name& entry : kNames) {
    if (entry.name == name) return entry.aggregation;
  }
  return Status::Invalid("unknown aggregation '", name,
                         "' (count, sum, min, max, mean, last, stddev)");
}

std::string_view AggregationName(Aggregation aggregation) {
  for (const Name& entry : kNames) {
    if (entry.aggregation == aggregation) return entry.name;
  }
  return "?";
}

void Tile::Add(double value, int64_t event_time, int64_t sequence) {
  // Merge with a one-value tile, written out: Welford's update of (count, mean, M2).
  if (count == 0) {
    min = max = value;
  } else {
    min = std::min(min, value);
    max = std::max(max, value);
  }
  ++count;
  sum += value;
  const double delta = value - mean;
  mean += delta / static_cast<double>(count);
  m2 += delta * (value - mean);
  if (event_time > last_time || (event_time == last_time && sequence > last_sequence)) {
    last_time = event_time;
    last_sequence = sequence;
    last = value;
  }
}

void Tile::Merge(const Tile& other) {
  if (other.count == 0) return;
  if (count == 0) {
    *this = other;
    return;
  }
  const int64_t n = count + other.count;
  const double delta = other.mean - mean;
  // Chan et al.: combine two (count, mean, M2) summaries without subtracting raw sums.
  m2 += other.m2 + delta * delta * static_cast<double>(count) * other.count / n;
  mean += delta * other.count / n;
  count = n;
  sum += other.sum;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  if (other.last_time > last_time ||
      (other.last_time == last_time && other.last_sequence > last_sequence)) {
    last_time = other.last_time;
    last_sequence = other.last_sequence;
    last = other.last;
  }
}

std::optional<double> Tile::Result(Aggregation aggregation) const {
  switch (aggregation) {
    case Aggregation::kCount:
      return static_cast<double>(count);
    case Aggregation::kSum:
      return sum;
    default:
      break;
  }
  if (count == 0) return std::nullopt;
  switch (aggregation) {
    case Aggregation::kMin:
      return min;
    case Aggregation::kMax:
      return max;
    case Aggregation::kMean:
      return mean;
    case Aggregation::kLast:
      return last;
    case Aggregation::kStddev:
      if (count < 2) return std::nullopt;
      return std::sqrt(std::max(0.0, m2 / static_cast<double>(count - 1)));
    default:
      return std::nullopt;
  }
}

Result<HopWindow> HopWindow::Make(Duration size, Duration slide) {
  if (slide.micros <= 0 || size.micros <= 0) {
    return Status::Invalid("time_window and slide_interval must be positive");
  }
  if (size.micros % slide.micros != 0) {
    return Status::Invalid("time_window ", FormatDuration(size),
                           " must be a multiple of slide_interval ", FormatDuration(slide));
  }
  return HopWindow(size.micros, slide.micros);
}

int64_t HopWindow::PaneOf(int64_t event_time) const { return FloorDivide(event_time, slide_); }

int64_t HopWindow::WindowEndAt(int64_t t) const { return FloorDivide(t, slide_) * slide_; }

}  // namespace headwater::engine
