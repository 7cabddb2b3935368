#pragma once
// Feature statistics computed for the web UI (`POST /api/statistics`), each on its own thread
// and polled by id (`GET /api/statistics/<id>`) for its progress and result.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace headwater::server {

// One statistics computation, run on its own thread; polled by id.
struct StatisticsJob {
  std::atomic<double> progress{0};
  std::atomic<bool> done{false};
  std::string result;  // the statistics' JSON, or the error; set before done
  int status = 200;
  std::jthread thread;
};

// The last kKept jobs; older finished ones are forgotten.
struct StatisticsJobs {
  static constexpr size_t kKept = 16;
  /// At most this many run at once; more get 503, so a client cannot start threads unbounded.
  static constexpr size_t kRunning = 2;
  std::mutex mutex;
  int64_t next_id = 1;
  std::map<int64_t, std::shared_ptr<StatisticsJob>> jobs;
  ~StatisticsJobs() {
    std::lock_guard lock(mutex);
    jobs.clear();  // joins running jobs
  }
};

}  // namespace headwater::server
