// `headwater compile flink`: the Flink jobs of the stream views, as files a user can read and
// run by hand (docs/flink.md).

#include <fmt/format.h>

#include <iostream>

#include "commands.h"
#include "headwater/cli/python_exporter.h"
#include "headwater/core/clock.h"
#include "headwater/core/file.h"
#include "headwater/flink/flink_batch.h"
#include "headwater/flink/flink_jobs.h"
#include "headwater/flink/flink_sql.h"
#include "headwater/registry/loader.h"
#include "headwater/store/feature_store.h"

namespace headwater::cli {

Status RunCompileFlink(const GlobalOptions& global, const std::filesystem::path& output) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto definitions, registry::LoadDefinitions(config, PythonExporter()));
  ARROW_ASSIGN_OR_RAISE(auto pipeline, flink::CompileFlink(config, definitions));
  const std::filesystem::path directory =
      output.empty() ? config.repo_path / "flink" : std::filesystem::absolute(output);
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return Status::IOError("cannot create ", directory.string(), ": ", error.message());
  std::string jars;
  for (const std::string& jar : flink::RequiredJars()) jars += jar + "\n";
  ARROW_RETURN_NOT_OK(WriteFileAtomically(directory / "pipeline.sql", pipeline.Script()));
  ARROW_RETURN_NOT_OK(WriteFileAtomically(directory / "jars.txt", jars));
  ARROW_RETURN_NOT_OK(
      WriteFileAtomically(directory / "batch.sql",
                          flink::BatchScript(config, definitions, SystemClock::Instance().Now())));
  for (const flink::FlinkJob& job : pipeline.jobs) {
    std::cout << fmt::format("view {}: Flink job '{}' -> tiles on topic '{}'\n", job.view,
                             job.job_name, job.tile_topic);
  }
  for (const auto& [view, reason] : pipeline.embedded) {
    std::cout << fmt::format("view {}: stays on the embedded engine ({})\n", view, reason);
  }
  std::cout << fmt::format("wrote {}, {}, {}\n", (directory / "pipeline.sql").string(),
                           (directory / "batch.sql").string(), (directory / "jars.txt").string());
  // Flink's own compiled plans, when a SQL Gateway is configured (it writes the files).
  if (config.stream_engine.sql_gateway.empty()) {
    std::cout << "no flink-plan.json: stream_engine.sql_gateway is not set (Flink's planner "
                 "compiles the plans)\n";
    return Status::OK();
  }
  ARROW_ASSIGN_OR_RAISE(
      auto plans, flink::CompilePlans(pipeline, flink::ClientFor(config), directory.string()));
  for (const std::string& plan : plans) std::cout << "wrote " << plan << "\n";
  return Status::OK();
}

Status RunFlinkStatus(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto flink, store->FlinkJobStatuses());
  const int64_t now_ms = store->clock().Now().micros / 1000;
  std::cout << fmt::format("{:<24} {:<12} {:<34} {:>11} {:>9} {}\n", "VIEW", "STATE", "JOB",
                           "CHECKPOINTS", "LAST (s)", "SOURCE LAG");
  for (const flink::JobStatus& status : flink.jobs) {
    std::string age = status.checkpoints.latest_time == 0
                          ? "-"
                          : fmt::format("{:.1f}", (now_ms - status.checkpoints.latest_time) / 1e3);
    std::string lag = status.source_lag < 0 ? "-" : std::to_string(status.source_lag);
    std::cout << fmt::format("{:<24} {:<12} {:<34} {:>11} {:>9} {}\n", status.view, status.state,
                             status.job_id.empty() ? "-" : status.job_id,
                             status.checkpoints.completed, age, lag);
  }
  for (const auto& [view, reason] : flink.embedded) {
    std::cout << fmt::format("{:<24} {:<12} {}\n", view, "EMBEDDED", reason);
  }
  return Status::OK();
}

}  // namespace headwater::cli
