#pragma once
// The online store at scale: Redis, one server or a Redis Cluster. Key = "<project>:<view>:" +
// encoded entity key; value = the encoded feature row. Writes go through a Lua script that keeps
// the greatest value, atomically per key, in batches pipelined per server; reads are MGETs.
//
// A single server is a cluster of one node that owns every slot: the same code path. In a
// cluster, each key goes to the master owning its hash slot (CRC16 of the key, Redis's hash-tag
// rule), a script call or MGET holds keys of one slot only, and a MOVED or ASK answer (the
// cluster resharded) reloads the slot map and retries the whole call once — writes are
// idempotent under the greatest-value rule.

#include <hiredis/hiredis.h>

#include <mutex>

#include "headwater/online/online_store.h"
#include "headwater/registry/repo_config.h"

namespace headwater::online {

class RedisOnlineStore final : public OnlineStore {
 public:
  /// Connects as `online_store` says: `connection_string` is Feast's "host:port[,host:port...]
  /// [,password=...][,username=...][,db=N][,ssl=false]"; `redis_type` "redis" uses the first
  /// address, "redis_cluster" discovers the cluster's masters from the first that answers.
  static Result<std::unique_ptr<RedisOnlineStore>> Open(const registry::OnlineStoreConfig& config,
                                                        const std::string& project);
  ~RedisOnlineStore() override;

  Status CreateViews(const std::vector<std::string>& views) override;
  Status DropViews(const std::vector<std::string>& views) override;
  Status Teardown() override;
  Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                            const ByteRows& values) override;
  Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override;
  Status Sync() override { return Status::OK(); }
  /// PING to every node (connecting again first after an error).
  Status Ping() override;
  Status Scan(const std::string& view,
              const std::function<void(std::string_view, std::string_view)>& visit) override;

 private:
  struct Node {
    std::string address;  // host:port
    redisContext* context = nullptr;
  };
  struct Settings {
    std::vector<std::pair<std::string, int>> addresses;
    std::string username, password;
    int64_t db = 0;
    bool cluster = false;
  };
  // Keys of one call: indices into the caller's keys, all on one node (and one slot in a
  // cluster).
  struct Group {
    size_t node;
    std::vector<size_t> indices;
  };

  RedisOnlineStore() = default;
  static Result<Settings> ParseSettings(const registry::OnlineStoreConfig& config);
  Status Connect();
  void Disconnect();
  Result<Node> ConnectNode(const std::string& host, int port);
  Status LoadSlots();
  std::vector<Group> Groups(const std::vector<std::string>& full_keys,
                            const std::vector<size_t>& which) const;
  std::string Prefix(std::string_view view) const;
  // Deletes every key matching the glob pattern, on every node.
  Status DeleteMatching(const std::string& pattern);
  Result<std::vector<std::string>> KeysMatching(const std::string& pattern);
  Status CheckReply(const Node& node, redisReply* reply, const char* what);
  Result<WriteResult> WriteOnce(const std::string& view, const ByteRows& keys,
                                const ByteRows& values);
  Status ReadOnce(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
                  std::vector<uint8_t>* found);
  // Runs `call`; when the cluster answered MOVED or ASK, reloads the slots and runs it again.
  template <typename Call>
  auto Retrying(Call call) -> decltype(call());

  Settings settings_;
  std::string project_;
  int64_t key_ttl_seconds_ = 0;
  std::string script_sha_;
  std::mutex mutex_;  // the connections, used by one thread at a time
  std::vector<Node> nodes_;
  std::vector<uint16_t> slot_node_;  // per hash slot, its node; empty for a single server
  bool moved_ = false;               // the last call met MOVED or ASK
};

}  // namespace headwater::online
