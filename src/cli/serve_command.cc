// serve: the HTTP feature server.

#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "commands.h"
#include "headwater/core/clock.h"
#include "headwater/core/text.h"
#include "headwater/ingest/stream_runner.h"
#include "headwater/registry/registry_store.h"
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

Status RunStream(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto registry, registry::ReadRegistry(config));
  ARROW_ASSIGN_OR_RAISE(auto store, online::OpenOnlineStore(config, online::OpenMode::kReadWrite));
  struct sigaction action {};
  action.sa_handler = RequestStop;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  ARROW_ASSIGN_OR_RAISE(
      auto runner, ingest::StreamRunner::Start(config, registry.definitions, store.get(),
                                               SystemClock::Instance(), [](std::string_view line) {
                                                 std::cerr << "stream: " << PrintableText(line)
                                                           << std::endl;
                                               }));
  if (runner->pipelines().empty()) {
    return Status::Invalid("no stream feature view reads a push or kafka source; nothing to run");
  }
  for (const auto& pipeline : runner->pipelines()) {
    std::cout << "Streaming source '" << pipeline->source_name() << "' into";
    for (const std::string& view : pipeline->views()) std::cout << " " << view;
    std::cout << std::endl;
  }
  while (!stop_requested.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ARROW_RETURN_NOT_OK(runner->Stop());
  std::cout << "Stopped after a final checkpoint" << std::endl;
  return Status::OK();
}

Status RunHashToken(const std::string& token) {
  if (token.size() < 16) {
    return Status::Invalid("use a token of at least 16 characters (e.g. `openssl rand -hex 32`)");
  }
  std::cout << server::Sha256Hex(token) << "\n";
  return Status::OK();
}

}  // namespace headwater::cli
