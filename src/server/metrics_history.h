#pragma once
// The last hour of the server's counters as time series, for the web UI's live plots
// (`GET /api/metrics`): sampled once a second from the same counters `/metrics` renders —
// request rate and latency quantiles per endpoint, events and rows per second and window
// publish latency per stream source.

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "metrics.h"

namespace headwater::server {

class MetricsHistory {
 public:
  /// Keeps at most `capacity` samples (3600: an hour at one a second).
  explicit MetricsHistory(size_t capacity = 3600) : capacity_(capacity) {}

  /// Adds the sample at `unix_seconds`: rates and quantiles since the previous sample.
  void Sample(double unix_seconds, const Metrics& metrics,
              const std::vector<store::StreamStatus>& streams);

  /// The samples taken after `since` (unix seconds; all when nullopt), as columns:
  /// {"interval_seconds", "t": [...], "endpoints": {name: {"requests_per_second", "p50_ms",
  /// "p99_ms"}}, "sources": {name: {"events_per_second", "rows_per_second", "publish_p50_ms",
  /// "publish_p99_ms"}}}; null where a series has no value (no requests, no source yet).
  std::string Json(std::optional<double> since) const;

 private:
  struct Point {
    double t = 0;
    struct Endpoint {
      double rate = 0;
      std::optional<double> p50_ms, p99_ms;
    };
    std::vector<Endpoint> endpoints;  // by Metrics::kEndpoints
    struct Source {
      double events = 0, rows = 0;
      std::optional<double> publish_p50_ms, publish_p99_ms;
    };
    std::map<std::string, Source> sources;
  };
  struct Previous {
    double t = 0;
    std::vector<Metrics::EndpointCounts> endpoints;
    std::map<std::string, std::pair<int64_t, int64_t>> sources;  // events, rows
  };

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<Point> points_;
  std::optional<Previous> previous_;
};

/// The q-quantile (0..1) of the observations a histogram's bucket counts hold, interpolated
/// linearly within the bucket (the overflow bucket reports the last bound); nullopt when empty.
std::optional<double> HistogramQuantile(const Metrics::EndpointCounts& counts, double q);

}  // namespace headwater::server
