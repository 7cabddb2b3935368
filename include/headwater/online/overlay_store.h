#pragma once
// Stream windows readable before the store under them has them.
//
// When the watermark crosses a window's end, every key's row finalises at once: 10,000 rows, and
// a RocksDB write of them takes 20-35 ms on its own, so the last row read waited for the whole
// write. OverlayOnlineStore wraps the online store: WriteNewer (the stream pipelines' write) puts
// the rows into an in-memory overlay — readable at once — and queues them for a writer thread
// that writes them through; reads take, per key, the greater of the overlay's and the store's
// value (the greatest-value rule of online_store.h), and an entry leaves the overlay once the
// store holds it. Sync waits for the queue before syncing the store, so a checkpoint (which
// syncs the online store before it commits) still finds every row of its windows durable: what
// is acknowledged or checkpointed is exactly as durable as without the overlay. A failed
// write-through is returned by the next Sync (the checkpoint fails, as a failed write did).
// Every other call goes straight to the store.

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "headwater/online/online_store.h"

namespace headwater::online {

class OverlayOnlineStore final : public OnlineStore {
 public:
  explicit OverlayOnlineStore(std::unique_ptr<OnlineStore> store);
  /// Writes through what is queued, then stops the writer.
  ~OverlayOnlineStore() override;

  Status CreateViews(const std::vector<std::string>& views) override;
  Status DropViews(const std::vector<std::string>& views) override;
  Status Teardown() override;
  Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                            const ByteRows& values) override;
  /// Into the overlay and the writer's queue; waits only when the queue holds more than
  /// kMaxQueuedBytes (the store cannot keep up).
  Status WriteNewer(const std::string& view, const ByteRows& keys, const ByteRows& values) override;
  Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override;
  Status Sync() override;
  Status Scan(const std::string& view,
              const std::function<void(std::string_view, std::string_view)>& visit) override;
  Status Ping() override { return store_->Ping(); }

  static constexpr size_t kMaxQueuedBytes = size_t{256} << 20;

 private:
  // A WriteNewer's rows. The overlay's entries point into the batch that holds their value, which
  // lives until it is written through (or, when that failed, as long as the overlay).
  struct Batch {
    std::string view;
    ByteRows keys;
    ByteRows values;
    std::string newest;  // NewestEventTimeValue(values)
    bool Holds(std::string_view value) const {
      return (value.data() >= values.data.data() &&
              value.data() < values.data.data() + values.data.size()) ||
             value.data() == newest.data();
    }
  };
  // One view's overlay: key -> (key, value) as views into the batch holding the value.
  using ViewOverlay = std::unordered_map<std::string_view, std::string_view>;

  // Waits until everything queued is in the store; the first write-through error since.
  Status Flush();
  void Run();
  // Takes entries of a batch written through out of the overlay (under mutex_).
  void WrittenThrough(const Batch& batch);
  void Clear();

  std::unique_ptr<OnlineStore> store_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<const Batch>> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;  // the writer holds a batch taken off the queue
  bool stop_ = false;
  Status error_;
  std::map<std::string, ViewOverlay, std::less<>> overlay_;
  std::vector<std::shared_ptr<const Batch>> unwritten_;  // failed write-throughs, still read
  std::thread writer_;
};

}  // namespace headwater::online
