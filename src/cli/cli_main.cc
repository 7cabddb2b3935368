// The `headwater` command: parses arguments with CLI11 (ParseCommandLine) and runs one
// subcommand (Run). Errors print "error: <message>" on stderr and exit 1; usage errors exit 2.

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <new>

#include "commands.h"
#include "headwater/cli/main.h"
#include "headwater/core/memory.h"
#include "headwater/core/text.h"

namespace headwater::cli {
namespace {

// A --threads option: 0 means one per core.
void AddThreads(CLI::App* command, int* threads, const char* what = "Worker threads") {
  command->add_option("--threads", *threads, what)->check(CLI::Range(0, 256));
}

// --engine: embedded or flink for one command, over batch_engine's type.
void AddEngine(CLI::App* command, std::string* engine) {
  command
      ->add_option("--engine", *engine,
                   "Batch engine for this command: embedded or flink (default: batch_engine)")
      ->check(CLI::IsMember({"embedded", "flink"}));
}

// --features and --feature-service, one of which is needed (checked after parsing).
void AddSelection(CLI::App* command, std::vector<std::string>* features, std::string* service) {
  auto* list =
      command->add_option("--features", *features, "Comma-separated view:feature references")
          ->delimiter(',');
  auto* named =
      command->add_option("--feature-service", *service, "A feature service instead of --features");
  list->excludes(named);
}

void AddRepositoryCommands(CLI::App& app, Invocation* out) {
  app.add_subcommand("init", "Create a feature repository with example data")
      ->add_option("NAME", out->operand, "Directory (and project name) to create")
      ->required();
  app.add_subcommand("apply", "Validate the definitions and store them in the registry");
  app.add_subcommand("plan", "Show what `apply` would change, changing nothing");
  app.add_subcommand("registry-dump", "Print the registry as JSON");
  app.add_subcommand("teardown", "Remove the registry and everything apply created");
  auto* compile = app.add_subcommand(
      "compile", "Write the stream views' jobs for another engine (flink: pipeline.sql, jars.txt)");
  compile->add_option("ENGINE", out->operand, "The engine: flink")
      ->required()
      ->check(CLI::IsMember({"flink"}));
  compile->add_option("-o,--output", out->output, "Directory to write (default: <repo>/flink)");
  auto* flink = app.add_subcommand("flink", "The stream views' Flink jobs (stream_engine: flink)");
  flink->require_subcommand(1);
  flink->add_subcommand("status", "List the jobs with their state, checkpoints and source lag");
}

// Feast's listings: `<kind> list [--tags k:v] [--json]`, `<kind> describe NAME`.
void AddListingCommands(CLI::App& app, Invocation* out) {
  ListingArguments& listing = out->listing;
  for (const char* kind : {"entities", "data-sources", "feature-views", "feature-services",
                           "on-demand-feature-views"}) {
    auto* group = app.add_subcommand(kind, std::string("List or describe the applied ") + kind);
    group->require_subcommand(1);
    auto* list = group->add_subcommand("list", std::string("List the ") + kind);
    list->add_option("--tags", listing.tags, "Only objects with these tags, key:value")
        ->delimiter(',');
    list->add_flag("--json", listing.json, "JSON objects instead of a table");
    auto* describe =
        group->add_subcommand("describe", "Print one object, as the registry holds it");
    describe->add_option("NAME", listing.name, "Its name")->required();
  }
}

void AddRetrievalCommands(CLI::App& app, Invocation* out) {
  HistoricalOptions& historical = out->historical;
  auto* history = app.add_subcommand("get-historical-features",
                                     "Join point-in-time-correct features onto entity rows");
  auto* rows = history->add_option_group("entity rows", "--entities or --entity-query");
  rows->add_option("--entities", historical.entities,
                   "Entity rows: Parquet or CSV with join keys and event_timestamp");
  rows->add_option(
      "--entity-query", historical.entity_query,
      "Entity rows as a Flink SQL query over the file sources (runs on batch_engine's cluster)");
  rows->require_option(1);
  AddSelection(history, &historical.features, &historical.feature_service);
  history->add_option("--output", historical.output, "Output file, .parquet or .csv")->required();
  history->add_flag("--full-feature-names", historical.full_feature_names,
                    "Name feature columns view__feature");
  AddThreads(history, &historical.threads,
             "Worker threads (default: one per core; two per core with a Redis online store)");
  AddEngine(history, &historical.engine);

  OnlineArguments& online = out->online;
  auto* read = app.add_subcommand("get-online-features",
                                  "Read the latest feature values of entities, as Feast's JSON");
  AddSelection(read, &online.features, &online.feature_service);
  read->add_option("--entities", online.entities,
                   "JSON object of join key -> values, e.g. '{\"driver_id\": [1001]}'")
      ->required();
  read->add_flag("--full-feature-names", online.full_feature_names, "Name features view__feature");

  app.add_subcommand("online-dump",
                     "Print a view's online keys and values as hex, in key order (debugging aid)")
      ->add_option("--view", out->operand, "The feature view")
      ->required();
}

void AddMaterializeCommands(CLI::App& app, Invocation* out) {
  MaterializeArguments& arguments = out->materialize;
  auto* full = app.add_subcommand(
      "materialize",
      "Load the latest values with event time in [START, END) into the online store");
  full->add_option("START", arguments.start, "ISO 8601 start (inclusive)")->required();
  auto* incremental = app.add_subcommand(
      "materialize-incremental",
      "Materialize from where each view's last run ended (first run: its oldest row) up to END");
  for (CLI::App* command : {full, incremental}) {
    command->add_option("END", arguments.end, "ISO 8601 end (exclusive)")->required();
    command->add_option("-v,--views", arguments.views, "Only these feature views")->delimiter(',');
    AddThreads(command, &arguments.threads);
    AddEngine(command, &arguments.engine);
  }
}

void AddServingCommands(CLI::App& app, Invocation* out) {
  server::ServerOptions& options = out->serve;
  auto* serve =
      app.add_subcommand("serve", "Serve features over HTTP (Feast's feature-server API)");
  serve->add_option("--host", options.host, "IPv4 address to listen on (default 127.0.0.1)");
  serve->add_option("-p,--port", options.port, "Port (default 6566)")->check(CLI::Range(1, 65535));
  serve
      ->add_option(
          "--workers", options.workers,
          "Event-loop threads (default: one per core; two per core with a Redis online store)")
      ->check(CLI::Range(0, 256));
  serve
      ->add_option("--max-body-bytes", options.max_body_bytes,
                   "Larger request bodies get 413 (default 8 MiB)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 31));
  serve
      ->add_option("--io-timeout", options.io_timeout_seconds,
                   "Seconds a silent client is kept (default 10)")
      ->check(CLI::Range(1, 3600));
  serve->add_option("--cert", options.cert, "PEM certificate chain: serve HTTPS");
  serve->add_option("--key", options.key, "PEM private key for --cert");
  serve
      ->add_option("--error-body", options.error_body,
                   "Error bodies: headwater ({error, detail}) or feast (what Feast's remote "
                   "clients raise as Feast exceptions); default headwater")
      ->transform(CLI::CheckedTransformer(std::map<std::string, server::ErrorBody>{
          {"headwater", server::ErrorBody::kHeadwater}, {"feast", server::ErrorBody::kFeast}}));

  auto* ui = app.add_subcommand(
      "ui", "Serve features with the web UI and print its address (the server serves /ui too)");
  ui->add_option("--host", options.host, "IPv4 address to listen on (default 127.0.0.1)");
  ui->add_option("-p,--port", options.port, "Port (default 6566)")->check(CLI::Range(1, 65535));
  ui->add_option("--cert", options.cert, "PEM certificate chain: serve HTTPS");
  ui->add_option("--key", options.key, "PEM private key for --cert");

  auto* offline = app.add_subcommand(
      "serve-offline", "Serve training data over Arrow Flight (Feast's remote offline store)");
  offline->add_option("--host", out->serve_offline.host,
                      "Address to listen on (default 127.0.0.1)");
  offline->add_option("-p,--port", out->serve_offline.port, "Port (default 8815)")
      ->check(CLI::Range(1, 65535));

  app.add_subcommand("stream",
                     "Run the stream pipelines of every stream feature view, without the HTTP API");
  app.add_subcommand("hash-token",
                     "Print the SHA-256 of an API token, for auth.tokens in feature_store.yaml")
      ->add_option("TOKEN", out->operand, "The secret token")
      ->required();
}

}  // namespace

std::variant<Invocation, int> ParseCommandLine(int argc, const char* const* argv) {
  CLI::App app{"Headwater: a feature store with its own stream and batch engine."};
  app.set_version_flag("--version", "headwater 0.1.0");
  app.require_subcommand(1);
  Invocation invocation;
  std::string chdir;
  app.add_option("-c,--chdir", chdir,
                 "Run in this feature repository instead of the current directory");
  AddRepositoryCommands(app, &invocation);
  AddRetrievalCommands(app, &invocation);
  AddMaterializeCommands(app, &invocation);
  AddListingCommands(app, &invocation);
  AddServingCommands(app, &invocation);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  invocation.command = app.get_subcommands().front()->get_name();
  if (const CLI::App* group = app.get_subcommands().front();
      !group->get_subcommands().empty() && invocation.command != "flink") {
    invocation.listing.kind = invocation.command;
    invocation.listing.action = group->get_subcommands().front()->get_name();
  }
  if (!chdir.empty()) invocation.global.repo = chdir;
  const bool selects =
      !invocation.historical.features.empty() || !invocation.historical.feature_service.empty() ||
      !invocation.online.features.empty() || !invocation.online.feature_service.empty();
  if ((invocation.command == "get-historical-features" ||
       invocation.command == "get-online-features") &&
      !selects) {
    std::cerr << "error: " << invocation.command << " needs --features or --feature-service\n";
    return 2;
  }
  return invocation;
}

Status Run(const Invocation& invocation) {
  const std::string& command = invocation.command;
  const GlobalOptions& global = invocation.global;
  if (command == "init") return RunInit(invocation.operand, global.repo);
  if (command == "apply") return RunApply(global);
  if (command == "plan") return RunPlan(global);
  if (command == "registry-dump") return RunRegistryDump(global);
  if (command == "teardown") return RunTeardown(global);
  if (command == "compile") return RunCompileFlink(global, invocation.output);
  if (command == "flink") return RunFlinkStatus(global);
  // Batch commands touch gigabytes of fresh memory once (core/memory.h).
  if (command == "get-historical-features" || command.starts_with("materialize")) {
    SetTransparentHugePagesDisabled(true);
  }
  if (command == "get-historical-features") {
    return RunGetHistoricalFeatures(global, invocation.historical);
  }
  if (command == "materialize") return RunMaterialize(global, invocation.materialize);
  if (command == "materialize-incremental") {
    return RunMaterializeIncremental(global, invocation.materialize);
  }
  if (command == "get-online-features") return RunGetOnlineFeatures(global, invocation.online);
  if (command == "serve-offline") return RunServeOffline(global, invocation.serve_offline);
  if (command == "online-dump") return RunOnlineDump(global, invocation.operand);
  if (command == "stream") return RunStream(global);
  if (command == "serve") return RunServe(global, invocation.serve);
  if (command == "ui") return RunServe(global, invocation.serve, /*announce_ui=*/true);
  if (command == "hash-token") return RunHashToken(invocation.operand);
  if (!invocation.listing.kind.empty()) return RunListing(global, invocation.listing);
  return Status::Invalid("unknown command '", command, "'");
}

int Main(int argc, char** argv) {
  auto parsed = ParseCommandLine(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  Status status;
  try {
    status = Run(std::get<Invocation>(parsed));
  } catch (const std::bad_alloc&) {
    status = Status::OutOfMemory("out of memory");
  } catch (const std::exception& error) {
    // Libraries below report errors as Status; one that throws anyway is a bug to report, not a
    // reason to abort with a core dump.
    status = Status::UnknownError("internal error: ", error.what());
  } catch (...) {
    status = Status::UnknownError("internal error: an unknown exception");
  }
  if (!status.ok()) {
    std::cerr << "error: " << PrintableText(status.message()) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace headwater::cli
