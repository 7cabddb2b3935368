#include "headwater/online/overlay_store.h"

namespace headwater::online {

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

std::string OverlayOnlineStore::OverlayKey(std::string_view view, std::string_view key) {
  std::string out;
  out.reserve(view.size() + 1 + key.size());
  out.append(view).push_back('\0');
  out.append(key);
  return out;
}

void OverlayOnlineStore::Run() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to write
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    Status written = store_->WriteNewer(batch.view, batch.keys, batch.values);
    lock.lock();
    writing_ = false;
    queued_bytes_ -= batch.keys.data.size() + batch.values.data.size();
    if (!written.ok()) {
      if (error_.ok()) error_ = written;  // rows stay in the overlay, readable
    } else {
      auto written_through = [&](std::string_view key, std::string_view value) {
        auto entry = overlay_.find(OverlayKey(batch.view, key));
        // The store holds this value now, unless a newer one came into the overlay since.
        if (entry != overlay_.end() && entry->second == value) overlay_.erase(entry);
      };
      for (size_t i = 0; i < batch.keys.size(); ++i)
        written_through(batch.keys[i], batch.values[i]);
      written_through(kNewestEventTimeKey, NewestEventTimeValue(batch.values));
    }
    changed_.notify_all();
  }
}

Status OverlayOnlineStore::WriteNewer(const std::string& view, const ByteRows& keys,
                                      const ByteRows& values) {
  std::unique_lock lock(mutex_);
  const size_t bytes = keys.data.size() + values.data.size();
  changed_.wait(lock,
                [&] { return queued_bytes_ == 0 || queued_bytes_ + bytes <= kMaxQueuedBytes; });
  auto put = [&](std::string_view key, std::string_view value) {
    auto [entry, added] = overlay_.try_emplace(OverlayKey(view, key), value);
    if (!added && entry->second < value) entry->second = value;  // the greatest value
  };
  for (size_t i = 0; i < keys.size(); ++i) put(keys[i], values[i]);
  // The store offers the batch's newest event time under kNewestEventTimeKey; so does the overlay,
  // so freshness reads agree with the rows.
  const std::string newest = NewestEventTimeValue(values);
  if (!newest.empty()) put(kNewestEventTimeKey, newest);
  queue_.push_back(Batch{view, keys, values});
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
        auto entry = overlay_.find(OverlayKey(keys[i].view, keys[i].key));
        if (entry != overlay_.end()) newer.emplace_back(i, entry->second);
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

Status OverlayOnlineStore::CreateViews(const std::vector<std::string>& views) {
  return store_->CreateViews(views);
}

Status OverlayOnlineStore::DropViews(const std::vector<std::string>& views) {
  ARROW_RETURN_NOT_OK(Flush());
  {
    std::lock_guard lock(mutex_);
    overlay_.clear();  // written through: the store drops them
  }
  return store_->DropViews(views);
}

Status OverlayOnlineStore::Teardown() {
  ARROW_RETURN_NOT_OK(Flush());
  {
    std::lock_guard lock(mutex_);
    overlay_.clear();
  }
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
