#pragma once
// The HTTP transport of the feature server: h2o's event loop, one loop and listening socket
// (SO_REUSEPORT) per worker thread. h2o was chosen by measurement (README): on this 2-core
// machine, with wrk sharing the cores, a fixed 600-byte answer reached 59k req/s on one worker
// and 71k on two, against libevent's evhttp at 23k/30k and cpp-httplib's thread-per-connection
// pool at under 100 req/s with 32 keep-alive connections.

#include <atomic>
#include <string>

#include "headwater/server/feature_service.h"

namespace headwater::server {

struct ServerOptions {
  /// Address to listen on. Default 127.0.0.1.
  std::string host = "127.0.0.1";
  /// Port. Default 6566 (Feast's).
  int port = 6566;
  /// Event-loop threads; 0 means one per core. Default 0.
  int workers = 0;
  /// Larger request bodies get 413. Default 8 MiB.
  size_t max_body_bytes = 8 << 20;
  /// A client that sends nothing for this long is disconnected. Default 10 s.
  int io_timeout_seconds = 10;
  /// PEM certificate chain and private key: both set serves HTTPS. Default: plain HTTP.
  std::string cert;
  std::string key;
  /// Error bodies in Headwater's shape or Feast's (feature_service.h). Default Headwater's.
  ErrorBody error_body = ErrorBody::kHeadwater;
};

/// Serves until `stop` becomes true; also polls the registry every 200 ms so an `apply` takes
/// effect within a second. Errors (address in use, bad certificate) return at once.
Status Serve(FeatureService* service, const ServerOptions& options, const std::atomic<bool>& stop,
             const std::function<void()>& on_listening = {});

}  // namespace headwater::server
