#pragma once
// The headwater subcommands. Each returns OK or a user-facing error; main() prints it.

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/server/http_server.h"
#include "headwater/server/offline_server.h"

namespace headwater::cli {

/// Options every command shares.
struct GlobalOptions {
  /// The feature repository (directory holding feature_store.yaml). Default: the current one.
  std::filesystem::path repo = ".";
};

Status RunInit(const std::string& name, const std::filesystem::path& parent);
Status RunApply(const GlobalOptions& global);
Status RunPlan(const GlobalOptions& global);
Status RunRegistryDump(const GlobalOptions& global);
Status RunTeardown(const GlobalOptions& global);

struct HistoricalOptions {
  std::filesystem::path entities;
  std::string entity_query;  // Flink SQL instead of a file
  std::vector<std::string> features;
  std::string feature_service;
  std::filesystem::path output;
  bool full_feature_names = false;
  int threads = 0;
  std::string engine;  // "": batch_engine's
};
Status RunGetHistoricalFeatures(const GlobalOptions& global, const HistoricalOptions& options);

struct MaterializeArguments {
  std::string start;  // ISO 8601; unused by materialize-incremental
  std::string end;
  std::vector<std::string> views;  // empty: every online view
  int threads = 0;
  std::string engine;  // "": batch_engine's
};
Status RunMaterialize(const GlobalOptions& global, const MaterializeArguments& arguments);
Status RunMaterializeIncremental(const GlobalOptions& global,
                                 const MaterializeArguments& arguments);

struct OnlineArguments {
  std::vector<std::string> features;
  std::string feature_service;
  std::string entities;  // JSON
  bool full_feature_names = false;
};
Status RunGetOnlineFeatures(const GlobalOptions& global, const OnlineArguments& arguments);
Status RunOnlineDump(const GlobalOptions& global, const std::string& view);

/// `serve`, and `ui` (the same server, announcing its web UI's address).
Status RunServe(const GlobalOptions& global, server::ServerOptions options,
                bool announce_ui = false);
Status RunServeOffline(const GlobalOptions& global, const server::OfflineServerOptions& options);
Status RunHashToken(const std::string& token);
Status RunStream(const GlobalOptions& global);
/// `compile flink`: writes pipeline.sql and jars.txt to `output` (default: <repo>/flink).
Status RunCompileFlink(const GlobalOptions& global, const std::filesystem::path& output);
/// `flink status`: the stream views' Flink jobs, their state, checkpoints and source lag.
Status RunFlinkStatus(const GlobalOptions& global);

/// One parsed command line: the subcommand and its arguments, nothing run yet.
/// `entities|data-sources|feature-views|feature-services|on-demand-feature-views list|describe`:
/// Feast's listings of the applied registry.
struct ListingArguments {
  std::string kind;               // the command: "entities", "feature-views", ...
  std::string action;             // "list" or "describe"
  std::string name;               // describe's NAME
  bool json = false;              // list: JSON instead of a table
  std::vector<std::string> tags;  // list: only objects with every key:value
};
Status RunListing(const GlobalOptions& global, const ListingArguments& arguments);

struct Invocation {
  std::string command;  // "apply", "materialize", ... as typed
  GlobalOptions global;
  std::string operand;  // init's NAME, online-dump's --view, hash-token's TOKEN, compile's ENGINE
  std::filesystem::path output;  // compile's -o
  HistoricalOptions historical;
  MaterializeArguments materialize;  // materialize and materialize-incremental
  OnlineArguments online;
  server::ServerOptions serve;
  server::OfflineServerOptions serve_offline;
  ListingArguments listing;
};

/// Parses `argv`. Returns the invocation, or the exit code to stop with after CLI11 printed help,
/// the version (0) or a usage error (2).
std::variant<Invocation, int> ParseCommandLine(int argc, const char* const* argv);

/// Runs a parsed invocation.
Status Run(const Invocation& invocation);

}  // namespace headwater::cli
