#include "metrics.h"

#include <fmt/format.h>

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

}  // namespace headwater::server
