#pragma once
// The Flink jobs of a repository's stream views, kept in step with its definitions by `apply`
// (docs/flink.md). A job is named after its view (flink/flink_sql.h) and Headwater records, in
// `<stream.path>/flink-jobs.json`, the job id and the fingerprint of the SQL it submitted:
//
//   compiled, no live job          -> submit (the source read from the job's committed offsets,
//                                     at first from the earliest)
//   live job, same fingerprint     -> keep
//   live job, other SQL, same state -> stop with a savepoint, resubmit from it; if Flink cannot
//   (parallelism, watermark, options)  restore it, start afresh and say so
//   live job, other grid, keys,     -> cancel, start afresh: no window state, the source from the
//   columns or topic                   offsets the old job committed at its last checkpoint
//   recorded job, view gone         -> cancel
// (Flink's SQL operators keep their ids across such changes, so a savepoint of 1-minute panes
// would restore silently into 30-second ones: state fingerprints decide, not Flink.)

#include <string>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/flink/flink_rest.h"
#include "headwater/flink/flink_sql.h"
#include "headwater/registry/repo_config.h"

namespace headwater::flink {

struct JobChange {
  enum Kind { kKeep, kSubmit, kResubmit, kRestart, kCancel };
  Kind kind = kKeep;
  std::string view;
  std::string job_name;
  std::string job_id;  // the live job, if any
  std::string why;
};

struct JobPlan {
  std::vector<JobChange> changes;  // in view order, cancellations last
  /// One line per change, "flink: submit job 'headwater-p-v' (new stream view)".
  std::string Report() const;
};

/// The client for `config.stream_engine` (rest_address, sql_gateway).
FlinkRest ClientFor(const registry::RepoConfig& config);

/// What `apply` would change: asks the cluster which jobs are alive. An unreachable cluster is
/// an error naming it.
Result<JobPlan> PlanJobs(const registry::RepoConfig& config, const FlinkPipeline& pipeline,
                         const FlinkRest& flink);

/// Carries the plan out and records the jobs. Returns the report of what was done.
Result<std::string> ApplyJobs(const registry::RepoConfig& config, const FlinkPipeline& pipeline,
                              const JobPlan& plan, const FlinkRest& flink);

/// Has Flink's own planner compile each job (`COMPILE PLAN`, through the SQL Gateway) into
/// `<directory>/<view>.flink-plan.json`, runnable with `EXECUTE PLAN`. The gateway writes the
/// files itself, so `directory` must be a path it can write (it runs on this machine). Returns
/// the files written.
Result<std::vector<std::string>> CompilePlans(const FlinkPipeline& pipeline, const FlinkRest& flink,
                                              const std::string& directory);

/// One job's status for `headwater flink status`.
struct JobStatus {
  std::string view;
  std::string job_name;
  std::string job_id;
  std::string state;  // Flink's, or "NOT RUNNING"
  CheckpointInfo checkpoints;
  /// Events in the source topic the job has not committed yet (its consumer group's offsets,
  /// committed at each checkpoint); -1 when unknown.
  int64_t source_lag = -1;
};
Result<std::vector<JobStatus>> JobStatuses(const registry::RepoConfig& config,
                                           const registry::Definitions& definitions,
                                           const FlinkPipeline& pipeline, const FlinkRest& flink);

}  // namespace headwater::flink
