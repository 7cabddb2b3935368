#pragma once
// The feature server's request handling, independent of the HTTP transport: a request in, a
// response out. The transport (http_server.h) and the fuzzer both drive it. An adapter over
// the feature-store core (store/feature_store.h): it checks tokens, turns JSON into Arrow,
// calls the core and renders its answer; no domain rule lives here.
//
// Endpoints (Feast's feature-server contract):
//   GET  /health                   {"status": "ok", "registry_version": N}; "degraded" with
//                                  "registry_error" while the registry file cannot be read
//   GET  /metrics                  Prometheus text
//   POST /get-online-features      {"features": [...] | "feature_service": s, "entities": {...},
//                                   "full_feature_names": b}
//   POST /write-to-online-store    {"feature_view_name": v, "df": {column: [values]}}
//   POST /push                     {"push_source_name": s, "df": {column: [values]},
//                                   "to": "online" | "offline" | "online_and_offline" | "both"}
//   POST /materialize              {"start_ts": t, "end_ts": t, "feature_views": [...]}
//   POST /materialize-incremental  {"end_ts": t, "feature_views": [...]}
// Errors: {"error": "<what>", "detail": "<message naming the field and value>"} with 400 for bad
// input, 401 without a valid token and 403 without the endpoint's scope (when feature_store.yaml
// has `auth`), 404 for unknown views/features/services/paths, 405, 413, 500 for store failures.
// With ErrorBody::kFeast the body is instead Feast's error document as a JSON string
// (server/feast_error.h), which Feast's remote clients raise as the matching Feast exception.
// /health and /metrics need no token.
//
// The web UI's JSON (docs/http_api.md), each needing a valid token when auth is on:
//   GET  /api/whoami               {"auth": b, "scopes": [...]}: what the caller's token may do
//   GET  /api/registry             the applied registry (with each object's file and line) and
//                                  its lineage {"nodes": [...], "edges": [{"from", "to"}]}
//   GET  /api/freshness            per feature view its last materialization, incremental marker
//                                  and newest online event; per stream pipeline its watermark,
//                                  lag, late events, dead letters (the last few) and checkpoint age
//   GET  /api/metrics[?since=t]    the last hour of request, event and row rates and latency
//                                  quantiles, one sample a second, as columns
//   POST /api/statistics           {"feature_view": v, "bins": n}: starts computing count, nulls,
//                                  min/max/mean and a histogram per feature of the view's offline
//                                  data (scope read_offline); answers {"job": id, ...}
//   GET  /api/statistics/<id>      {"job", "done", "progress", "result" | "error"}
// GET /ui and /ui/<file> serve the web UI's page and assets (built into the binary) to anyone:
// they hold no data; the page asks for a token when the server needs one.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "headwater/core/clock.h"
#include "headwater/registry/repo_config.h"
#include "headwater/store/feature_store.h"

namespace headwater::server {

struct HttpRequest {
  std::string_view method;
  std::string_view path;
  std::string_view body;
  /// The Authorization header ("Bearer <token>"), or empty.
  std::string_view authorization;
  /// The Idempotency-Key header of a write (ingest/idempotency.h), or empty.
  std::string_view idempotency_key;
  /// Whether the request carried an Idempotency-Key header (an empty one is refused).
  bool has_idempotency_key = false;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string_view content_type = "application/json";
  /// A web UI asset: the transport adds the page's security headers (a Content-Security-Policy
  /// allowing only this server's scripts, nosniff, no framing).
  bool ui_asset = false;
  /// For a refusal (status 400 and above): its error name and detail, which the transport logs.
  std::string_view error;
  std::string error_detail;
};

class Metrics;
class MetricsHistory;
struct StatisticsJobs;

/// The shape of error bodies: Headwater's {"error", "detail"} or Feast's (see above).
enum class ErrorBody { kHeadwater, kFeast };

class FeatureService {
 public:
  /// Opens the repository's feature store holding its online store, with its stream pipelines
  /// running. `clock` must outlive it.
  static Result<std::unique_ptr<FeatureService>> Make(const registry::RepoConfig& config,
                                                      const Clock& clock,
                                                      ErrorBody error_body = ErrorBody::kHeadwater);
  ~FeatureService();

  /// Stops the stream pipelines with a last checkpoint. The destructor does it too.
  Status Stop();

  /// Handles one request. Thread-safe; never throws.
  HttpResponse Handle(const HttpRequest& request);

  /// Re-reads the registry when its file changed (store::FeatureStore::Refresh); requests in
  /// flight finish with the registry they started with.
  Result<bool> RefreshRegistry() { return store_->Refresh(); }

  int64_t registry_version() const;

  /// The worker threads to serve with when none is asked for: one per core, two on Redis, where
  /// a worker waits on the network for every read.
  int default_workers() const;

  /// Adds a sample of the counters to the last hour kept for `GET /api/metrics`; the transport
  /// calls it once a second.
  void Sample();

 private:
  FeatureService(std::unique_ptr<store::FeatureStore> store, ErrorBody error_body);
  HttpResponse Error(int status, std::string_view error, std::string_view detail,
                     std::optional<Missing> missing = std::nullopt) const;
  HttpResponse FromStatus(const Status& status) const;
  HttpResponse Route(const HttpRequest& request, std::string_view* endpoint);
  HttpResponse GetOnlineFeatures(std::string_view body);
  HttpResponse WriteToOnlineStore(const HttpRequest& request);
  HttpResponse Push(const HttpRequest& request, uint32_t granted_scopes);
  HttpResponse Materialize(std::string_view body, bool incremental);
  HttpResponse Health();
  HttpResponse MetricsText();
  // The web UI's JSON (ui_api.cc).
  HttpResponse ApiRegistry();
  HttpResponse ApiFreshness();
  HttpResponse StartStatistics(std::string_view body);
  HttpResponse PollStatistics(std::string_view path);
  HttpResponse ApiMetrics(std::string_view path);
  HttpResponse UiAsset(const HttpRequest& request);
  HttpResponse ApiWhoami(uint32_t granted);

  std::unique_ptr<store::FeatureStore> store_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<MetricsHistory> history_;
  std::unique_ptr<StatisticsJobs> statistics_;
  const ErrorBody error_body_;
};

}  // namespace headwater::server
