#pragma once
// The push path's write-ahead log: POST /push answers only once its events are here, synced.
//
// A directory of segments `wal-<first position, 20 digits>.log`. A record is
//   u32 length | u32 CRC-32 of the payload | payload (one Arrow IPC stream: schema + one batch)
// in little-endian. A position is a byte offset over all segments ever written; the stream
// pipeline's checkpoint records the position it has processed up to, and replays from there
// after a restart. A record torn by a crash (it was never acknowledged) is cut off on open.
//
// Idempotency keys: a push that carries one logs it in its record's schema metadata
// (`headwater.idempotency_key`), and the log remembers every key it logged for
// kIdempotencyWindow — from the records on open, and, for records whose segments a checkpoint
// released, from the file `keys` ("<micros> <key>" lines), rewritten atomically before segments
// are deleted. So a retried push is logged once, however the first attempt ended.

#include <arrow/type_fwd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "headwater/core/status.h"

namespace headwater::ingest {

class WriteAheadLog {
 public:
  ~WriteAheadLog();
  /// Opens (creating) the log in `directory`, cutting off a torn last record.
  static Result<std::unique_ptr<WriteAheadLog>> Open(const std::filesystem::path& directory);

  /// Appends a batch and syncs it to disk; returns the position after it. A non-empty
  /// `idempotency_key` is logged with it. Thread-safe.
  Result<int64_t> Append(const arrow::RecordBatch& batch, std::string_view idempotency_key = {});

  /// Whether a batch with this idempotency key was logged in the last kIdempotencyWindow.
  bool Contains(std::string_view idempotency_key) const;

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
  Status ReadKeys(const std::map<int64_t, std::filesystem::path>& segments);

  std::filesystem::path directory_;
  mutable std::mutex mutex_;
  int fd_ = -1;
  int64_t segment_start_ = 0;
  int64_t end_ = 0;
  std::unordered_map<std::string, int64_t> keys_;  // idempotency key -> micros when logged
};

}  // namespace headwater::ingest
