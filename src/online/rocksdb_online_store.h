#pragma once
// The embedded online store: one RocksDB database, one column family per feature view.

#include <rocksdb/db.h>

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "headwater/online/online_store.h"

namespace headwater::online {

class RocksDbOnlineStore final : public OnlineStore {
 public:
  /// Opens (creating when writable) the database at `path`. Read-only opens a secondary
  /// instance, with its scratch files under a temporary directory, that sees the primary's
  /// writes up to the moment of opening; a missing database reads as empty. `cache_rows` adds
  /// RocksDB's row cache (see OpenOnlineStore). `settings` bound its memory: memtable_mb (past
  /// it the largest memtable is flushed), block_cache_mb, row_cache_mb.
  static Result<std::unique_ptr<RocksDbOnlineStore>> Open(
      const std::string& path, OpenMode mode, bool cache_rows = false,
      const registry::OnlineStoreConfig& settings = {});
  ~RocksDbOnlineStore() override;

  Status CreateViews(const std::vector<std::string>& views) override;
  Status DropViews(const std::vector<std::string>& views) override;
  Status Teardown() override;
  Status WriteNewer(const std::string& view, const ByteRows& keys, const ByteRows& values) override;
  Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                            const ByteRows& values) override;
  Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override;
  Status Sync() override;
  Status Scan(const std::string& view,
              const std::function<void(std::string_view, std::string_view)>& visit) override;

 private:
  RocksDbOnlineStore() = default;
  void Close();
  rocksdb::ColumnFamilyHandle* Handle(std::string_view view) const;
  /// The view's column family for writing, created when missing; Invalid when read-only.
  Result<rocksdb::ColumnFamilyHandle*> WritableHandle(const std::string& view);

  std::string path_;
  std::string secondary_path_;  // non-empty for read-only instances
  OpenMode mode_ = OpenMode::kReadWrite;
  std::shared_ptr<rocksdb::Cache> block_cache_;  // shared by all views
  std::unique_ptr<rocksdb::DB> db_;
  mutable std::mutex handles_mutex_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles_;
  // Write reads, then Puts what is newer, holding this exclusively; WriteNewer (merges, which
  // commute) holds it shared. RocksDB admits one writing process, so this orders every write.
  std::shared_mutex write_order_;
};

}  // namespace headwater::online
