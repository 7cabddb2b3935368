// OverlayOnlineStore over a fake store whose writes wait for the test: rows are readable before
// the store has them, Sync waits for them, and a failed write-through surfaces at Sync. The
// contract every store keeps is checked on the overlay over RocksDB in online_store_test.cc.
#include "headwater/online/overlay_store.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>

namespace headwater::online {
namespace {

ByteRows Rows(const std::vector<std::string>& items) {
  ByteRows rows;
  for (const auto& item : items) {
    rows.data += item;
    rows.FinishRow();
  }
  return rows;
}

// A store held in a map whose writes wait until `open` is set, and fail once `fail` is.
class GatedStore final : public OnlineStore {
 public:
  Status CreateViews(const std::vector<std::string>&) override { return Status::OK(); }
  Status DropViews(const std::vector<std::string>&) override { return Status::OK(); }
  Status Teardown() override { return Status::OK(); }
  Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                            const ByteRows& values) override {
    std::unique_lock lock(mutex);
    opened.wait(lock, [&] { return open || allowed > 0; });
    if (!open) --allowed;
    ++writes;
    opened.notify_all();
    if (fail) return Status::IOError("disk full");
    for (size_t i = 0; i < keys.size(); ++i) {
      std::string& stored = rows[view + "/" + std::string(keys[i])];
      stored = std::max(stored, std::string(values[i]));
    }
    return WriteResult{static_cast<int64_t>(keys.size()), 0};
  }
  Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override {
    {
      std::lock_guard lock(mutex);
      values->assign(keys.size(), "");
      found->assign(keys.size(), 0);
      for (size_t i = 0; i < keys.size(); ++i) {
        auto row = rows.find(std::string(keys[i].view) + "/" + std::string(keys[i].key));
        if (row == rows.end()) continue;
        (*values)[i] = row->second;
        (*found)[i] = 1;
      }
    }
    if (after_read) std::exchange(after_read, nullptr)();
    return Status::OK();
  }
  Status Sync() override { return Status::OK(); }
  Status Scan(const std::string&,
              const std::function<void(std::string_view, std::string_view)>&) override {
    return Status::OK();
  }
  // Lets `n` more writes through.
  void Allow(int n) {
    {
      std::lock_guard lock(mutex);
      allowed += n;
    }
    opened.notify_all();
  }
  void WaitForWrites(int n) {
    std::unique_lock lock(mutex);
    opened.wait(lock, [&] { return writes >= n; });
  }
  void Open() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    opened.notify_all();
  }

  std::mutex mutex;
  std::condition_variable opened;
  bool open = false;
  int allowed = 0;
  int writes = 0;
  bool fail = false;
  std::function<void()> after_read;  // runs once, after the next read has looked
  std::map<std::string, std::string> rows;
};

std::string ReadOne(OnlineStore& store, const std::string& key) {
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  EXPECT_TRUE(store.Read({{"v", key}}, &values, &found).ok());
  return found[0] ? values[0] : "<missing>";
}

TEST(OverlayOnlineStoreTest, RowsAreReadableBeforeTheStoreHasThemAndSyncWaitsForIt) {
  auto owned = std::make_unique<GatedStore>();
  GatedStore* gated = owned.get();
  OverlayOnlineStore overlay(std::move(owned));
  // The store is stuck; the write returns at once and its rows read from the overlay.
  ASSERT_TRUE(overlay
                  .WriteNewer("v", Rows({"\x01k1", "\x01k2"}),
                              Rows({"\x01"
                                    "b",
                                    "\x01"
                                    "a"}))
                  .ok());
  EXPECT_EQ(ReadOne(overlay, "\x01k1"),
            "\x01"
            "b");
  EXPECT_EQ(ReadOne(*gated, "\x01k1"), "<missing>");
  // An older row for k1 never hides the newer one; a newer one for k2 wins.
  ASSERT_TRUE(overlay
                  .WriteNewer("v", Rows({"\x01k1", "\x01k2"}),
                              Rows({"\x01"
                                    "a",
                                    "\x01"
                                    "c"}))
                  .ok());
  EXPECT_EQ(ReadOne(overlay, "\x01k1"),
            "\x01"
            "b");
  EXPECT_EQ(ReadOne(overlay, "\x01k2"),
            "\x01"
            "c");
  gated->Open();
  ASSERT_TRUE(overlay.Sync().ok());  // waits until the store has every row
  EXPECT_EQ(ReadOne(*gated, "\x01k1"),
            "\x01"
            "b");
  EXPECT_EQ(ReadOne(*gated, "\x01k2"),
            "\x01"
            "c");
  EXPECT_EQ(ReadOne(overlay, "\x01k2"),
            "\x01"
            "c");
}

TEST(OverlayOnlineStoreTest, AnOlderBatchWrittenThroughLeavesTheNewerRowsInTheOverlay) {
  auto owned = std::make_unique<GatedStore>();
  GatedStore* gated = owned.get();
  OverlayOnlineStore overlay(std::move(owned));
  ASSERT_TRUE(overlay.WriteNewer("v", Rows({"k1", "k2"}), Rows({"b", "a"})).ok());
  ASSERT_TRUE(overlay.WriteNewer("v", Rows({"k1", "k2"}), Rows({"a", "c"})).ok());
  gated->Allow(1);  // the first batch only; its memory is freed once it is through
  gated->WaitForWrites(1);
  EXPECT_EQ(ReadOne(*gated, "k2"), "a");
  EXPECT_EQ(ReadOne(overlay, "k1"), "b");  // the store's now
  EXPECT_EQ(ReadOne(overlay, "k2"), "c");  // still the overlay's, from the second batch
  gated->Open();
  ASSERT_TRUE(overlay.Sync().ok());
  EXPECT_EQ(ReadOne(*gated, "k1"), "b");
  EXPECT_EQ(ReadOne(*gated, "k2"), "c");
}

TEST(OverlayOnlineStoreTest, AWindowEndOfManyKeysGoesThroughInChunks) {
  auto owned = std::make_unique<GatedStore>();
  GatedStore* gated = owned.get();
  gated->Open();
  OverlayOnlineStore overlay(std::move(owned));
  std::vector<std::string> keys, values;
  for (int i = 0; i < 2500; ++i) {
    keys.push_back("k" + std::to_string(i));
    values.push_back("v" + std::to_string(i));
  }
  ASSERT_TRUE(overlay.WriteNewer("v", Rows(keys), Rows(values)).ok());
  ASSERT_TRUE(overlay.Sync().ok());
  EXPECT_EQ(gated->writes, 3);  // 1,000 rows at a time: a push waits for one chunk at most
  EXPECT_EQ(gated->rows.size(), 2500u);
  EXPECT_EQ(ReadOne(*gated, "k2499"), "v2499");
}

TEST(OverlayOnlineStoreTest, AFailedWriteThroughIsReturnedBySyncAndTheRowsStayReadable) {
  auto owned = std::make_unique<GatedStore>();
  GatedStore* gated = owned.get();
  gated->fail = true;
  gated->Open();
  OverlayOnlineStore overlay(std::move(owned));
  ASSERT_TRUE(overlay.WriteNewer("v", Rows({"\x01k"}), Rows({"\x01x"})).ok());
  Status synced = overlay.Sync();
  EXPECT_TRUE(synced.IsIOError()) << synced.ToString();
  EXPECT_NE(synced.message().find("disk full"), std::string::npos);
  EXPECT_EQ(ReadOne(overlay, "\x01k"), "\x01x");
  EXPECT_TRUE(overlay.Sync().ok());  // reported once
}

TEST(OverlayOnlineStoreTest, ARowWrittenThroughDuringAReadIsStillFound) {
  auto store = std::make_unique<GatedStore>();
  GatedStore* gated = store.get();
  OverlayOnlineStore overlay(std::move(store));
  ASSERT_TRUE(overlay.WriteNewer("v", Rows({"\x01k1"}), Rows({"value"})).ok());
  // The store is read and finds nothing; then, before the read is answered, the writer writes
  // the row through and it leaves the overlay. The read must still return it.
  gated->after_read = [&] {
    gated->Open();
    ASSERT_TRUE(overlay.Sync().ok());
  };
  EXPECT_EQ(ReadOne(overlay, "\x01k1"), "value");
}

}  // namespace
}  // namespace headwater::online
