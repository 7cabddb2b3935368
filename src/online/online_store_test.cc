// The same behaviour from every OnlineStore: RocksDB in a temporary directory, and a real
// redis-server started on a free loopback port by scripts/start_redis.
#include "headwater/online/online_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "headwater/online/overlay_store.h"

namespace headwater::online {
namespace {

namespace fs = std::filesystem;

std::string Value(int64_t event_time, int64_t created_time, char payload) {
  std::string value(1, '\x01');
  AppendSortableInt64(event_time, &value);
  AppendSortableInt64(created_time, &value);
  value.push_back(payload);
  return value;
}

ByteRows Rows(const std::vector<std::string>& items) {
  ByteRows rows;
  for (const auto& item : items) {
    rows.data += item;
    rows.FinishRow();
  }
  return rows;
}

class OnlineStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hw_online_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_.repo_path = dir_;
    config_.project = "test";
    config_.online_store.type = GetParam() == "redis_cluster" ? "redis"
                                : GetParam() == "overlay"     ? "rocksdb"
                                                              : GetParam();
    config_.online_store.path = "online";
    if (GetParam() == "redis_cluster") {  // three masters: keys spread over them by slot
      std::string command = std::string(HEADWATER_SOURCE_DIR) + "/scripts/start_redis_cluster " +
                            (dir_ / "cluster").string() + " > /dev/null";
      ASSERT_EQ(std::system(command.c_str()), 0);
      std::ifstream nodes(dir_ / "cluster" / "nodes");
      std::getline(nodes, config_.online_store.connection_string);
      config_.online_store.redis_type = "redis_cluster";
    }
    if (GetParam() == "redis") {
      std::string command = std::string(HEADWATER_SOURCE_DIR) + "/scripts/start_redis " +
                            (dir_ / "redis").string() + " > /dev/null";
      ASSERT_EQ(std::system(command.c_str()), 0);
      std::ifstream port(dir_ / "redis" / "port");
      std::string number;
      port >> number;
      config_.online_store.connection_string = "127.0.0.1:" + number;
    }
    store_ = Open(OpenMode::kReadWrite);
    ASSERT_TRUE(store_->CreateViews({"v", "w"}).ok());
  }
  void TearDown() override {
    store_.reset();
    if (GetParam() == "redis_cluster") {
      std::string command = std::string(HEADWATER_SOURCE_DIR) + "/scripts/stop_redis_cluster " +
                            (dir_ / "cluster").string();
      (void)std::system(command.c_str());
    }
    if (GetParam() == "redis") {
      std::string command =
          std::string(HEADWATER_SOURCE_DIR) + "/scripts/stop_redis " + (dir_ / "redis").string();
      (void)std::system(command.c_str());
    }
    fs::remove_all(dir_);
  }

  // "overlay": RocksDB under the stream pipelines' overlay (overlay_store.h), which must keep
  // every promise of the store under it.
  std::unique_ptr<OnlineStore> Open(OpenMode mode) {
    auto store = OpenOnlineStore(config_, mode);
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (!store.ok()) return nullptr;
    if (GetParam() == "overlay" && mode == OpenMode::kReadWrite) {
      return std::make_unique<OverlayOnlineStore>(std::move(*store));
    }
    return std::move(*store);
  }

  std::map<std::string, std::string> Contents(OnlineStore& store, const std::string& view) {
    std::map<std::string, std::string> contents;
    EXPECT_TRUE(
        store
            .Scan(view, [&](std::string_view k,
                            std::string_view v) { contents[std::string(k)] = std::string(v); })
            .ok());
    return contents;
  }

  static inline int counter_ = 0;
  fs::path dir_;
  registry::RepoConfig config_;
  std::unique_ptr<OnlineStore> store_;
};

TEST_P(OnlineStoreTest, OlderValuesNeverOverwriteNewer) {
  auto first = store_->Write("v", Rows({"k1", "k2"}), Rows({Value(10, 0, 'a'), Value(10, 0, 'b')}));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->written, 2);
  // k1: older event time loses; k2: same event time, newer created time wins.
  auto second =
      store_->Write("v", Rows({"k1", "k2"}), Rows({Value(9, 99, 'c'), Value(10, 1, 'd')}));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->written, 1);
  EXPECT_EQ(second->skipped_older, 1);
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  ASSERT_TRUE(
      store_->Read({{"v", "k1"}, {"v", "k2"}, {"v", "k3"}, {"w", "k1"}}, &values, &found).ok());
  EXPECT_EQ(found, (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(values[0], Value(10, 0, 'a'));
  EXPECT_EQ(values[1], Value(10, 1, 'd'));
}

TEST_P(OnlineStoreTest, WriteNewerKeepsTheGreatestValueToo) {
  ASSERT_TRUE(
      store_->WriteNewer("v", Rows({"k1", "k2"}), Rows({Value(10, 0, 'a'), Value(5, 0, 'b')}))
          .ok());
  ASSERT_TRUE(
      store_->WriteNewer("v", Rows({"k1", "k2"}), Rows({Value(9, 0, 'c'), Value(6, 0, 'd')})).ok());
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  ASSERT_TRUE(store_->Read({{"v", "k1"}, {"v", "k2"}}, &values, &found).ok());
  EXPECT_EQ(values[0], Value(10, 0, 'a'));  // the older second write did not replace it
  EXPECT_EQ(values[1], Value(6, 0, 'd'));
  EXPECT_EQ(NewestEventTime(*store_, "v").ValueOrDie()->micros, 10);
}

TEST_P(OnlineStoreTest, AnyWriteOrderGivesIdenticalContents) {
  std::vector<std::pair<std::string, std::string>> writes;
  std::mt19937 random(3);
  for (int i = 0; i < 300; ++i) {
    writes.emplace_back("key" + std::to_string(random() % 40),
                        Value(random() % 5, random() % 3, static_cast<char>('a' + random() % 3)));
  }
  std::map<std::string, std::string> expected;
  for (const auto& [key, value] : writes) expected[key] = std::max(expected[key], value);
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(store_->DropViews({"v"}).ok());
    ASSERT_TRUE(store_->CreateViews({"v"}).ok());
    std::shuffle(writes.begin(), writes.end(), random);
    for (size_t start = 0; start < writes.size(); start += 37) {
      std::vector<std::string> keys, values;
      for (size_t i = start; i < std::min(writes.size(), start + 37); ++i) {
        keys.push_back(writes[i].first);
        values.push_back(writes[i].second);
      }
      ASSERT_TRUE(store_->Write("v", Rows(keys), Rows(values)).ok());
    }
    EXPECT_EQ(Contents(*store_, "v"), expected) << "round " << round;
  }
}

// Write (materialize, push) and WriteNewer (stream windows) from several threads at once, on the
// same keys: whatever interleaving, every key ends with the greatest value any thread wrote.
TEST_P(OnlineStoreTest, ConcurrentWritersKeepTheGreatestValue) {
  constexpr int kThreads = 4, kBatches = 30, kKeys = 50;
  std::vector<std::vector<std::pair<std::string, std::string>>> writes(kThreads);
  std::map<std::string, std::string> expected;
  std::mt19937 random(11);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kBatches * 20; ++i) {
      std::string key = "key" + std::to_string(random() % kKeys);
      std::string value = Value(random() % 100, random() % 3, static_cast<char>('a' + t));
      expected[key] = std::max(expected[key], value);
      writes[t].emplace_back(std::move(key), std::move(value));
    }
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures = 0;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<std::string> keys, values;
        for (int i = b * 20; i < (b + 1) * 20; ++i) {
          keys.push_back(writes[t][i].first);
          values.push_back(writes[t][i].second);
        }
        // Even threads materialize, odd ones stream.
        const bool ok = t % 2 == 0 ? store_->Write("v", Rows(keys), Rows(values)).ok()
                                   : store_->WriteNewer("v", Rows(keys), Rows(values)).ok();
        if (!ok) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  ASSERT_TRUE(store_->Sync().ok());
  EXPECT_EQ(Contents(*store_, "v"), expected);
}

TEST_P(OnlineStoreTest, DropAndTeardownRemoveValues) {
  ASSERT_TRUE(store_->Write("v", Rows({"k"}), Rows({Value(1, 0, 'x')})).ok());
  ASSERT_TRUE(store_->Write("w", Rows({"k"}), Rows({Value(1, 0, 'y')})).ok());
  ASSERT_TRUE(store_->DropViews({"v"}).ok());
  EXPECT_TRUE(Contents(*store_, "v").empty());
  EXPECT_EQ(Contents(*store_, "w").size(), 1u);
  ASSERT_TRUE(store_->Teardown().ok());
  store_ = Open(OpenMode::kReadWrite);
  EXPECT_TRUE(Contents(*store_, "w").empty());
}

TEST_P(OnlineStoreTest, ReadersSeeSyncedWritesOfALiveWriter) {
  ASSERT_TRUE(store_->Write("v", Rows({"k"}), Rows({Value(1, 0, 'x')})).ok());
  ASSERT_TRUE(store_->Sync().ok());
  auto reader = Open(OpenMode::kReadOnly);  // while the writer is still open
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  ASSERT_TRUE(reader->Read({{"v", "k"}}, &values, &found).ok());
  EXPECT_EQ(found[0], 1);
  EXPECT_EQ(values[0], Value(1, 0, 'x'));
}

TEST_P(OnlineStoreTest, WritingANewViewMakesRoomForIt) {
  ASSERT_TRUE(store_->Write("new", Rows({"k"}), Rows({Value(1, 0, 'x')})).ok());
  EXPECT_EQ(Contents(*store_, "new").size(), 1u);
}

TEST_P(OnlineStoreTest, TracksTheNewestEventTimeWritten) {
  EXPECT_FALSE(NewestEventTime(*store_, "v").ValueOrDie().has_value());
  ASSERT_TRUE(
      store_->Write("v", Rows({"a", "b"}), Rows({Value(30, 0, 'x'), Value(20, 0, 'y')})).ok());
  ASSERT_TRUE(store_->Write("v", Rows({"c"}), Rows({Value(10, 0, 'z')})).ok());  // older batch
  auto newest = NewestEventTime(*store_, "v");
  ASSERT_TRUE(newest.ok()) << newest.status().message();
  ASSERT_TRUE(newest->has_value());
  EXPECT_EQ((*newest)->micros, 30);
  EXPECT_EQ(Contents(*store_, "v").size(), 3u);  // the freshness key is not a row
}

INSTANTIATE_TEST_SUITE_P(Stores, OnlineStoreTest,
                         ::testing::Values("rocksdb", "sqlite", "redis", "redis_cluster",
                                           "overlay"),
                         [](const auto& info) { return info.param; });

TEST(RedisOnlineStoreTest, FeastConnectionOptions) {
  // Feast's connection_string: password and db reach Redis; bad options are clear errors.
  const fs::path dir = fs::temp_directory_path() / ("hw_redis_opts_" + std::to_string(::getpid()));
  const std::string scripts = std::string(HEADWATER_SOURCE_DIR) + "/scripts/";
  ASSERT_EQ(std::system((scripts + "start_redis " + dir.string() + " > /dev/null").c_str()), 0);
  std::string port;
  std::ifstream(dir / "port") >> port;
  const std::string cli = "redis-cli -p " + port + " ";
  ASSERT_EQ(std::system((cli + "CONFIG SET requirepass s3cret > /dev/null").c_str()), 0);
  registry::RepoConfig config;
  config.project = "p";
  config.online_store.type = "redis";
  config.online_store.connection_string = "127.0.0.1:" + port + ",password=s3cret,db=3";
  {
    auto store = OpenOnlineStore(config, OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().message();
    ASSERT_TRUE((*store)->Write("v", Rows({"k"}), Rows({Value(1, 0, 'x')})).ok());
  }
  const std::string dbsize = cli + "-a s3cret --no-auth-warning -n 3 DBSIZE";
  FILE* out = ::popen(dbsize.c_str(), "r");
  char line[32] = {0};
  ASSERT_NE(std::fgets(line, sizeof line, out), nullptr);
  ::pclose(out);
  EXPECT_EQ(std::atoi(line), 2);  // the row and the freshness key, in db 3
  const std::pair<std::string, std::string> bad[] = {{",password=wrong", "authenticate"},
                                                     {",ssl=true", "no TLS"},
                                                     {",colour=blue", "unknown option 'colour'"},
                                                     {",db=x", "db must be a number"}};
  for (const auto& [options, message] : bad) {
    config.online_store.connection_string = "127.0.0.1:" + port + options;
    auto store = OpenOnlineStore(config, OpenMode::kReadWrite);
    ASSERT_FALSE(store.ok()) << options;
    EXPECT_NE(store.status().message().find(message), std::string::npos)
        << store.status().message();
  }
  (void)std::system(
      (cli + "-a s3cret --no-auth-warning CONFIG SET requirepass '' > /dev/null").c_str());
  (void)std::system((scripts + "stop_redis " + dir.string()).c_str());
  fs::remove_all(dir);
}

TEST(SqliteOnlineStoreTest, SeveralWritersShareOneFile) {
  // Unlike RocksDB, SQLite lets several processes (here: connections) write the same store.
  const fs::path dir = fs::temp_directory_path() / ("hw_sqlite_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  registry::RepoConfig config;
  config.repo_path = dir;
  config.online_store.type = "sqlite";
  config.online_store.path = "data/online.db";
  auto first = OpenOnlineStore(config, OpenMode::kReadWrite);
  auto second = OpenOnlineStore(config, OpenMode::kReadWrite);
  ASSERT_TRUE(first.ok() && second.ok()) << second.status().message();
  ASSERT_TRUE((*first)->Write("v", Rows({"k1"}), Rows({Value(5, 0, 'a')})).ok());
  auto written =
      (*second)->Write("v", Rows({"k1", "k2"}), Rows({Value(4, 0, 'b'), Value(1, 0, 'c')}));
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(written->written, 1);
  EXPECT_EQ(written->skipped_older, 1);  // the first writer's newer k1 stands
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  ASSERT_TRUE((*first)->Read({{"v", "k1"}, {"v", "k2"}}, &values, &found).ok());
  EXPECT_EQ(found, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(values[0], Value(5, 0, 'a'));
  EXPECT_EQ(values[1], Value(1, 0, 'c'));
  first->reset();
  second->reset();
  fs::remove_all(dir);
}

TEST(OnlineStoreOpenTest, UnreachableRedisIsAClearError) {
  registry::RepoConfig config;
  config.project = "p";
  config.online_store.type = "redis";
  config.online_store.connection_string = "127.0.0.1:1";
  auto store = OpenOnlineStore(config, OpenMode::kReadWrite);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("cannot connect to Redis at 127.0.0.1:1"),
            std::string::npos);
  config.online_store.connection_string = "localhost:notaport";
  EXPECT_NE(OpenOnlineStore(config, OpenMode::kReadWrite).status().message().find("not host:port"),
            std::string::npos);
}

TEST(RocksDbOnlineStoreTest, MemtablesStayWithinTheirBudget) {
  // Stream views rewrite the same keys every slide: without a budget the memtables grow until
  // each view's 64 MiB fills. With 1 MiB, rewriting 2,000 keys 40 times (~20 MiB of writes)
  // flushes to table files; with the default budget nothing is flushed yet. Reads see the newest
  // values either way.
  auto table_files = [](const fs::path& dir) {
    int count = 0;
    for (const auto& entry : fs::directory_iterator(dir))
      count += entry.path().extension() == ".sst";
    return count;
  };
  for (const int64_t budget : {int64_t{1}, int64_t{64}}) {
    registry::RepoConfig config;
    config.repo_path = fs::temp_directory_path() /
                       ("hw_memtable_" + std::to_string(budget) + "_" + std::to_string(::getpid()));
    fs::remove_all(config.repo_path);
    config.online_store.memtable_mb = budget;
    auto store = OpenOnlineStore(config, OpenMode::kReadWrite);
    ASSERT_TRUE(store.ok()) << store.status().message();
    ASSERT_TRUE((*store)->CreateViews({"v", "w"}).ok());
    for (int round = 1; round <= 40; ++round) {
      ByteRows keys, values;
      for (int k = 0; k < 2000; ++k) {
        keys.data += "key" + std::to_string(k);
        keys.FinishRow();
        values.data += Value(round, 0, 'x') + std::string(200, static_cast<char>('a' + round % 26));
        values.FinishRow();
      }
      ASSERT_TRUE((*store)->Write(round % 2 ? "v" : "w", keys, values).ok());
    }
    const fs::path dir = config.repo_path / config.online_store.path;
    if (budget == 1) {
      for (int wait = 0; wait < 100 && table_files(dir) == 0; ++wait) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(50));  // flushes run in the background
      }
      EXPECT_GT(table_files(dir), 0);
    } else {
      EXPECT_EQ(table_files(dir), 0);
    }
    std::vector<std::string> read;
    std::vector<uint8_t> found;
    ASSERT_TRUE((*store)->Read({{"v", "key7"}, {"w", "key1999"}}, &read, &found).ok());
    EXPECT_EQ(found, (std::vector<uint8_t>{1, 1}));
    EXPECT_EQ(read[0].substr(0, 17), Value(39, 0, 'x').substr(0, 17));
    EXPECT_EQ(read[1].substr(0, 17), Value(40, 0, 'x').substr(0, 17));
    store->reset();
    fs::remove_all(config.repo_path);
  }
}

TEST(OnlineStoreOpenTest, ReadingANeverWrittenRocksDbFindsNothing) {
  registry::RepoConfig config;
  config.repo_path = fs::temp_directory_path() / ("hw_online_empty_" + std::to_string(::getpid()));
  config.project = "p";
  auto store = OpenOnlineStore(config, OpenMode::kReadOnly);
  ASSERT_TRUE(store.ok()) << store.status().message();
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  ASSERT_TRUE((*store)->Read({{"v", "k"}}, &values, &found).ok());
  EXPECT_EQ(found[0], 0);
}

}  // namespace
}  // namespace headwater::online
