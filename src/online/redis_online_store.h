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
//
// Calls run on pooled connections, one thread per connection at a time, so the server's
// workers wait on Redis side by side (one shared connection held 100-entity reads to 4k/s with
// most of the machine idle). A call that fails drops its connection and the idle ones (Redis
// may have restarted); the next call connects again.

#include <hiredis/hiredis.h>

#include <memory>
#include <mutex>
#include <vector>

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
  // One context per node and the cluster's slot map; used by one thread at a time.
  struct Connection {
    std::vector<Node> nodes;
    std::vector<uint16_t> slot_node;  // per hash slot, its node; empty for a single server
    bool moved = false;               // the last call met MOVED or ASK
    ~Connection();
  };
  // Keys of one call: indices into the caller's keys, all on one node (and one slot in a
  // cluster).
  struct Group {
    size_t node;
    std::vector<size_t> indices;
  };

  RedisOnlineStore() = default;
  static Result<Settings> ParseSettings(const registry::OnlineStoreConfig& config);
  Result<std::unique_ptr<Connection>> Connect();
  Result<Node> ConnectNode(const std::string& host, int port);
  Status LoadSlots(Connection& connection);
  static std::vector<Group> Groups(const Connection& connection,
                                   const std::vector<std::string>& full_keys,
                                   const std::vector<size_t>& which);
  std::string Prefix(std::string_view view) const;
  // Deletes every key matching the glob pattern, on every node.
  Status DeleteMatching(const std::string& pattern);
  static Result<std::vector<std::string>> KeysMatching(Connection& connection,
                                                       const std::string& pattern);
  // An error for a failed reply (nullptr: the connection failed); notes MOVED and ASK on
  // `connection` when given.
  static Status CheckReply(const Node& node, redisReply* reply, const char* what,
                           Connection* connection = nullptr);
  Result<WriteResult> WriteOnce(Connection& connection, const std::string& view,
                                const ByteRows& keys, const ByteRows& values);
  Status ReadOnce(Connection& connection, const std::vector<ReadKey>& keys,
                  std::vector<std::string>* values, std::vector<uint8_t>* found);
  // Runs `call` on an idle connection (or a new one); when the cluster answered MOVED or ASK,
  // on a new connection with the new slot map, once more.
  template <typename Call>
  auto WithConnection(Call call) -> decltype(call(std::declval<Connection&>()));

  Settings settings_;
  std::string project_;
  int64_t key_ttl_seconds_ = 0;
  std::string script_sha_;  // set by the first connection, in Open; read-only after
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace headwater::online
