// serve: the HTTP feature server.

#include <csignal>
#include <iostream>

#include "commands.h"
#include "headwater/core/clock.h"
#include "headwater/server/api_token.h"
#include "headwater/server/http_server.h"

namespace headwater::cli {
namespace {

std::atomic<bool> stop_requested{false};

void RequestStop(int) { stop_requested.store(true); }

}  // namespace

Status RunServe(const GlobalOptions& global, const server::ServerOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto service,
                        server::FeatureService::Make(config, SystemClock::Instance()));
  if (!config.auth.enabled && options.host.rfind("127.", 0) != 0) {
    std::cerr << "warning: serving on " << options.host
              << " without authentication: anyone who can reach it can read and write features\n";
  }
  struct sigaction action {};
  action.sa_handler = RequestStop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return server::Serve(service.get(), options, stop_requested, [&] {
    std::cout << "Serving " << config.project << " (registry version "
              << service->registry_version() << ", " << config.online_store.type << ") on "
              << (options.cert.empty() ? "http" : "https") << "://" << options.host << ":"
              << options.port << std::endl;
  });
}

Status RunHashToken(const std::string& token) {
  if (token.size() < 16) {
    return Status::Invalid("use a token of at least 16 characters (e.g. `openssl rand -hex 32`)");
  }
  std::cout << server::Sha256Hex(token) << "\n";
  return Status::OK();
}

}  // namespace headwater::cli
