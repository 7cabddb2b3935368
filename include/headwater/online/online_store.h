#pragma once
// The online store: the latest feature row per (feature view, entity key), for serving.
//
// Keys are encoded entity keys (core/entity_key.h) and values encoded feature rows
// (online/feature_row_codec.h). Every implementation keeps, per key, the greatest value by
// byte comparison — which, by the value layout, is the newest (event_time, created_time) —
// whatever the order of the writes, so replays and concurrent writers agree.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "headwater/core/entity_key.h"
#include "headwater/core/time.h"
#include "headwater/registry/repo_config.h"

namespace headwater::online {

/// What one Write did.
struct WriteResult {
  /// Keys whose value the write replaced or created.
  int64_t written = 0;
  /// Keys that already held a value at least as new, left unchanged.
  int64_t skipped_older = 0;
};

/// One value to read: a feature view and an encoded entity key.
struct ReadKey {
  std::string_view view;
  std::string_view key;
};

class OnlineStore {
 public:
  virtual ~OnlineStore() = default;

  /// Makes room for these feature views (idempotent).
  virtual Status CreateViews(const std::vector<std::string>& views) = 0;
  /// Removes the views and all their values.
  virtual Status DropViews(const std::vector<std::string>& views) = 0;
  /// Removes everything the store holds for the project.
  virtual Status Teardown() = 0;

  /// Writes values[i] under keys[i] of `view`, keeping per key the greatest value. Safe to call
  /// from several threads.
  virtual Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                                    const ByteRows& values) = 0;

  /// Like Write, for writers whose rows are nearly always newer than what is stored (stream
  /// windows): no read before the write and no counts, the same greatest-value rule.
  virtual Status WriteNewer(const std::string& view, const ByteRows& keys, const ByteRows& values) {
    return Write(view, keys, values).status();
  }

  /// Reads all keys in one call to the store (one MultiGet, one Redis round trip). For a missing
  /// key, found[i] is 0 and values[i] is empty; an empty key (a row whose entity is null) is
  /// never looked up and is always missing.
  virtual Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
                      std::vector<uint8_t>* found) = 0;

  /// Makes every write that returned durable (RocksDB: sync the write-ahead log).
  virtual Status Sync() = 0;

  /// Whether the store answers (a server's round trip; embedded stores always do). A store that
  /// does not is Unavailable (core/status.h).
  virtual Status Ping() { return Status::OK(); }

  /// Calls `visit` with every (key, value) of a view in key order; for dumps and tests.
  virtual Status Scan(const std::string& view,
                      const std::function<void(std::string_view, std::string_view)>& visit) = 0;
};

/// Every Write also offers, under this key of the view, the newest event time of its batch
/// (version byte + sortable time); the greatest-value rule keeps the newest ever written, which
/// serving reports as feature freshness. Entity keys start with 0x01, so it never collides, and
/// Scan skips it.
inline constexpr std::string_view kNewestEventTimeKey{"\0newest", 7};

/// The newest event time written to a view, or nullopt when nothing has been.
Result<std::optional<Timestamp>> NewestEventTime(OnlineStore& store, const std::string& view);

/// The value stored under kNewestEventTimeKey for a batch: the greatest event time among
/// `values` (encoded feature rows), or "" for an empty batch.
std::string NewestEventTimeValue(const ByteRows& values);

/// How a process uses the store. A RocksDB store has one writer process; readers open a
/// secondary instance that follows it.
enum class OpenMode { kReadWrite, kReadOnly };

/// Opens the store `feature_store.yaml` configures: RocksDB at `online_store.path` (created on
/// first write) or Redis at `online_store.connection_string`. `cache_rows` is for processes
/// whose reads are the hot path (the server, SDK readers): RocksDB then keeps a row cache,
/// which makes reads faster and bulk writes slower (every write reads its keys first).
Result<std::unique_ptr<OnlineStore>> OpenOnlineStore(const registry::RepoConfig& config,
                                                     OpenMode mode, bool cache_rows = false);

}  // namespace headwater::online
