#include "metrics_history.h"

#include <algorithm>

#include "headwater/core/json_writer.h"

namespace headwater::server {

std::optional<double> HistogramQuantile(const Metrics::EndpointCounts& counts, double q) {
  int64_t total = 0;
  for (int64_t count : counts.buckets) total += count;
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  int64_t below = 0;
  const auto& bounds = Histogram::kBounds;
  for (size_t b = 0; b < counts.buckets.size(); ++b) {
    const int64_t in_bucket = counts.buckets[b];
    if (in_bucket > 0 && static_cast<double>(below + in_bucket) >= rank) {
      if (b == bounds.size()) return bounds.back();
      const double lo = b == 0 ? 0.0 : bounds[b - 1];
      const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return lo + (bounds[b] - lo) * std::clamp(fraction, 0.0, 1.0);
    }
    below += in_bucket;
  }
  return bounds.back();
}

namespace {

std::optional<double> SampleQuantile(std::vector<double> samples, double q) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  return samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1))];
}

void Values(JsonWriter& writer, const char* key, const std::vector<std::optional<double>>& values) {
  writer.Key(key).BeginArray();
  for (const auto& value : values) {
    if (value) {
      writer.Double(*value);
    } else {
      writer.Null();
    }
  }
  writer.EndArray();
}

}  // namespace

void MetricsHistory::Sample(double unix_seconds, const Metrics& metrics,
                            const std::vector<store::StreamStatus>& streams) {
  Previous now{unix_seconds, metrics.Counts(), {}};
  for (const auto& stream : streams) {
    now.sources[stream.source] = {stream.stats.events, stream.stats.rows_emitted};
  }
  std::lock_guard lock(mutex_);
  if (previous_ && unix_seconds > previous_->t) {
    const double seconds = unix_seconds - previous_->t;
    Point point;
    point.t = unix_seconds;
    for (size_t i = 0; i < now.endpoints.size(); ++i) {
      Metrics::EndpointCounts delta = now.endpoints[i];
      const auto& before = previous_->endpoints[i];
      delta.requests -= before.requests;
      for (size_t b = 0; b < delta.buckets.size(); ++b) delta.buckets[b] -= before.buckets[b];
      Point::Endpoint endpoint;
      endpoint.rate = static_cast<double>(delta.requests) / seconds;
      auto ms = [](std::optional<double> s) { return s ? std::optional(*s * 1e3) : s; };
      endpoint.p50_ms = ms(HistogramQuantile(delta, 0.5));
      endpoint.p99_ms = ms(HistogramQuantile(delta, 0.99));
      point.endpoints.push_back(endpoint);
    }
    for (const auto& stream : streams) {
      auto before = previous_->sources.find(stream.source);
      const auto [events, rows] = now.sources[stream.source];
      Point::Source source;
      if (before != previous_->sources.end()) {
        source.events = static_cast<double>(events - before->second.first) / seconds;
        source.rows = static_cast<double>(rows - before->second.second) / seconds;
        if (rows != before->second.second) {  // windows were published since the last sample
          auto ms = [](std::optional<double> s) { return s ? std::optional(*s * 1e3) : s; };
          source.publish_p50_ms = ms(SampleQuantile(stream.stats.publish_seconds, 0.5));
          source.publish_p99_ms = ms(SampleQuantile(stream.stats.publish_seconds, 0.99));
        }
      }
      point.sources[stream.source] = source;
    }
    points_.push_back(std::move(point));
    while (points_.size() > capacity_) points_.pop_front();
  }
  previous_ = std::move(now);
}

std::string MetricsHistory::Json(std::optional<double> since) const {
  std::lock_guard lock(mutex_);
  auto first = points_.begin();
  if (since) {
    first = std::upper_bound(points_.begin(), points_.end(), *since,
                             [](double t, const Point& point) { return t < point.t; });
  }
  JsonWriter writer;
  writer.BeginObject().Key("interval_seconds").Int(1).Key("t").BeginArray();
  for (auto it = first; it != points_.end(); ++it) writer.Double(it->t);
  writer.EndArray().Key("endpoints").BeginObject();
  for (size_t i = 0; i < Metrics::kEndpoints.size(); ++i) {
    std::vector<std::optional<double>> rate, p50, p99;
    for (auto it = first; it != points_.end(); ++it) {
      rate.push_back(it->endpoints[i].rate);
      p50.push_back(it->endpoints[i].p50_ms);
      p99.push_back(it->endpoints[i].p99_ms);
    }
    writer.Key(Metrics::kEndpoints[i]).BeginObject();
    Values(writer, "requests_per_second", rate);
    Values(writer, "p50_ms", p50);
    Values(writer, "p99_ms", p99);
    writer.EndObject();
  }
  writer.EndObject().Key("sources").BeginObject();
  std::map<std::string, bool> names;
  for (auto it = first; it != points_.end(); ++it) {
    for (const auto& [name, source] : it->sources) names[name] = true;
  }
  for (const auto& [name, unused] : names) {
    std::vector<std::optional<double>> events, rows, p50, p99;
    for (auto it = first; it != points_.end(); ++it) {
      auto found = it->sources.find(name);
      const bool here = found != it->sources.end();
      events.push_back(here ? std::optional(found->second.events) : std::nullopt);
      rows.push_back(here ? std::optional(found->second.rows) : std::nullopt);
      p50.push_back(here ? found->second.publish_p50_ms : std::nullopt);
      p99.push_back(here ? found->second.publish_p99_ms : std::nullopt);
    }
    writer.Key(name).BeginObject();
    Values(writer, "events_per_second", events);
    Values(writer, "rows_per_second", rows);
    Values(writer, "publish_p50_ms", p50);
    Values(writer, "publish_p99_ms", p99);
    writer.EndObject();
  }
  writer.EndObject().EndObject();
  return writer.Take();
}

}  // namespace headwater::server
