#pragma once
// Prometheus metrics of the feature server: counters and fixed-bucket histograms on atomics, so
// recording costs a few relaxed increments on the request path.

#include <array>
#include <atomic>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "headwater/store/feature_store.h"

namespace headwater::server {

/// `value` as a Prometheus label value: backslash, double quote and newline escaped, as the text
/// exposition format requires. Every label built from a name goes through it.
std::string LabelValue(std::string_view value);

class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0, 10.0};
  void Observe(double seconds);
  /// Appends the _bucket, _sum and _count lines of `name` with `labels` ("" or `k="v"`).
  void Render(std::string* out, std::string_view name, std::string_view labels) const;
  /// The observations per bucket (not cumulative), the last one past every bound.
  std::array<int64_t, kBounds.size() + 1> Buckets() const;

 private:
  std::array<std::atomic<int64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_nanos_{0};
};

/// Per-endpoint counters and latency; the endpoints are fixed, so lookups need no lock.
class Metrics {
 public:
  static constexpr std::array<std::string_view, 10> kEndpoints = {"/get-online-features",
                                                                  "/write-to-online-store",
                                                                  "/materialize",
                                                                  "/materialize-incremental",
                                                                  "/push",
                                                                  "/health",
                                                                  "/metrics",
                                                                  "/api",
                                                                  "/ui",
                                                                  "other"};
  /// One endpoint's counters at one moment.
  struct EndpointCounts {
    int64_t requests = 0;
    std::array<int64_t, Histogram::kBounds.size() + 1> buckets{};
  };
  /// Every endpoint's counters, in kEndpoints order.
  std::vector<EndpointCounts> Counts() const;
  void Record(std::string_view endpoint, int status, double seconds);
  void ObserveStoreRead(double seconds) { store_read_.Observe(seconds); }
  void AddRowsWritten(std::string_view endpoint, int64_t rows);
  /// Appends everything but feature freshness, which the service adds.
  void Render(std::string* out) const;

 private:
  struct Endpoint {
    std::array<std::atomic<int64_t>, 6> by_status_class{};  // 1xx..5xx, index = status / 100
    Histogram latency;
    std::atomic<int64_t> rows_written{0};
  };
  size_t Index(std::string_view endpoint) const;
  std::array<Endpoint, kEndpoints.size()> endpoints_;
  Histogram store_read_;
};

/// Appends the stream pipelines' metrics (headwater_stream_*), one series per source.
void RenderStreamMetrics(const std::vector<store::StreamStatus>& streams, std::string* out);

/// Appends feature freshness (view, seconds since its newest online event time), the registry
/// version served, and whether the registry file currently fails to load.
void RenderRegistryMetrics(const std::vector<std::pair<std::string, double>>& freshness,
                           int64_t registry_version, bool reload_failing, std::string* out);

}  // namespace headwater::server
