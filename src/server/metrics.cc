#include "metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace headwater::server {

std::string LabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Histogram::Observe(double seconds) {
  size_t bucket = 0;
  while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<int64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void Histogram::Render(std::string* out, std::string_view name, std::string_view labels) const {
  const std::string separator = labels.empty() ? "" : ",";
  int64_t cumulative = 0;
  for (size_t b = 0; b <= kBounds.size(); ++b) {
    cumulative += buckets_[b].load(std::memory_order_relaxed);
    std::string bound = b < kBounds.size() ? fmt::format("{}", kBounds[b]) : "+Inf";
    *out +=
        fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, separator, bound, cumulative);
  }
  const std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
  *out += fmt::format("{}_sum{} {}\n", name, braces, sum_nanos_.load() / 1e9);
  *out += fmt::format("{}_count{} {}\n", name, braces, count_.load());
}

std::array<int64_t, Histogram::kBounds.size() + 1> Histogram::Buckets() const {
  std::array<int64_t, kBounds.size() + 1> out{};
  for (size_t b = 0; b < out.size(); ++b) out[b] = buckets_[b].load(std::memory_order_relaxed);
  return out;
}

std::vector<Metrics::EndpointCounts> Metrics::Counts() const {
  std::vector<EndpointCounts> out;
  for (const Endpoint& endpoint : endpoints_) {
    EndpointCounts counts;
    for (const auto& by_class : endpoint.by_status_class) counts.requests += by_class.load();
    counts.buckets = endpoint.latency.Buckets();
    out.push_back(counts);
  }
  return out;
}

size_t Metrics::Index(std::string_view endpoint) const {
  for (size_t i = 0; i + 1 < kEndpoints.size(); ++i) {
    if (kEndpoints[i] == endpoint) return i;
  }
  return kEndpoints.size() - 1;
}

void Metrics::Record(std::string_view endpoint, int status, double seconds) {
  Endpoint& e = endpoints_[Index(endpoint)];
  e.by_status_class[std::min(std::max(status / 100, 1), 5)].fetch_add(1, std::memory_order_relaxed);
  e.latency.Observe(seconds);
}

void Metrics::AddRowsWritten(std::string_view endpoint, int64_t rows) {
  endpoints_[Index(endpoint)].rows_written.fetch_add(rows, std::memory_order_relaxed);
}

void Metrics::Render(std::string* out) const {
  *out += "# HELP headwater_requests_total Requests by endpoint and status class.\n";
  *out += "# TYPE headwater_requests_total counter\n";
  for (size_t i = 0; i < kEndpoints.size(); ++i) {
    for (int c = 1; c <= 5; ++c) {
      *out += fmt::format("headwater_requests_total{{endpoint=\"{}\",code=\"{}xx\"}} {}\n",
                          kEndpoints[i], c, endpoints_[i].by_status_class[c].load());
    }
  }
  *out += "# HELP headwater_errors_total Requests answered with a 4xx or 5xx, by endpoint.\n";
  *out += "# TYPE headwater_errors_total counter\n";
  for (size_t i = 0; i < kEndpoints.size(); ++i) {
    *out += fmt::format(
        "headwater_errors_total{{endpoint=\"{}\"}} {}\n", kEndpoints[i],
        endpoints_[i].by_status_class[4].load() + endpoints_[i].by_status_class[5].load());
  }
  *out += "# HELP headwater_request_duration_seconds Request latency by endpoint.\n";
  *out += "# TYPE headwater_request_duration_seconds histogram\n";
  for (size_t i = 0; i < kEndpoints.size(); ++i) {
    endpoints_[i].latency.Render(out, "headwater_request_duration_seconds",
                                 fmt::format("endpoint=\"{}\"", kEndpoints[i]));
  }
  *out += "# HELP headwater_online_store_read_duration_seconds One store call of a read.\n";
  *out += "# TYPE headwater_online_store_read_duration_seconds histogram\n";
  store_read_.Render(out, "headwater_online_store_read_duration_seconds", "");
  *out += "# HELP headwater_rows_written_total Rows written online, by endpoint.\n";
  *out += "# TYPE headwater_rows_written_total counter\n";
  for (size_t i = 0; i < kEndpoints.size(); ++i) {
    *out += fmt::format("headwater_rows_written_total{{endpoint=\"{}\"}} {}\n", kEndpoints[i],
                        endpoints_[i].rows_written.load());
  }
}

void RenderStreamMetrics(const std::vector<store::StreamStatus>& streams, std::string* out) {
  if (streams.empty()) return;
  struct Counter {
    const char* name;
    const char* help;
    int64_t ingest::StreamStats::*field;
  };
  static constexpr Counter kCounters[] = {
      {"headwater_stream_events_total", "Events consumed by the stream pipeline.",
       &ingest::StreamStats::events},
      {"headwater_stream_late_events_total",
       "Events later than the watermark allowed: dead-lettered, not merged.",
       &ingest::StreamStats::late_events},
      {"headwater_stream_dead_letters_total", "Late or malformed events dead-lettered.",
       &ingest::StreamStats::dead_letters},
      {"headwater_stream_rows_total", "Window rows finalised and written.",
       &ingest::StreamStats::rows_emitted},
      {"headwater_stream_checkpoints_total", "Checkpoints committed.",
       &ingest::StreamStats::checkpoints},
  };
  for (const Counter& counter : kCounters) {
    *out +=
        fmt::format("# HELP {} {}\n# TYPE {} counter\n", counter.name, counter.help, counter.name);
    for (const auto& stream : streams) {
      *out += fmt::format("{}{{source=\"{}\"}} {}\n", counter.name, LabelValue(stream.source),
                          stream.stats.*counter.field);
    }
  }
  *out +=
      "# HELP headwater_stream_position Next offset to read, per source partition (a push "
      "source: its write-ahead log position).\n# TYPE headwater_stream_position gauge\n";
  for (const auto& stream : streams) {
    for (const auto& [partition, position] : stream.positions) {
      *out += fmt::format("headwater_stream_position{{source=\"{}\",partition=\"{}\"}} {}\n",
                          LabelValue(stream.source), partition, position);
    }
  }
  *out +=
      "# HELP headwater_stream_window_publish_seconds From processing the input that moved the "
      "watermark past windows' ends to their rows online (last 4096).\n"
      "# TYPE headwater_stream_window_publish_seconds summary\n";
  for (const auto& stream : streams) {
    std::vector<double> samples = stream.stats.publish_seconds;
    if (samples.empty()) continue;
    std::sort(samples.begin(), samples.end());
    for (double q : {0.5, 0.99}) {
      *out += fmt::format(
          "headwater_stream_window_publish_seconds{{source=\"{}\",quantile=\"{}\"}} {}\n",
          LabelValue(stream.source), q,
          samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1))]);
    }
  }
  *out +=
      "# HELP headwater_stream_watermark_seconds The source's watermark (epoch seconds).\n"
      "# TYPE headwater_stream_watermark_seconds gauge\n";
  for (const auto& stream : streams) {
    if (stream.stats.watermark == INT64_MIN) continue;
    *out +=
        fmt::format("headwater_stream_watermark_seconds{{source=\"{}\"}} {}\n",
                    LabelValue(stream.source), static_cast<double>(stream.stats.watermark) / 1e6);
  }
}

void RenderRegistryMetrics(const std::vector<std::pair<std::string, double>>& freshness,
                           int64_t registry_version, bool reload_failing, std::string* out) {
  *out +=
      "# HELP headwater_feature_freshness_seconds Now minus the newest event time online.\n"
      "# TYPE headwater_feature_freshness_seconds gauge\n";
  for (const auto& [view, seconds] : freshness) {
    *out += fmt::format("headwater_feature_freshness_seconds{{feature_view=\"{}\"}} {}\n",
                        LabelValue(view), seconds);
  }
  *out += fmt::format("headwater_registry_version {}\n", registry_version);
  *out +=
      "# HELP headwater_registry_reload_failing 1 while the registry file cannot be read (the "
      "last good version keeps serving; /health says why).\n"
      "# TYPE headwater_registry_reload_failing gauge\n";
  *out += fmt::format("headwater_registry_reload_failing {}\n", reload_failing ? 1 : 0);
}

}  // namespace headwater::server
