#include "rocksdb_online_store.h"

#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace headwater::online {
namespace {

// RocksDB's own log, to stderr at WARN and above instead of a LOG file in the store's directory:
// Debian's librocksdb is built with assertions, and its file logger aborts the process at close
// once a write to LOG has failed (a full disk, found by tests/test_disk_full.py).
class StderrLogger final : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list arguments) override {
    std::fputs("rocksdb: ", stderr);
    std::vfprintf(stderr, format, arguments);
    std::fputc('\n', stderr);
  }
};

namespace fs = std::filesystem;

// Keeps the greatest value by byte order: the newest (event_time, created_time), by the value
// layout. Associative and commutative, so RocksDB may combine writes in any order.
class GreatestValueMergeOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    const rocksdb::Slice& greater =
        existing != nullptr && existing->compare(value) >= 0 ? *existing : value;
    new_value->assign(greater.data(), greater.size());
    return true;
  }
  const char* Name() const override { return "headwater.GreatestValue"; }
};

rocksdb::ColumnFamilyOptions ViewOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  static const auto merge = std::make_shared<GreatestValueMergeOperator>();
  rocksdb::ColumnFamilyOptions options;
  options.merge_operator = merge;
  options.compression = rocksdb::kLZ4Compression;
  // What OptimizeForPointLookup sets, spelled out: that call replaces the table factory, with a
  // cache of its own per column family, so anything set before it is lost.
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  table.data_block_hash_table_util_ratio = 0.75;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.memtable_whole_key_filtering = true;
  // Every write is a merge: stream windows rewrite the same keys every slide, and unmerged
  // operands piled up in the memtable, slowing each read of the key and growing the memory
  // (the 30-minute soak: reads p50 0.35 -> 1.05 ms, RSS +24 %). Past a few, the write folds them.
  options.max_successive_merges = 4;
  // A bulk load flushes overlapping level-0 files, and every read then searches each of them:
  // compacting from two files on leaves one sorted run (100-key reads 308 -> 230 µs).
  options.level0_file_num_compaction_trigger = 2;
  return options;
}

Status FromRocks(const rocksdb::Status& status, const std::string& what) {
  if (status.ok()) return Status::OK();
  return Status::IOError("online store (RocksDB) ", what, ": ", status.ToString());
}

// Offers the batch's newest event time under kNewestEventTimeKey (see online_store.h).
Status AddNewestEventTime(rocksdb::ColumnFamilyHandle* handle, const ByteRows& values,
                          rocksdb::WriteBatch* batch) {
  const std::string newest = NewestEventTimeValue(values);
  if (newest.empty()) return Status::OK();
  return FromRocks(
      batch->Merge(handle, rocksdb::Slice(kNewestEventTimeKey.data(), kNewestEventTimeKey.size()),
                   newest),
      "write");
}

}  // namespace

Result<std::unique_ptr<RocksDbOnlineStore>> RocksDbOnlineStore::Open(
    const std::string& path, OpenMode mode, bool cache_rows,
    const registry::OnlineStoreConfig& settings) {
  std::unique_ptr<RocksDbOnlineStore> store(new RocksDbOnlineStore());
  store->path_ = path;
  store->mode_ = mode;
  rocksdb::DBOptions db_options;
  db_options.info_log = std::make_shared<StderrLogger>();
  db_options.create_if_missing = mode == OpenMode::kReadWrite;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  // Every write lands in a memtable first and stays there until it is flushed; by default each
  // view may hold two of 64 MiB. Stream views rewrite their keys every slide, so a server's
  // memory grew for hours (the soak: +0.85 MiB a minute) before the first flush. One budget
  // for all views bounds it.
  db_options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(settings.memtable_mb) << 20);
  store->block_cache_ = rocksdb::NewLRUCache(static_cast<size_t>(settings.block_cache_mb) << 20);
  if (cache_rows) {
    // Rows looked up per key without touching index or data blocks: a 100-key read of 10
    // features took 316 µs through the block cache alone, 232 µs with this. Not for bulk
    // writers: filling it as a write reads its keys made rematerializing 1M keys 2 s slower.
    db_options.row_cache = rocksdb::NewLRUCache(static_cast<size_t>(settings.row_cache_mb) << 20);
  }
  std::vector<std::string> names;
  auto listed = rocksdb::DB::ListColumnFamilies(db_options, path, &names);
  if (!listed.ok()) {
    if (mode == OpenMode::kReadOnly) return store;  // nothing written yet: reads find nothing
    names = {rocksdb::kDefaultColumnFamilyName};
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names)
    descriptors.emplace_back(name, ViewOptions(store->block_cache_));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (mode == OpenMode::kReadWrite) {
    std::error_code error;
    fs::create_directories(path, error);
    ARROW_RETURN_NOT_OK(
        FromRocks(rocksdb::DB::Open(rocksdb::Options(db_options, rocksdb::ColumnFamilyOptions()),
                                    path, descriptors, &handles, &db),
                  "open " + path));
  } else {
    store->secondary_path_ =
        (fs::temp_directory_path() / ("headwater-secondary-" + std::to_string(::getpid()) + "-" +
                                      std::to_string(reinterpret_cast<uintptr_t>(store.get()))))
            .string();
    rocksdb::Options options(db_options, rocksdb::ColumnFamilyOptions());
    options.max_open_files = -1;
    ARROW_RETURN_NOT_OK(
        FromRocks(rocksdb::DB::OpenAsSecondary(options, path, store->secondary_path_, descriptors,
                                               &handles, &db),
                  "open " + path + " for reading"));
  }
  store->db_.reset(db);
  for (auto* handle : handles) store->handles_[handle->GetName()] = handle;
  return store;
}

RocksDbOnlineStore::~RocksDbOnlineStore() { Close(); }

void RocksDbOnlineStore::Close() {
  if (db_ != nullptr) {
    for (auto& [name, handle] : handles_) (void)db_->DestroyColumnFamilyHandle(handle);
    handles_.clear();
    (void)db_->Close();
    db_.reset();
  }
  if (!secondary_path_.empty()) {
    std::error_code error;
    fs::remove_all(secondary_path_, error);
  }
}

rocksdb::ColumnFamilyHandle* RocksDbOnlineStore::Handle(std::string_view view) const {
  std::lock_guard lock(handles_mutex_);
  auto it = handles_.find(view);
  return it == handles_.end() ? nullptr : it->second;
}

Status RocksDbOnlineStore::CreateViews(const std::vector<std::string>& views) {
  std::lock_guard lock(handles_mutex_);
  for (const std::string& view : views) {
    if (handles_.count(view)) continue;
    rocksdb::ColumnFamilyHandle* handle = nullptr;
    ARROW_RETURN_NOT_OK(FromRocks(db_->CreateColumnFamily(ViewOptions(block_cache_), view, &handle),
                                  "create view " + view));
    handles_[view] = handle;
  }
  return Status::OK();
}

Status RocksDbOnlineStore::DropViews(const std::vector<std::string>& views) {
  std::lock_guard lock(handles_mutex_);
  for (const std::string& view : views) {
    auto it = handles_.find(view);
    if (it == handles_.end()) continue;
    ARROW_RETURN_NOT_OK(FromRocks(db_->DropColumnFamily(it->second), "drop view " + view));
    (void)db_->DestroyColumnFamilyHandle(it->second);
    handles_.erase(it);
  }
  return Status::OK();
}

Status RocksDbOnlineStore::Teardown() {
  Close();
  std::error_code error;
  fs::remove_all(path_, error);
  if (error) return Status::IOError("cannot remove ", path_, ": ", error.message());
  return Status::OK();
}

Result<rocksdb::ColumnFamilyHandle*> RocksDbOnlineStore::WritableHandle(const std::string& view) {
  if (db_ == nullptr || mode_ != OpenMode::kReadWrite) {
    return Status::Invalid("online store opened read-only");
  }
  rocksdb::ColumnFamilyHandle* handle = Handle(view);
  if (handle == nullptr) {  // a view applied while this process ran: make room for it
    ARROW_RETURN_NOT_OK(CreateViews({view}));
    handle = Handle(view);
  }
  return handle;
}

Status RocksDbOnlineStore::WriteNewer(const std::string& view, const ByteRows& keys,
                                      const ByteRows& values) {
  ARROW_ASSIGN_OR_RAISE(rocksdb::ColumnFamilyHandle * handle, WritableHandle(view));
  rocksdb::WriteBatch batch;
  for (size_t k = 0; k < keys.size(); ++k) {
    ARROW_RETURN_NOT_OK(
        FromRocks(batch.Merge(handle, rocksdb::Slice(keys[k].data(), keys[k].size()),
                              rocksdb::Slice(values[k].data(), values[k].size())),
                  "write"));
  }
  ARROW_RETURN_NOT_OK(AddNewestEventTime(handle, values, &batch));
  std::shared_lock ordered(write_order_);
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "write");
}

Result<WriteResult> RocksDbOnlineStore::Write(const std::string& view, const ByteRows& keys,
                                              const ByteRows& values) {
  ARROW_ASSIGN_OR_RAISE(rocksdb::ColumnFamilyHandle * handle, WritableHandle(view));
  const size_t n = keys.size();
  // Keys in order: the memtable's skip list inserts sorted keys far faster (it reuses its
  // search position), and MultiGet walks them in order too. A key twice in one batch comes
  // greatest value first, and only that one is written.
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return keys[a] != keys[b] ? keys[a] < keys[b] : values[a] > values[b];
  });
  // Read what is there to skip (and count) rows that are not newer, and Put the newer ones:
  // a Put is a whole value, where a merge operand left in a file makes every later read look
  // through the older files too (a 100-key read: 439 µs over merge operands, 316 µs over
  // values). write_order_ keeps every other writer of this process out between the read and
  // the write, so the Put cannot hide a greater value written in between.
  std::unique_lock ordered(write_order_);
  std::vector<rocksdb::Slice> key_slices(n);
  for (size_t k = 0; k < n; ++k) {
    key_slices[k] = rocksdb::Slice(keys[order[k]].data(), keys[order[k]].size());
  }
  std::vector<rocksdb::PinnableSlice> existing(n);
  std::vector<rocksdb::Status> statuses(n);
  db_->MultiGet(rocksdb::ReadOptions(), handle, n, key_slices.data(), existing.data(),
                statuses.data());
  rocksdb::WriteBatch batch;
  WriteResult result;
  for (size_t k = 0; k < n; ++k) {
    std::string_view value = values[order[k]];
    const bool repeated = k > 0 && key_slices[k] == key_slices[k - 1];
    if (repeated ||
        (statuses[k].ok() && std::string_view(existing[k].data(), existing[k].size()) >= value)) {
      ++result.skipped_older;
      continue;
    }
    if (!statuses[k].ok() && !statuses[k].IsNotFound()) {
      return FromRocks(statuses[k], "read before write");
    }
    ARROW_RETURN_NOT_OK(FromRocks(
        batch.Put(handle, key_slices[k], rocksdb::Slice(value.data(), value.size())), "write"));
    ++result.written;
  }
  ARROW_RETURN_NOT_OK(AddNewestEventTime(handle, values, &batch));
  ARROW_RETURN_NOT_OK(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "write"));
  return result;
}

Status RocksDbOnlineStore::Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
                                std::vector<uint8_t>* found) {
  const size_t n = keys.size();
  values->assign(n, std::string());
  found->assign(n, 0);
  if (db_ == nullptr) return Status::OK();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::vector<rocksdb::Slice> key_slices;
  std::vector<size_t> positions;
  for (size_t i = 0; i < n; ++i) {
    if (keys[i].key.empty()) continue;  // a null entity: nothing to look up
    rocksdb::ColumnFamilyHandle* handle = Handle(keys[i].view);
    if (handle == nullptr) continue;  // a view never written: nothing found
    handles.push_back(handle);
    key_slices.emplace_back(keys[i].key.data(), keys[i].key.size());
    positions.push_back(i);
  }
  std::vector<rocksdb::PinnableSlice> slices(positions.size());
  std::vector<rocksdb::Status> statuses(positions.size());
  db_->MultiGet(rocksdb::ReadOptions(), positions.size(), handles.data(), key_slices.data(),
                slices.data(), statuses.data());
  for (size_t k = 0; k < positions.size(); ++k) {
    if (statuses[k].IsNotFound()) continue;
    ARROW_RETURN_NOT_OK(FromRocks(statuses[k], "read"));
    (*values)[positions[k]].assign(slices[k].data(), slices[k].size());
    (*found)[positions[k]] = 1;
  }
  return Status::OK();
}

Status RocksDbOnlineStore::Sync() {
  if (db_ == nullptr || mode_ != OpenMode::kReadWrite) return Status::OK();
  return FromRocks(db_->SyncWAL(), "sync");
}

Status RocksDbOnlineStore::Scan(
    const std::string& view, const std::function<void(std::string_view, std::string_view)>& visit) {
  if (db_ == nullptr) return Status::OK();
  rocksdb::ColumnFamilyHandle* handle = Handle(view);
  if (handle == nullptr) return Status::OK();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().starts_with(rocksdb::Slice(kNewestEventTimeKey.data(), 1))) continue;
    visit(std::string_view(it->key().data(), it->key().size()),
          std::string_view(it->value().data(), it->value().size()));
  }
  return FromRocks(it->status(), "scan");
}

}  // namespace headwater::online
