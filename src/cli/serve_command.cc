// serve: the HTTP feature server.

#include <chrono>
#include <csignal>
#include <iostream>

#include "commands.h"
#include "headwater/core/clock.h"
#include "headwater/core/text.h"
#include "headwater/server/api_token.h"
#include "headwater/server/http_server.h"
#include "headwater/store/feature_store.h"

namespace headwater::cli {
namespace {

std::atomic<bool> stop_requested{false};

void RequestStop(int) { stop_requested.store(true); }

}  // namespace

Status RunServe(const GlobalOptions& global, server::ServerOptions options, bool announce_ui) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto service, server::FeatureService::Make(config, SystemClock::Instance(),
                                                                   options.error_body));
  if (!config.auth.enabled && options.host.rfind("127.", 0) != 0) {
    std::cerr << "warning: serving on " << options.host
              << " without authentication: anyone who can reach it can read and write features\n";
  }
  struct sigaction action {};
  action.sa_handler = RequestStop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const std::string url = std::string(options.cert.empty() ? "http" : "https") + "://" +
                          options.host + ":" + std::to_string(options.port);
  return server::Serve(service.get(), options, stop_requested, [&] {
    std::cout << "Serving " << config.project << " (registry version "
              << service->registry_version() << ", " << config.online_store.type << ") on " << url
              << std::endl;
    if (announce_ui) std::cout << "Web UI: open " << url << "/ui in a browser" << std::endl;
  });
}

Status RunServeOffline(const GlobalOptions& global, const server::OfflineServerOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  if (!config.auth.enabled && options.host.rfind("127.", 0) != 0) {
    std::cerr << "warning: serving on " << options.host
              << " without authentication: anyone who can reach it can read training data\n";
  }
  return server::ServeOffline(config, options, [&] {
    std::cout << "Serving " << config.project << " offline (Arrow Flight) on grpc+tcp://"
              << options.host << ":" << options.port << std::endl;
  });
}

Status RunStream(const GlobalOptions& global) {
  store::OpenOptions options;
  options.online = store::OnlineAccess::kHeld;
  options.run_streams = true;
  struct sigaction action {};
  action.sa_handler = RequestStop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(global.repo, std::move(options)));
  auto streams = store->StreamStatuses();
  if (streams.empty()) {
    return Status::Invalid("no stream feature view reads a push or kafka source; nothing to run");
  }
  const auto& definitions = store->snapshot()->registry.definitions;
  for (const auto& stream : streams) {
    std::cout << "Streaming source '" << stream.source << "' into";
    for (const auto* view : ingest::StreamViewsOf(definitions, stream.source)) {
      std::cout << " " << view->name;
    }
    std::cout << std::endl;
  }
  while (!stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ARROW_RETURN_NOT_OK(store->Close());
  std::cout << "Stopped after a final checkpoint" << std::endl;
  return Status::OK();
}

Status RunHashToken(const std::string& token) {
  if (token.size() < 16) {
    return Status::Invalid("use a token of at least 16 characters (e.g. `openssl rand -hex 32`)");
  }
  std::cout << Sha256Hex(token) << "\n";
  return Status::OK();
}

}  // namespace headwater::cli
