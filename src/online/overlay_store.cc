#include "headwater/online/overlay_store.h"

#include <algorithm>

namespace headwater::online {
namespace {

// A stream's 10,000 rows go through in chunks: RocksDB's Write (a push) waits for the stream
// writes in flight, so it waits for one chunk instead of the whole window end.
constexpr size_t kChunkRows = 1000;

Status WriteThrough(OnlineStore* store, const std::string& view, const ByteRows& keys,
                    const ByteRows& values) {
  if (keys.size() <= kChunkRows) return store->WriteNewer(view, keys, values);
  ByteRows chunk_keys, chunk_values;
  for (size_t first = 0; first < keys.size(); first += kChunkRows) {
    chunk_keys.Clear();
    chunk_values.Clear();
    for (size_t i = first; i < std::min(keys.size(), first + kChunkRows); ++i) {
      chunk_keys.data.append(keys[i]);
      chunk_keys.FinishRow();
      chunk_values.data.append(values[i]);
      chunk_values.FinishRow();
    }
    ARROW_RETURN_NOT_OK(store->WriteNewer(view, chunk_keys, chunk_values));
  }
  return Status::OK();
}

}  // namespace

OverlayOnlineStore::OverlayOnlineStore(std::unique_ptr<OnlineStore> store)
    : store_(std::move(store)), writer_([this] { Run(); }) {}

OverlayOnlineStore::~OverlayOnlineStore() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  writer_.join();  // the writer empties the queue before it stops
}

void OverlayOnlineStore::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to write
    std::shared_ptr<const Batch> batch = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    Status written = WriteThrough(store_.get(), batch->view, batch->keys, batch->values);
    lock.lock();
    writing_ = false;
    queued_bytes_ -= batch->keys.data.size() + batch->values.data.size();
    if (!written.ok()) {
      if (error_.ok()) error_ = written;
      unwritten_.push_back(std::move(batch));  // its rows stay in the overlay, readable
    } else {
      WrittenThrough(*batch);
    }
    changed_.notify_all();
  }
}

void OverlayOnlineStore::WrittenThrough(const Batch& batch) {
  auto view = overlay_.find(batch.view);
  if (view == overlay_.end()) return;
  auto take = [&](std::string_view key) {
    auto entry = view->second.find(key);
    // The store holds this value now, unless a newer one came into the overlay since.
    if (entry != view->second.end() && batch.Holds(entry->second)) view->second.erase(entry);
  };
  for (size_t i = 0; i < batch.keys.size(); ++i) take(batch.keys[i]);
  take(kNewestEventTimeKey);
  if (view->second.empty()) overlay_.erase(view);
}

Status OverlayOnlineStore::WriteNewer(const std::string& view, const ByteRows& keys,
                                      const ByteRows& values) {
  // Copied before taking the lock: readers wait only for the overlay's entries.
  auto batch =
      std::make_shared<const Batch>(Batch{view, keys, values, NewestEventTimeValue(values)});
  const size_t bytes = keys.data.size() + values.data.size();
  std::unique_lock lock(mutex_);
  changed_.wait(lock,
                [&] { return queued_bytes_ == 0 || queued_bytes_ + bytes <= kMaxQueuedBytes; });
  ViewOverlay& overlay = overlay_[view];
  overlay.reserve(overlay.size() + keys.size() + 1);
  auto put = [&](std::string_view key, std::string_view value) {
    auto [entry, added] = overlay.try_emplace(key, value);
    if (!added && entry->second < value) {  // the greatest value
      // Key and value now point into this batch, which outlives the older ones.
      auto node = overlay.extract(entry);
      node.key() = key;
      node.mapped() = value;
      overlay.insert(std::move(node));
    }
  };
  for (size_t i = 0; i < batch->keys.size(); ++i) put(batch->keys[i], batch->values[i]);
  // The store offers the batch's newest event time under kNewestEventTimeKey; so does the overlay,
  // so freshness reads agree with the rows.
  if (!batch->newest.empty()) put(kNewestEventTimeKey, batch->newest);
  queue_.push_back(std::move(batch));
  queued_bytes_ += bytes;
  lock.unlock();
  changed_.notify_all();
  return Status::OK();
}

Status OverlayOnlineStore::Flush() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.empty() && !writing_; });
  Status error = error_;
  error_ = Status::OK();
  return error;
}

Status OverlayOnlineStore::Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
                                std::vector<uint8_t>* found) {
  // The overlay is looked up before the store is read: an entry leaves the overlay only once the
  // store holds its value, so whatever the writer does in between, one of the two reads has it.
  // (Reading the store first lost a row the writer wrote through between the two reads.)
  std::vector<std::pair<size_t, std::string>> newer;
  {
    std::lock_guard lock(mutex_);
    if (!overlay_.empty()) {  // empty: the usual case between window ends
      for (size_t i = 0; i < keys.size(); ++i) {
        if (keys[i].key.empty()) continue;
        auto view = overlay_.find(keys[i].view);
        if (view == overlay_.end()) continue;
        auto entry = view->second.find(keys[i].key);
        if (entry != view->second.end()) newer.emplace_back(i, std::string(entry->second));
      }
    }
  }
  ARROW_RETURN_NOT_OK(store_->Read(keys, values, found));
  for (auto& [i, value] : newer) {
    if (!(*found)[i] || (*values)[i] < value) {
      (*values)[i] = std::move(value);
      (*found)[i] = 1;
    }
  }
  return Status::OK();
}

Status OverlayOnlineStore::Sync() {
  Status flushed = Flush();
  ARROW_RETURN_NOT_OK(store_->Sync());
  return flushed;
}

void OverlayOnlineStore::Clear() {
  std::lock_guard lock(mutex_);
  overlay_.clear();
  unwritten_.clear();
}

Status OverlayOnlineStore::CreateViews(const std::vector<std::string>& views) {
  return store_->CreateViews(views);
}

Status OverlayOnlineStore::DropViews(const std::vector<std::string>& views) {
  ARROW_RETURN_NOT_OK(Flush());
  Clear();  // written through: the store drops them
  return store_->DropViews(views);
}

Status OverlayOnlineStore::Teardown() {
  ARROW_RETURN_NOT_OK(Flush());
  Clear();
  return store_->Teardown();
}

Result<WriteResult> OverlayOnlineStore::Write(const std::string& view, const ByteRows& keys,
                                              const ByteRows& values) {
  return store_->Write(view, keys, values);  // the store's rule settles it with queued rows
}

Status OverlayOnlineStore::Scan(
    const std::string& view, const std::function<void(std::string_view, std::string_view)>& visit) {
  ARROW_RETURN_NOT_OK(Flush());
  return store_->Scan(view, visit);
}

}  // namespace headwater::online
