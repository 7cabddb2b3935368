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
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string_view content_type = "application/json";
};

class Metrics;

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

 private:
  FeatureService(std::unique_ptr<store::FeatureStore> store, ErrorBody error_body);
  HttpResponse Error(int status, std::string_view error, std::string_view detail,
                     std::optional<Missing> missing = std::nullopt) const;
  HttpResponse FromStatus(const Status& status) const;
  HttpResponse Route(const HttpRequest& request, std::string_view* endpoint);
  HttpResponse GetOnlineFeatures(std::string_view body);
  HttpResponse WriteToOnlineStore(std::string_view body);
  HttpResponse Push(std::string_view body, uint32_t granted_scopes);
  HttpResponse Materialize(std::string_view body, bool incremental);
  HttpResponse Health();
  HttpResponse MetricsText();

  std::unique_ptr<store::FeatureStore> store_;
  std::unique_ptr<Metrics> metrics_;
  const ErrorBody error_body_;
};

}  // namespace headwater::server
