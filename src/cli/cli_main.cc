// The `headwater` command: parses arguments with CLI11 and runs one subcommand. Errors print
// "error: <message>" on stderr and exit 1; usage errors exit 2.

#include <CLI/CLI.hpp>
#include <iostream>
#include <new>

#include "commands.h"
#include "headwater/cli/main.h"
#include "headwater/core/text.h"

namespace headwater::cli {

int Main(int argc, char** argv) {
  CLI::App app{"Headwater: a feature store with its own stream and batch engine."};
  app.set_version_flag("--version", "headwater 0.1.0");
  app.require_subcommand(1);
  GlobalOptions global;
  std::string chdir;
  app.add_option("-c,--chdir", chdir,
                 "Run in this feature repository instead of the current directory");

  std::string init_name;
  auto* init = app.add_subcommand("init", "Create a feature repository with example data");
  init->add_option("NAME", init_name, "Directory (and project name) to create")->required();

  auto* apply =
      app.add_subcommand("apply", "Validate the definitions and store them in the registry");
  auto* plan = app.add_subcommand("plan", "Show what `apply` would change, changing nothing");
  auto* dump = app.add_subcommand("registry-dump", "Print the registry as JSON");
  auto* teardown =
      app.add_subcommand("teardown", "Remove the registry and everything apply created");

  HistoricalOptions historical;
  auto* history = app.add_subcommand("get-historical-features",
                                     "Join point-in-time-correct features onto entity rows");
  history
      ->add_option("--entities", historical.entities,
                   "Entity rows: Parquet or CSV with join keys and event_timestamp")
      ->required();
  auto* features_option =
      history
          ->add_option("--features", historical.features, "Comma-separated view:feature references")
          ->delimiter(',');
  auto* service_option = history->add_option("--feature-service", historical.feature_service,
                                             "A feature service instead of --features");
  features_option->excludes(service_option);
  history->add_option("--output", historical.output, "Output file, .parquet or .csv")->required();
  history->add_flag("--full-feature-names", historical.full_feature_names,
                    "Name feature columns view__feature");
  history->add_option("--threads", historical.threads, "Worker threads (default: one per core)")
      ->check(CLI::Range(0, 256));

  MaterializeArguments materialize_arguments;
  auto* materialize = app.add_subcommand(
      "materialize",
      "Load the latest values with event time in [START, END) into the online store");
  materialize->add_option("START", materialize_arguments.start, "ISO 8601 start (inclusive)")
      ->required();
  materialize->add_option("END", materialize_arguments.end, "ISO 8601 end (exclusive)")->required();
  materialize->add_option("-v,--views", materialize_arguments.views, "Only these feature views")
      ->delimiter(',');
  materialize->add_option("--threads", materialize_arguments.threads, "Worker threads")
      ->check(CLI::Range(0, 256));
  MaterializeArguments incremental_arguments;
  auto* incremental = app.add_subcommand(
      "materialize-incremental",
      "Materialize from where each view's last run ended (first run: its oldest row) up to END");
  incremental->add_option("END", incremental_arguments.end, "ISO 8601 end (exclusive)")->required();
  incremental->add_option("-v,--views", incremental_arguments.views, "Only these feature views")
      ->delimiter(',');
  incremental->add_option("--threads", incremental_arguments.threads, "Worker threads")
      ->check(CLI::Range(0, 256));

  OnlineArguments online_arguments;
  auto* online = app.add_subcommand("get-online-features",
                                    "Read the latest feature values of entities, as Feast's JSON");
  auto* online_features = online
                              ->add_option("--features", online_arguments.features,
                                           "Comma-separated view:feature references")
                              ->delimiter(',');
  auto* online_service = online->add_option("--feature-service", online_arguments.feature_service,
                                            "A feature service instead of --features");
  online_features->excludes(online_service);
  online
      ->add_option("--entities", online_arguments.entities,
                   "JSON object of join key -> values, e.g. '{\"driver_id\": [1001]}'")
      ->required();
  online->add_flag("--full-feature-names", online_arguments.full_feature_names,
                   "Name features view__feature");

  std::string dump_view;
  auto* online_dump = app.add_subcommand(
      "online-dump", "Print a view's online keys and values as hex, in key order (debugging aid)");
  online_dump->add_option("--view", dump_view, "The feature view")->required();

  headwater::server::ServerOptions serve_arguments;
  auto* serve =
      app.add_subcommand("serve", "Serve features over HTTP (Feast's feature-server API)");
  serve->add_option("--host", serve_arguments.host,
                    "IPv4 address to listen on (default 127.0.0.1)");
  serve->add_option("-p,--port", serve_arguments.port, "Port (default 6566)")
      ->check(CLI::Range(1, 65535));
  serve
      ->add_option("--workers", serve_arguments.workers,
                   "Event-loop threads (default: one per core)")
      ->check(CLI::Range(0, 256));
  serve
      ->add_option("--max-body-bytes", serve_arguments.max_body_bytes,
                   "Larger request bodies get 413 (default 8 MiB)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 31));
  serve
      ->add_option("--io-timeout", serve_arguments.io_timeout_seconds,
                   "Seconds a silent client is kept (default 10)")
      ->check(CLI::Range(1, 3600));
  serve->add_option("--cert", serve_arguments.cert, "PEM certificate chain: serve HTTPS");
  serve->add_option("--key", serve_arguments.key, "PEM private key for --cert");

  std::string token;
  auto* stream = app.add_subcommand(
      "stream", "Run the stream pipelines of every stream feature view, without the HTTP API");
  auto* hash_token = app.add_subcommand(
      "hash-token", "Print the SHA-256 of an API token, for auth.tokens in feature_store.yaml");
  hash_token->add_option("TOKEN", token, "The secret token")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  if (!chdir.empty()) global.repo = chdir;

  headwater::Status status;
  try {
    if (init->parsed()) {
      status = RunInit(init_name, global.repo);
    } else if (apply->parsed()) {
      status = RunApply(global);
    } else if (plan->parsed()) {
      status = RunPlan(global);
    } else if (dump->parsed()) {
      status = RunRegistryDump(global);
    } else if (teardown->parsed()) {
      status = RunTeardown(global);
    } else if (history->parsed()) {
      if (historical.features.empty() && historical.feature_service.empty()) {
        std::cerr << "error: get-historical-features needs --features or --feature-service\n";
        return 2;
      }
      status = RunGetHistoricalFeatures(global, historical);
    } else if (materialize->parsed()) {
      status = RunMaterialize(global, materialize_arguments);
    } else if (incremental->parsed()) {
      status = RunMaterializeIncremental(global, incremental_arguments);
    } else if (online->parsed()) {
      if (online_arguments.features.empty() && online_arguments.feature_service.empty()) {
        std::cerr << "error: get-online-features needs --features or --feature-service\n";
        return 2;
      }
      status = RunGetOnlineFeatures(global, online_arguments);
    } else if (online_dump->parsed()) {
      status = RunOnlineDump(global, dump_view);
    } else if (stream->parsed()) {
      status = RunStream(global);
    } else if (serve->parsed()) {
      status = RunServe(global, serve_arguments);
    } else if (hash_token->parsed()) {
      status = RunHashToken(token);
    }
  } catch (const std::bad_alloc&) {
    status = headwater::Status::OutOfMemory("out of memory");
  } catch (const std::exception& error) {
    // Libraries below report errors as Status; one that throws anyway is a bug to report, not a
    // reason to abort with a core dump.
    status = headwater::Status::UnknownError("internal error: ", error.what());
  } catch (...) {
    status = headwater::Status::UnknownError("internal error: an unknown exception");
  }
  if (!status.ok()) {
    std::cerr << "error: " << headwater::PrintableText(status.message()) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace headwater::cli
