#pragma once
// The feature server's request handling, independent of the HTTP transport: a request in, a
// response out. The transport (http_server.h) and the fuzzer both drive it.
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
// /health and /metrics need no token.

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "headwater/core/clock.h"
#include "headwater/ingest/stream_runner.h"
#include "headwater/online/online_reader.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

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

class FeatureService {
 public:
  /// Opens the online store for writing, loads the registry and starts the stream pipelines of
  /// its stream feature views (ingest/stream_runner.h). `clock` must outlive it.
  static Result<std::unique_ptr<FeatureService>> Make(const registry::RepoConfig& config,
                                                      const Clock& clock);
  ~FeatureService();

  /// Stops the stream pipelines with a last checkpoint. The destructor does it too.
  Status Stop();

  /// Handles one request. Thread-safe; never throws.
  HttpResponse Handle(const HttpRequest& request);

  /// Re-reads the registry when its file changed and swaps it in; requests in flight finish
  /// with the registry they started with. Returns whether it changed. A file that cannot be read
  /// leaves the current registry serving; the error is logged once and /health reports
  /// "degraded" with it until a good file is read.
  Result<bool> RefreshRegistry();

  int64_t registry_version() const;

 private:
  struct Snapshot {
    registry::Registry registry;
    std::shared_ptr<const online::OnlineCatalog> catalog;
  };
  FeatureService(const registry::RepoConfig& config, const Clock& clock);
  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }
  HttpResponse Route(const HttpRequest& request, std::string_view* endpoint);
  HttpResponse GetOnlineFeatures(std::string_view body);
  HttpResponse WriteToOnlineStore(std::string_view body);
  HttpResponse Push(std::string_view body, uint32_t granted_scopes);
  HttpResponse Materialize(std::string_view body, bool incremental);
  HttpResponse Health();
  HttpResponse MetricsText();
  Result<bool> ReloadRegistry();

  registry::RepoConfig config_;
  const Clock& clock_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<online::OnlineStore> backing_store_;  // the real store; outlives store_
  std::unique_ptr<online::OnlineStore> store_;          // backing_store_, with reads timed
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::string registry_stamp_;  // file size and mtime of the registry last loaded
  // Why the registry file last failed to load; null while it loads.
  std::atomic<std::shared_ptr<const std::string>> registry_error_;
  std::mutex refresh_mutex_;
  std::mutex materialize_mutex_;  // one materialization at a time
  // The running stream pipelines; replaced (under the exclusive lock) when a registry reload
  // changes the stream views, used under the shared lock.
  std::shared_mutex streams_mutex_;
  std::unique_ptr<ingest::StreamRunner> streams_;
};

}  // namespace headwater::server
