#pragma once
// The push path's write-ahead log: POST /push answers only once its events are here, synced.
//
// A directory of segments `wal-<first position, 20 digits>.log`. A record is
//   u32 length | u32 CRC-32 of the payload | payload (one Arrow IPC stream: schema + one batch)
// in little-endian. A position is a byte offset over all segments ever written; the stream
// pipeline's checkpoint records the position it has processed up to, and replays from there
// after a restart. A record torn by a crash (it was never acknowledged) is cut off on open.

#include <arrow/type_fwd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "headwater/core/status.h"

namespace headwater::ingest {

class WriteAheadLog {
 public:
  ~WriteAheadLog();
  /// Opens (creating) the log in `directory`, cutting off a torn last record.
  static Result<std::unique_ptr<WriteAheadLog>> Open(const std::filesystem::path& directory);

  /// Appends a batch and syncs it to disk; returns the position after it. Thread-safe.
  Result<int64_t> Append(const arrow::RecordBatch& batch);

  /// Calls visit(batch, position after it) for each record from `from` (a record boundary) on.
  Status Replay(int64_t from,
                const std::function<Status(std::shared_ptr<arrow::RecordBatch>, int64_t)>& visit);

  /// Everything before `position` is processed for good: starts a new segment and deletes the
  /// segments that lie wholly before it.
  Status Release(int64_t position);

  /// The position after the last record.
  int64_t end() const;

 private:
  WriteAheadLog(std::filesystem::path directory) : directory_(std::move(directory)) {}
  Status OpenSegment(int64_t start);

  std::filesystem::path directory_;
  mutable std::mutex mutex_;
  int fd_ = -1;
  int64_t segment_start_ = 0;
  int64_t end_ = 0;
};

}  // namespace headwater::ingest
