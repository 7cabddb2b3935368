#include "headwater/flink/flink_jobs.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <rapidjson/document.h>

#include <chrono>
#include <map>
#include <thread>

#include "headwater/core/file.h"
#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/ingest/stream_runner.h"

namespace headwater::flink {
namespace {

namespace fs = std::filesystem;

struct Record {
  std::string job_name;
  std::string job_id;
  std::string fingerprint;
  std::string state_fingerprint;
};

fs::path RecordsPath(const registry::RepoConfig& config) {
  return config.Resolve(config.stream.path) / "flink-jobs.json";
}

// view -> the job apply last submitted for it.
Result<std::map<std::string, Record>> ReadRecords(const registry::RepoConfig& config) {
  std::map<std::string, Record> records;
  const fs::path path = RecordsPath(config);
  std::error_code error;
  if (!fs::exists(path, error)) return records;
  ARROW_ASSIGN_OR_RAISE(std::string text, ReadFile(path));
  rapidjson::Document document;
  ARROW_RETURN_NOT_OK(ParseJson(text, path.string(), &document));
  const rapidjson::Value& root = document;
  if (!root.IsObject()) return Status::IOError(path.string(), " is damaged");
  for (const auto& member : root.GetObject()) {
    if (!member.value.IsObject()) return Status::IOError(path.string(), " is damaged");
    Record record;
    for (auto [key, out] :
         {std::pair{"job_name", &record.job_name}, std::pair{"job_id", &record.job_id},
          std::pair{"fingerprint", &record.fingerprint},
          std::pair{"state_fingerprint", &record.state_fingerprint}}) {
      auto it = member.value.FindMember(key);
      if (it == member.value.MemberEnd() || !it->value.IsString()) {
        return Status::IOError(path.string(), " is damaged");
      }
      *out = it->value.GetString();
    }
    records[member.name.GetString()] = record;
  }
  return records;
}

Status WriteRecords(const registry::RepoConfig& config,
                    const std::map<std::string, Record>& records) {
  JsonWriter writer;
  writer.BeginObject();
  for (const auto& [view, record] : records) {
    writer.Key(view).BeginObject();
    writer.Key("job_name").String(record.job_name).Key("job_id").String(record.job_id);
    writer.Key("fingerprint").String(record.fingerprint);
    writer.Key("state_fingerprint").String(record.state_fingerprint).EndObject();
  }
  const fs::path path = RecordsPath(config);
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  return WriteFileAtomically(path, writer.EndObject().Take() + "\n");
}

// The live job named `name`, if any (the newest).
const JobInfo* LiveJob(const std::vector<JobInfo>& jobs, const std::string& name) {
  for (const JobInfo& job : jobs) {
    if (job.name == name && job.alive()) return &job;
  }
  return nullptr;
}

// Waits until every task of a just-submitted job runs (its state restored), or it fails.
Status WaitRunning(const FlinkRest& flink, const std::string& job_id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    ARROW_ASSIGN_OR_RAISE(auto jobs, flink.ListJobs());
    for (const JobInfo& job : jobs) {
      if (job.id != job_id) continue;
      if (job.state == "RUNNING") {
        ARROW_ASSIGN_OR_RAISE(auto running, flink.AllTasksRunning(job_id));
        if (running) return Status::OK();
      }
      if (job.state == "FAILED" || job.state == "RESTARTING" || job.state == "CANCELED") {
        ARROW_ASSIGN_OR_RAISE(auto cause, flink.RootException(job_id));
        return Status::Invalid("job ", job_id, " is ", job.state, ": ", cause);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::IOError("job ", job_id, " did not start running within 60 s");
}

// Waits until a cancelled job has stopped (its Kafka transactions aborted), so that a new job
// with its transactional ids does not race it.
Status WaitGone(const FlinkRest& flink, const std::string& job_id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    ARROW_ASSIGN_OR_RAISE(auto jobs, flink.ListJobs());
    bool alive = false;
    for (const JobInfo& job : jobs) alive |= job.id == job_id && job.alive();
    if (!alive) return Status::OK();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::IOError("job ", job_id, " did not stop within 60 s of being cancelled");
}

// The newest completed checkpoint a job left (`<dir>/<job id>/chk-N` with its `_metadata`), when
// its checkpoint directory is on this machine; "" when none.
std::string LastCheckpoint(const registry::RepoConfig& config, const std::string& job_id) {
  const std::string directory = CheckpointDirectory(config);
  if (directory.rfind("file://", 0) != 0) return "";
  std::error_code error;
  const fs::path root = fs::path(directory.substr(7)) / job_id;
  int64_t newest = -1;
  std::string found;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    auto number = NumberInFileName(name, "chk-", name.size() > 4 ? name.size() - 4 : 0, "");
    if (number && *number > newest && fs::exists(entry.path() / "_metadata", error)) {
      newest = *number;
      found = entry.path().string();
    }
  }
  return found;
}

const FlinkJob* Find(const FlinkPipeline& pipeline, const std::string& view) {
  for (const FlinkJob& job : pipeline.jobs) {
    if (job.view == view) return &job;
  }
  return nullptr;
}

// How many messages of `topic` the consumer group `group` has not committed.
Result<int64_t> ConsumerLag(const std::string& brokers, const std::string& topic,
                            const std::string& group) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error, sizeof(error)) !=
          RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "group.id", group.c_str(), error, sizeof(error)) !=
          RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::Invalid(error);
  }
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (consumer == nullptr) return Status::IOError(error);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer, topic.c_str(), nullptr);
  rd_kafka_resp_err_t err = rd_kafka_metadata(consumer, 0, handle, &metadata, 5000);
  rd_kafka_topic_destroy(handle);
  int64_t lag = -1;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topic_cnt == 1) {
    rd_kafka_topic_partition_list_t* partitions =
        rd_kafka_topic_partition_list_new(metadata->topics[0].partition_cnt);
    for (int p = 0; p < metadata->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(partitions, topic.c_str(),
                                        metadata->topics[0].partitions[p].id);
    }
    if (rd_kafka_committed(consumer, partitions, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      lag = 0;
      for (int i = 0; i < partitions->cnt; ++i) {
        int64_t low = 0, high = 0;
        const auto& entry = partitions->elems[i];
        if (rd_kafka_query_watermark_offsets(consumer, topic.c_str(), entry.partition, &low, &high,
                                             5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
          lag = -1;
          break;
        }
        lag += high - (entry.offset >= 0 ? entry.offset : low);
      }
    }
    rd_kafka_topic_partition_list_destroy(partitions);
  }
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_destroy(consumer);
  if (lag < 0) return Status::IOError("cannot read the offsets of group '", group, "'");
  return lag;
}

}  // namespace

FlinkRest ClientFor(const registry::RepoConfig& config) {
  return FlinkRest(config.stream_engine.rest_address, config.stream_engine.sql_gateway);
}

std::string JobPlan::Report() const {
  std::string out;
  for (const JobChange& change : changes) {
    const char* verb = change.kind == JobChange::kKeep       ? "keep"
                       : change.kind == JobChange::kSubmit   ? "submit"
                       : change.kind == JobChange::kResubmit ? "resubmit"
                       : change.kind == JobChange::kRestart  ? "restart"
                                                             : "cancel";
    out += fmt::format("flink: {} job '{}' of view {} ({})\n", verb, change.job_name, change.view,
                       change.why);
  }
  return out;
}

Result<JobPlan> PlanJobs(const registry::RepoConfig& config, const FlinkPipeline& pipeline,
                         const FlinkRest& flink) {
  if (config.stream_engine.rest_address.empty()) {
    return Status::Invalid(
        "feature_store.yaml: stream_engine.rest_address is not set: Headwater needs the Flink "
        "JobManager's REST address to run stream views on Flink");
  }
  auto listed = flink.ListJobs();
  if (!listed.ok()) {
    return Status::IOError(listed.status().message(),
                           " (stream_engine.rest_address in feature_store.yaml); nothing changed");
  }
  const std::vector<JobInfo>& jobs = *listed;
  ARROW_ASSIGN_OR_RAISE(auto records, ReadRecords(config));
  JobPlan plan;
  for (const FlinkJob& job : pipeline.jobs) {
    JobChange change{JobChange::kKeep, job.view, job.job_name, "", ""};
    const JobInfo* live = LiveJob(jobs, job.job_name);
    auto record = records.find(job.view);
    if (live == nullptr) {
      change.kind = JobChange::kSubmit;
      change.why = record == records.end() ? "new stream view" : "its job is not running";
    } else {
      change.job_id = live->id;
      if (record != records.end() && record->second.job_id == live->id &&
          record->second.fingerprint == job.fingerprint) {
        change.why = "unchanged, " + live->state;
      } else if (record != records.end() && record->second.job_id == live->id &&
                 record->second.state_fingerprint == job.state_fingerprint) {
        change.kind = JobChange::kResubmit;
        change.why = "its SQL changed, its state did not: stop with a savepoint, resubmit from it";
      } else {
        change.kind = JobChange::kRestart;
        change.why = record == records.end() || record->second.job_id != live->id
                         ? "a job of that name that apply did not submit: cancel it, start afresh"
                         : "its grid, keys, columns or topic changed: cancel it, start afresh "
                           "without window state";
      }
    }
    plan.changes.push_back(std::move(change));
  }
  for (const auto& [view, record] : records) {
    if (Find(pipeline, view) != nullptr) continue;
    const JobInfo* live = LiveJob(jobs, record.job_name);
    if (live == nullptr) continue;
    plan.changes.push_back(
        {JobChange::kCancel, view, record.job_name, live->id, "the view is gone from Flink"});
  }
  return plan;
}

Result<std::string> ApplyJobs(const registry::RepoConfig& config, const FlinkPipeline& pipeline,
                              const JobPlan& plan, const FlinkRest& flink) {
  ARROW_ASSIGN_OR_RAISE(auto records, ReadRecords(config));
  std::string report;
  const std::string savepoints = config.Resolve(config.stream.path) / "flink-savepoints";
  for (const JobChange& change : plan.changes) {
    if (change.kind == JobChange::kCancel) {
      ARROW_RETURN_NOT_OK(flink.Cancel(change.job_id));
      records.erase(change.view);
      ARROW_RETURN_NOT_OK(WriteRecords(config, records));
      report += fmt::format("flink: cancelled job '{}' ({})\n", change.job_name, change.job_id);
      continue;
    }
    const FlinkJob& job = *Find(pipeline, change.view);
    if (change.kind == JobChange::kKeep) {
      records[job.view] = {job.job_name, change.job_id, job.fingerprint, job.state_fingerprint};
      continue;
    }
    if (change.kind == JobChange::kRestart) {
      ARROW_RETURN_NOT_OK(flink.Cancel(change.job_id));
      ARROW_RETURN_NOT_OK(WaitGone(flink, change.job_id));
      report += fmt::format(
          "flink: cancelled job '{}' ({}) to start it afresh, without window "
          "state, from the offsets its last checkpoint committed\n",
          job.job_name, change.job_id);
    }
    std::string job_id;
    // A job the cluster lost (a JobManager without HA restarted, the job failed for good):
    // resumed from the last checkpoint it retained, when its state still means the same.
    auto record = records.find(job.view);
    if (change.kind == JobChange::kSubmit && record != records.end() &&
        record->second.state_fingerprint == job.state_fingerprint) {
      const std::string checkpoint = LastCheckpoint(config, record->second.job_id);
      if (!checkpoint.empty()) {
        std::vector<std::string> statements = {
            fmt::format("SET 'execution.state-recovery.path' = '{}'", checkpoint),
            "SET 'execution.state-recovery.ignore-unclaimed-state' = 'true'"};
        statements.insert(statements.end(), job.statements.begin(), job.statements.end());
        auto resumed = flink.Execute(statements);
        Status running = resumed.ok() ? WaitRunning(flink, *resumed) : resumed.status();
        if (running.ok()) {
          job_id = *resumed;
          report += fmt::format("flink: resumed job '{}' from its last checkpoint {} ({})\n",
                                job.job_name, checkpoint, job_id);
        } else {
          if (resumed.ok()) {
            (void)flink.Cancel(*resumed);
            ARROW_RETURN_NOT_OK(WaitGone(flink, *resumed));
          }
          report += fmt::format("flink: job '{}' cannot resume from {} ({}): started afresh\n",
                                job.job_name, checkpoint, running.message());
        }
      }
    }
    if (change.kind == JobChange::kResubmit) {
      auto savepoint = flink.StopWithSavepoint(change.job_id, savepoints);
      if (!savepoint.ok()) {
        // A job that cannot take a savepoint (failing, restarting) is replaced afresh.
        ARROW_RETURN_NOT_OK(flink.Cancel(change.job_id));
        ARROW_RETURN_NOT_OK(WaitGone(flink, change.job_id));
        report += fmt::format(
            "flink: job '{}' took no savepoint ({}): started afresh, without "
            "window state, from the offsets its last checkpoint committed\n",
            job.job_name, savepoint.status().message());
      } else {
        std::vector<std::string> statements = {
            fmt::format("SET 'execution.state-recovery.path' = '{}'", *savepoint),
            "SET 'execution.state-recovery.ignore-unclaimed-state' = 'true'"};
        statements.insert(statements.end(), job.statements.begin(), job.statements.end());
        auto resubmitted = flink.Execute(statements);
        Status running = resubmitted.ok() ? WaitRunning(flink, *resubmitted) : resubmitted.status();
        if (running.ok()) {
          job_id = *resubmitted;
          report += fmt::format("flink: resubmitted job '{}' from savepoint {} ({})\n",
                                job.job_name, *savepoint, job_id);
        } else {
          if (resubmitted.ok()) {
            (void)flink.Cancel(*resubmitted);
            ARROW_RETURN_NOT_OK(WaitGone(flink, *resubmitted));
          }
          report += fmt::format(
              "flink: job '{}' cannot resume from savepoint {} ({}): started afresh, without "
              "window state, from the offsets its last checkpoint committed\n",
              job.job_name, *savepoint, running.message());
        }
      }
    }
    if (job_id.empty()) {
      // The tile topic first, one partition per subtask: Flink's producer would otherwise
      // create it with the broker's default.
      ARROW_RETURN_NOT_OK(ingest::EnsureTopic(job.bootstrap_servers, job.tile_topic,
                                              static_cast<int>(config.stream_engine.parallelism)));
      ARROW_ASSIGN_OR_RAISE(job_id, flink.Execute(job.statements));
      if (job_id.empty()) {
        return Status::IOError("the SQL Gateway started no job for view '", job.view, "'");
      }
      // Recorded first: a job that fails to start is still the one apply submitted.
      records[job.view] = {job.job_name, job_id, job.fingerprint, job.state_fingerprint};
      ARROW_RETURN_NOT_OK(WriteRecords(config, records));
      ARROW_RETURN_NOT_OK(WaitRunning(flink, job_id));
      if (change.kind != JobChange::kResubmit) {
        report += fmt::format("flink: submitted job '{}' ({}): tiles to topic '{}'\n", job.job_name,
                              job_id, job.tile_topic);
      }
    }
    records[job.view] = {job.job_name, job_id, job.fingerprint, job.state_fingerprint};
    ARROW_RETURN_NOT_OK(WriteRecords(config, records));
  }
  ARROW_RETURN_NOT_OK(WriteRecords(config, records));
  return report;
}

Result<std::vector<std::string>> CompilePlans(const FlinkPipeline& pipeline, const FlinkRest& flink,
                                              const std::string& directory) {
  std::vector<std::string> written;
  for (const FlinkJob& job : pipeline.jobs) {
    const std::string path = directory + "/" + job.view + ".flink-plan.json";
    std::vector<std::string> statements(job.statements.begin(), job.statements.end() - 1);
    statements.push_back("SET 'table.plan.force-recompile' = 'true'");
    // The job's last statement is `EXECUTE STATEMENT SET ...`; COMPILE PLAN takes the set.
    std::string_view set = job.statements.back();
    if (set.starts_with("EXECUTE ")) set.remove_prefix(8);
    statements.push_back(fmt::format("COMPILE PLAN '{}' FOR {}", path, set));
    auto compiled = flink.Execute(statements);
    if (!compiled.ok()) {
      return Status::IOError("view '", job.view,
                             "': Flink could not compile its plan: ", compiled.status().message());
    }
    written.push_back(path);
  }
  return written;
}

Result<std::vector<JobStatus>> JobStatuses(const registry::RepoConfig& config,
                                           const registry::Definitions& definitions,
                                           const FlinkPipeline& pipeline, const FlinkRest& flink) {
  ARROW_ASSIGN_OR_RAISE(auto jobs, flink.ListJobs());
  (void)config;
  std::vector<JobStatus> out;
  for (const FlinkJob& job : pipeline.jobs) {
    JobStatus status{job.view, job.job_name, "", "NOT RUNNING", {}};
    if (const JobInfo* live = LiveJob(jobs, job.job_name)) {
      status.job_id = live->id;
      status.state = live->state;
      ARROW_ASSIGN_OR_RAISE(status.checkpoints, flink.Checkpoints(live->id));
    }
    if (const registry::DataSource* source = definitions.FindSource(job.source)) {
      status.source_lag =
          ConsumerLag(source->bootstrap_servers, source->topic, job.job_name).ValueOr(-1);
    }
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace headwater::flink
