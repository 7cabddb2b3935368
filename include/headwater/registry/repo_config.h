#pragma once
// feature_store.yaml: where a repository keeps its registry and stores.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/core/time.h"

namespace headwater::registry {

/// The online store settings (`online_store:`). Used from the online-store milestone on.
struct OnlineStoreConfig {
  /// "rocksdb" (default, embedded), "sqlite" (embedded, one file several processes may open)
  /// or "redis".
  std::string type = "rocksdb";
  /// RocksDB directory or SQLite file, relative to the repository. Default "data/online"
  /// (RocksDB) or "data/online.db" (SQLite, as Feast).
  std::string path = "data/online";
  /// Redis, as Feast writes it: "host:port[,host:port...][,password=...][,username=...]
  /// [,db=N][,ssl=false]". Default "127.0.0.1:6379".
  std::string connection_string = "127.0.0.1:6379";
  /// Feast's redis_type: "redis" (one server, the first address) or "redis_cluster".
  std::string redis_type = "redis";
  /// Redis key expiry in seconds; 0 keeps keys forever. Default 0.
  int64_t key_ttl_seconds = 0;
  /// RocksDB, in MiB: the memory all views' memtables may hold before the largest is flushed
  /// (default 64), the block cache (default 256) and a reading process's row cache (default 256).
  int64_t memtable_mb = 64;
  int64_t block_cache_mb = 256;
  int64_t row_cache_mb = 256;
};

/// The offline store settings (`offline_store:`). Only `type: file` (Parquet) exists.
struct OfflineStoreConfig {
  std::string type = "file";
  /// Directory of the datasets Headwater writes itself (a stream view's window rows go to
  /// `<path>/<view>/`), relative to the repository. Default "data/offline".
  std::string path = "data/offline";
};

/// The stream pipelines' settings (`stream:`).
struct StreamConfig {
  /// Directory of write-ahead logs, checkpoints and dead letters. Default "data/stream".
  std::string path = "data/stream";
  /// How often window state, source positions and pending offline rows are committed.
  /// Default 5s.
  Duration checkpoint_interval{5'000'000};
  /// A Kafka partition without messages for this long stops holding the watermark back.
  /// Default 30s.
  Duration idle_timeout{30'000'000};
};

/// Where stream feature views run (`stream_engine:`): Headwater's own engine, or an Apache
/// Flink cluster that computes their tiles (docs/flink.md).
struct StreamEngineConfig {
  /// "embedded" (default) or "flink".
  std::string type = "embedded";
  /// The JobManager's REST address, e.g. http://127.0.0.1:8081.
  std::string rest_address;
  /// The SQL Gateway's REST address, which submits the jobs; e.g. http://127.0.0.1:8083.
  std::string sql_gateway;
  /// Parallelism of the Flink jobs. Default 1.
  int64_t parallelism = 1;
  /// Flink's checkpoint interval: tiles become visible to Headwater when a checkpoint commits
  /// their Kafka transaction. Default 10s.
  Duration checkpoint_interval{10'000'000};
  /// Flink options passed through as `SET 'key' = 'value'`, in key order.
  std::map<std::string, std::string> table_config;
  /// Where Headwater and Flink exchange a job's entity rows and results (a directory both can
  /// read and write; on one machine, a local one). Default `data/flink-staging`.
  std::string staging_location = "data/flink-staging";
  bool flink() const { return type == "flink"; }
};

/// Where materialization, windowed backfill and training data are computed (`batch_engine:`,
/// Feast's section): Headwater's own engine, or Flink SQL batch jobs on a cluster
/// (docs/flink.md). Headwater stores what Flink computes.
struct BatchEngineConfig {
  /// "embedded" (default) or "flink" (Feast writes "flink.engine"; read as "flink"). Feast's
  /// `execution_mode` is checked to be "batch" and `pandas_split_num` accepted; neither is kept.
  std::string type = "embedded";
  /// The JobManager's and the SQL Gateway's REST addresses; stream_engine's where unset.
  std::string rest_address;
  std::string sql_gateway;
  /// Parallelism of the jobs. Default 1.
  int64_t parallelism = 1;
  /// Flink options passed through as `SET 'key' = 'value'`, in key order.
  std::map<std::string, std::string> table_config;
  /// Where Headwater and Flink exchange a job's entity rows and results (a directory both can
  /// read and write; on one machine, a local one). Default `data/flink-staging`.
  std::string staging_location = "data/flink-staging";
  bool flink() const { return type == "flink"; }
};

/// What an API token may do on the feature server.
enum Scope : uint32_t {
  kReadOnline = 1,    // POST /get-online-features
  kWriteOnline = 2,   // POST /write-to-online-store, /push to the online store
  kWriteOffline = 4,  // POST /push to the offline store; serve-offline's offline_write_batch
  kMaterialize = 8,   // POST /materialize, /materialize-incremental
  kReadOffline = 16,  // serve-offline: training data and pulls
};
/// Every scope with its name in feature_store.yaml, in this order.
inline constexpr std::pair<Scope, std::string_view> kScopeNames[] = {
    {kReadOnline, "read_online"},
    {kWriteOnline, "write_online"},
    {kWriteOffline, "write_offline"},
    {kMaterialize, "materialize"},
    {kReadOffline, "read_offline"}};
/// Any scope: what a valid token has at least one of.
inline constexpr uint32_t kAnyScope =
    kReadOnline | kWriteOnline | kWriteOffline | kMaterialize | kReadOffline;

/// One API token: stored only as the hex SHA-256 of the secret (`headwater hash-token`).
struct ApiToken {
  std::string name;
  std::string sha256;   // 64 lower-case hex digits
  uint32_t scopes = 0;  // Scope bits
};

/// The feature server's authentication (`auth:`). Without it the server is open, which the
/// server only allows quietly on a loopback address.
struct AuthConfig {
  bool enabled = false;
  std::vector<ApiToken> tokens;
};

/// A parsed feature_store.yaml.
struct RepoConfig {
  /// The repository root (the directory holding feature_store.yaml), absolute.
  std::filesystem::path repo_path;
  /// Project name, following registry::CheckName. Required.
  std::string project;
  /// Registry file, absolute (written relative to the repository). Default "data/registry.json".
  std::filesystem::path registry_path;
  /// Only "local".
  std::string provider = "local";
  OnlineStoreConfig online_store;
  OfflineStoreConfig offline_store;
  StreamConfig stream;
  StreamEngineConfig stream_engine;
  BatchEngineConfig batch_engine;
  AuthConfig auth;
  /// How far past now an event time may be (`max_event_time_skew`). Rows stamped later are
  /// refused on every write path (push, write-to-online-store, Kafka): one such row would
  /// otherwise win over every real write to its key until that time. Event times before
  /// 1900-01-01 are refused too. Default 1d.
  Duration max_event_time_skew{86'400'000'000};

  /// Feast's keys that change nothing here, one line each ("feature_store.yaml:9: 'flags' ...
  /// ignored"), as plan and apply print them.
  std::vector<std::string> ignored;

  /// Resolves a path written in the repository (relative to its root) to an absolute one.
  std::filesystem::path Resolve(const std::string& path) const;
};

/// Reads `repo_path/feature_store.yaml`. `${NAME}` in any value is replaced by the environment
/// variable NAME (an unset variable is an error). Unknown keys are errors naming the key.
Result<RepoConfig> LoadRepoConfig(const std::filesystem::path& repo_path);

/// The text of a feature_store.yaml, as LoadRepoConfig reads it, for the repository at
/// `repo_path` (taken as given).
Result<RepoConfig> ParseRepoConfig(const std::string& text, const std::filesystem::path& repo_path);

}  // namespace headwater::registry
