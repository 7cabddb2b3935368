#pragma once
// A client of a Flink cluster's two REST APIs: the JobManager's (jobs, savepoints,
// checkpoints) and the SQL Gateway's (sessions and statements, which submit the jobs). Blocking
// calls with timeouts; every error names the address and what was asked.

#include <cstdint>
#include <string>
#include <vector>

#include "headwater/core/status.h"

namespace headwater::flink {

/// One job as the JobManager lists it.
struct JobInfo {
  std::string id;
  std::string name;
  std::string state;       // RUNNING, FINISHED, FAILED, CANCELED, ...
  int64_t start_time = 0;  // epoch ms
  /// Whether the job is alive (not FINISHED, FAILED, CANCELED, SUSPENDED).
  bool alive() const;
};

/// The newest completed checkpoint of a job.
struct CheckpointInfo {
  int64_t completed = 0;  // how many completed
  int64_t failed = 0;
  int64_t latest_time = 0;  // epoch ms of the newest completed one, 0 when none
  std::string latest_path;
};

class FlinkRest {
 public:
  /// `rest_address`: the JobManager's; `sql_gateway`: the SQL Gateway's (both http://host:port).
  FlinkRest(std::string rest_address, std::string sql_gateway)
      : rest_(std::move(rest_address)), gateway_(std::move(sql_gateway)) {}

  /// GET /overview: OK when the JobManager answers.
  Status Ping() const;
  /// Every job the cluster knows, newest first.
  Result<std::vector<JobInfo>> ListJobs() const;
  Status Cancel(const std::string& job_id) const;
  /// Stops a job, taking a savepoint into `directory`; returns the savepoint's path once the
  /// job has stopped.
  Result<std::string> StopWithSavepoint(const std::string& job_id,
                                        const std::string& directory) const;
  Result<CheckpointInfo> Checkpoints(const std::string& job_id) const;
  /// Whether every task of a job is RUNNING (its state restored).
  Result<bool> AllTasksRunning(const std::string& job_id) const;
  /// Waits until a job ends: OK when it FINISHED, an error with its root cause when it failed
  /// or was cancelled.
  Status WaitForJob(const std::string& job_id) const;
  /// The newest failure of a job, one line ("" when none).
  Result<std::string> RootException(const std::string& job_id) const;

  /// Runs `statements` in one SQL Gateway session, in order (SETs, CREATEs, then one INSERT);
  /// returns the job id the last one started, or "" when none did.
  Result<std::string> Execute(const std::vector<std::string>& statements) const;

  const std::string& rest_address() const { return rest_; }
  const std::string& sql_gateway() const { return gateway_; }

 private:
  std::string rest_;
  std::string gateway_;
};

}  // namespace headwater::flink
