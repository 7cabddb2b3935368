#pragma once
// Runs independent tasks on a few threads; the first failure stops the hand-out of new tasks.

#include <atomic>
#include <functional>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "headwater/core/status.h"

namespace headwater::engine {

/// Calls body(task, worker) for every task in [0, num_tasks) on `num_threads` workers (worker in
/// [0, num_threads)). Returns the first error any task returned, or OK.
inline Status ParallelFor(int64_t num_tasks, int num_threads,
                          const std::function<Status(int64_t task, int worker)>& body) {
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  Status first_error;
  std::mutex error_mutex;
  auto work = [&](int worker) {
    for (int64_t task; !failed.load() && (task = next.fetch_add(1)) < num_tasks;) {
      Status status;
      try {
        status = body(task, worker);
      } catch (const std::bad_alloc&) {
        // Our own containers throw; a worker must turn that into a Status, not terminate.
        status = Status::OutOfMemory("out of memory in task ", task);
      }
      if (!status.ok()) {
        std::lock_guard lock(error_mutex);
        if (!failed.exchange(true)) first_error = status;
      }
    }
  };
  if (num_threads <= 1 || num_tasks <= 1) {
    work(0);
    return first_error;
  }
  std::vector<std::jthread> threads;
  for (int worker = 1; worker < num_threads; ++worker) threads.emplace_back(work, worker);
  work(0);
  threads.clear();  // joins
  return first_error;
}

}  // namespace headwater::engine
