#pragma once
// `headwater serve-offline`: Feast's remote offline store protocol over Arrow Flight, so a Feast
// SDK with `offline_store: type: remote` gets training data computed by Headwater.
//
// Every call names its API in a JSON command (the Flight descriptor's cmd):
//   DoExchange {"api": "get_historical_features", "feature_refs": [...],
//               "full_feature_names": b, ...}  + the entity rows in  -> training data out
//   DoExchange {"api": "pull_latest_from_table_or_query" | "pull_all_from_table_or_query",
//               "data_source_name": s, "join_key_columns": [...], "feature_name_columns": [...],
//               "timestamp_field": s, "created_timestamp_column": s?, "start_date": t?,
//               "end_date": t?}                                       -> the pulled rows out
//   DoPut      {"api": "offline_write_batch", "feature_view_names": [v]} + rows in
//   DoPut      {"api": "validate_data_source"}                        (accepted: apply checks
//                                                                      sources itself)
// Each is an adapter over store::FeatureStore (GetHistoricalFeatures, PullFromSource,
// WriteToOfflineStore). With `auth` in feature_store.yaml, a call needs
// `authorization: Bearer <token>` with read_offline (reads) or write_offline (writes). Errors are
// Feast's error documents (feast_error.h) as the Flight error message, which Feast's client
// raises as the named exception.

#include <atomic>
#include <functional>
#include <string>

#include "headwater/core/status.h"
#include "headwater/registry/repo_config.h"

namespace headwater::server {

struct OfflineServerOptions {
  /// Address to listen on. Default 127.0.0.1.
  std::string host = "127.0.0.1";
  /// Port. Default 8815 (Feast's offline server).
  int port = 8815;
};

/// Serves until SIGINT or SIGTERM. `on_listening` is called once the port is open.
Status ServeOffline(const registry::RepoConfig& config, const OfflineServerOptions& options,
                    const std::function<void()>& on_listening = {});

}  // namespace headwater::server
