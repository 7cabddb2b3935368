#pragma once
// Watches the Flink jobs of a repository's stream views from a thread (every 2 s), so that
// /health can say whether Flink is reachable and its jobs run without waiting on the network.
// Private to store.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "headwater/flink/flink_jobs.h"
#include "headwater/store/feature_store.h"

namespace headwater::store {

class FlinkWatch {
 public:
  FlinkWatch(flink::FlinkRest client, std::vector<std::pair<std::string, std::string>> jobs)
      : client_(std::move(client)), jobs_(std::move(jobs)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~FlinkWatch() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  FlinkHealth health() const {
    std::lock_guard lock(mutex_);
    return health_;
  }

 private:
  void Run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      FlinkHealth health = Poll();
      lock.lock();
      health_ = std::move(health);
      wake_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; });
    }
  }

  FlinkHealth Poll() const {
    FlinkHealth health;
    health.checked = true;
    auto listed = client_.ListJobs();
    if (!listed.ok()) {
      health.error = listed.status().message();
      return health;
    }
    for (const auto& [view, name] : jobs_) {
      std::string state = "NOT RUNNING";
      for (const flink::JobInfo& job : *listed) {
        if (job.name == name && job.alive()) {
          state = job.state;
          break;
        }
      }
      health.jobs.emplace_back(view, state);
    }
    return health;
  }

  flink::FlinkRest client_;
  std::vector<std::pair<std::string, std::string>> jobs_;  // view, job name
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  FlinkHealth health_;
  std::thread thread_;
};

}  // namespace headwater::store
