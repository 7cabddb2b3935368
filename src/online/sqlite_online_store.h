#pragma once
// The SQLite online store (Feast's default, `online_store: type: sqlite`): one database file,
// one table of (view, key, value) rows. Embedded like RocksDB, and, unlike it, open to several
// processes at once — readers and writers alike — through SQLite's write-ahead log.

#include <memory>
#include <mutex>
#include <string>

#include "headwater/online/online_store.h"

struct sqlite3;

namespace headwater::online {

class SqliteOnlineStore final : public OnlineStore {
 public:
  /// Opens (creating when writable) the database file at `path`. Read-only on a missing file
  /// reads as empty.
  static Result<std::unique_ptr<SqliteOnlineStore>> Open(const std::string& path, OpenMode mode);
  ~SqliteOnlineStore() override;

  Status CreateViews(const std::vector<std::string>& views) override;
  Status DropViews(const std::vector<std::string>& views) override;
  Status Teardown() override;
  Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                            const ByteRows& values) override;
  Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override;
  /// Every Write commits with a synced write-ahead log, so there is nothing left to sync.
  Status Sync() override { return Status::OK(); }
  Status Scan(const std::string& view,
              const std::function<void(std::string_view, std::string_view)>& visit) override;

 private:
  SqliteOnlineStore() = default;
  void Close();
  /// Opens the file when it exists now (a read-only store opened before the first write).
  Status EnsureOpen();
  Status Exec(const char* sql, const std::string& what);

  std::string path_;
  OpenMode mode_ = OpenMode::kReadWrite;
  std::mutex mutex_;  // one connection, used by one thread at a time
  sqlite3* db_ = nullptr;
};

}  // namespace headwater::online
