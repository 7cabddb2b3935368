#include "redis_online_store.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <memory>
#include <unordered_map>
#include <utility>

namespace headwater::online {
namespace {

// Keeps the greatest value per key, comparing bytes explicitly: Lua's string '<' uses strcoll,
// and Redis sets LC_COLLATE from its environment. ARGV[1] is the key TTL in seconds (0: none);
// ARGV[i + 1] is the value for KEYS[i]. Returns how many keys it set.
constexpr const char* kWriteScript = R"lua(
local function greater(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local ttl = tonumber(ARGV[1])
local written = 0
for i = 1, #KEYS do
  local value = ARGV[i + 1]
  local old = redis.call('GET', KEYS[i])
  if (not old) or greater(value, old) then
    if ttl > 0 then redis.call('SET', KEYS[i], value, 'EX', ttl)
    else redis.call('SET', KEYS[i], value) end
    written = written + 1
  end
end
return written
)lua";

// Keys per EVALSHA call and calls in flight before reading replies.
constexpr size_t kKeysPerCall = 512;
constexpr size_t kCallsInFlight = 16;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Escapes glob characters so a name matches itself in SCAN MATCH.
std::string GlobEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Redis Cluster's hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag — the bytes
// between the first '{' and the next '}', when there are any — modulo 16384.
uint16_t HashSlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  uint16_t crc = 0;
  for (unsigned char byte : key) {
    crc ^= static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc & 16383;
}

Result<std::pair<std::string, int>> ParseAddress(std::string_view text,
                                                 const std::string& connection_string) {
  if (text.starts_with("redis://")) text.remove_prefix(8);
  std::string host(text);
  int port = 6379;
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos) {
    host = std::string(text.substr(0, colon));
    auto [end, ec] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port <= 0 || port > 65535) {
      return Status::Invalid("online_store.connection_string '", connection_string, "': '", text,
                             "' is not host:port");
    }
  }
  if (host.empty()) {
    return Status::Invalid("online_store.connection_string '", connection_string,
                           "' names no host");
  }
  return std::make_pair(host, port);
}

}  // namespace

Result<RedisOnlineStore::Settings> RedisOnlineStore::ParseSettings(
    const registry::OnlineStoreConfig& config) {
  const std::string& text = config.connection_string;
  Settings settings;
  settings.cluster = config.redis_type == "redis_cluster";
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    std::string_view item(text.data() + begin, end - begin);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    begin = end + 1;
    if (item.empty()) continue;
    const size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      ARROW_ASSIGN_OR_RAISE(auto address, ParseAddress(item, text));
      settings.addresses.push_back(std::move(address));
      continue;
    }
    const std::string_view key = item.substr(0, equals), value = item.substr(equals + 1);
    if (key == "password") {
      settings.password = std::string(value);
    } else if (key == "username") {
      settings.username = std::string(value);
    } else if (key == "db") {
      auto [at, ec] = std::from_chars(value.data(), value.data() + value.size(), settings.db);
      if (ec != std::errc() || at != value.data() + value.size() || settings.db < 0) {
        return Status::Invalid("online_store.connection_string: db must be a number, not '", value,
                               "'");
      }
    } else if (key == "ssl") {
      if (value == "true" || value == "True" || value == "1") {
        return Status::Invalid(
            "online_store.connection_string: ssl=true is not supported: the hiredis library "
            "this build uses (Debian's 0.14) has no TLS; reach Redis over a TLS tunnel");
      }
    } else {
      return Status::Invalid("online_store.connection_string: unknown option '", key,
                             "' (known: password, username, db, ssl)");
    }
  }
  if (settings.addresses.empty()) {
    return Status::Invalid("online_store.connection_string '", text, "' names no host:port");
  }
  if (settings.cluster && settings.db != 0) {
    return Status::Invalid("online_store.connection_string: a Redis Cluster has only db 0");
  }
  return settings;
}

Result<std::unique_ptr<RedisOnlineStore>> RedisOnlineStore::Open(
    const registry::OnlineStoreConfig& config, const std::string& project) {
  std::unique_ptr<RedisOnlineStore> store(new RedisOnlineStore());
  ARROW_ASSIGN_OR_RAISE(store->settings_, ParseSettings(config));
  store->project_ = project;
  store->key_ttl_seconds_ = config.key_ttl_seconds;
  ARROW_ASSIGN_OR_RAISE(auto connection, store->Connect());
  store->idle_.push_back(std::move(connection));
  return store;
}

RedisOnlineStore::~RedisOnlineStore() = default;

RedisOnlineStore::Connection::~Connection() {
  for (Node& node : nodes) {
    if (node.context != nullptr) redisFree(node.context);
  }
}

Result<RedisOnlineStore::Node> RedisOnlineStore::ConnectNode(const std::string& host, int port) {
  Node node;
  node.address = host + ":" + std::to_string(port);
  timeval timeout{5, 0};
  node.context = redisConnectWithTimeout(host.c_str(), port, timeout);
  auto fail = [&](const std::string& what) {
    Status status = Unavailable("cannot ", what, " Redis at ", node.address, ": ",
                                node.context ? node.context->errstr : "out of memory");
    if (node.context != nullptr) redisFree(node.context);
    return status;
  };
  if (node.context == nullptr || node.context->err) return fail("connect to");
  (void)redisSetTimeout(node.context, timeout);
  auto command = [&](std::vector<std::string> argv, const char* what) -> Result<Reply> {
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    for (const auto& arg : argv) {
      args.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    Reply reply(static_cast<redisReply*>(redisCommandArgv(
        node.context, static_cast<int>(args.size()), args.data(), lengths.data())));
    Status status = CheckReply(node, reply.get(), what);
    if (!status.ok()) {
      redisFree(node.context);
      return status;
    }
    return reply;
  };
  if (!settings_.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!settings_.username.empty()) auth.push_back(settings_.username);
    auth.push_back(settings_.password);
    ARROW_RETURN_NOT_OK(command(auth, "authenticate to").status());
  }
  if (settings_.db != 0) {
    ARROW_RETURN_NOT_OK(command({"SELECT", std::to_string(settings_.db)}, "select db on").status());
  }
  ARROW_ASSIGN_OR_RAISE(auto loaded,
                        command({"SCRIPT", "LOAD", kWriteScript}, "load the write script on"));
  // The same script gives the same SHA everywhere; set once, before the store is shared.
  if (script_sha_.empty()) script_sha_.assign(loaded->str, loaded->len);
  return node;
}

Result<std::unique_ptr<RedisOnlineStore::Connection>> RedisOnlineStore::Connect() {
  auto connection = std::make_unique<Connection>();
  if (!settings_.cluster) {
    const auto& [host, port] = settings_.addresses[0];
    ARROW_ASSIGN_OR_RAISE(Node node, ConnectNode(host, port));
    connection->nodes.push_back(node);
    return connection;
  }
  // A cluster: the slot map from the first startup node that answers, then every master.
  Status last;
  for (const auto& [host, port] : settings_.addresses) {
    auto seed = ConnectNode(host, port);
    if (!seed.ok()) {
      last = seed.status();
      continue;
    }
    connection = std::make_unique<Connection>();
    connection->nodes.push_back(*seed);
    last = LoadSlots(*connection);
    if (last.ok()) return connection;
  }
  return last;
}

Status RedisOnlineStore::LoadSlots(Connection& connection) {
  const Node seed = connection.nodes[0];
  Reply reply(static_cast<redisReply*>(redisCommand(seed.context, "CLUSTER SLOTS")));
  ARROW_RETURN_NOT_OK(CheckReply(seed, reply.get(), "read the cluster's slots from"));
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    return Status::IOError("Redis at ", seed.address,
                           " is not a cluster (redis_type: redis_cluster)");
  }
  std::vector<std::pair<std::string, int>> masters;
  std::vector<int> owner(16384, -1);
  for (size_t r = 0; r < reply->elements; ++r) {
    const redisReply* range = reply->element[r];
    if (range->elements < 3 || range->element[2]->elements < 2) continue;
    const redisReply* master = range->element[2];
    std::pair<std::string, int> address{
        std::string(master->element[0]->str, master->element[0]->len),
        static_cast<int>(master->element[1]->integer)};
    auto found = std::find(masters.begin(), masters.end(), address);
    const int index = static_cast<int>(found - masters.begin());
    if (found == masters.end()) masters.push_back(address);
    for (long long slot = range->element[0]->integer; slot <= range->element[1]->integer; ++slot) {
      if (slot >= 0 && slot < 16384) owner[static_cast<size_t>(slot)] = index;
    }
  }
  if (std::find(owner.begin(), owner.end(), -1) != owner.end()) {
    return Status::IOError("the Redis Cluster at ", seed.address,
                           " does not serve every hash slot (cluster_state is not ok)");
  }
  Connection masters_only;
  for (const auto& [host, port] : masters) {
    ARROW_ASSIGN_OR_RAISE(Node node, ConnectNode(host, port));
    masters_only.nodes.push_back(node);
  }
  std::swap(connection.nodes, masters_only.nodes);  // the seed's context is freed with it
  connection.slot_node.assign(owner.begin(), owner.end());
  return Status::OK();
}

Status RedisOnlineStore::CheckReply(const Node& node, redisReply* reply, const char* what,
                                    Connection* connection) {
  if (reply == nullptr) {  // the connection failed: Redis is down, or the network
    return Unavailable("Redis at ", node.address, " failed to ", what, ": ",
                       node.context != nullptr ? node.context->errstr : "no connection");
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string_view error(reply->str, reply->len);
    if (connection != nullptr && (error.starts_with("MOVED ") || error.starts_with("ASK "))) {
      connection->moved = true;
    }
    return Status::IOError("Redis at ", node.address, " failed to ", what, ": ", error);
  }
  return Status::OK();
}

std::string RedisOnlineStore::Prefix(std::string_view view) const {
  return project_ + ":" + std::string(view) + ":";
}

std::vector<RedisOnlineStore::Group> RedisOnlineStore::Groups(
    const Connection& connection, const std::vector<std::string>& full_keys,
    const std::vector<size_t>& which) {
  if (connection.slot_node.empty()) return {Group{0, which}};
  std::vector<Group> groups;
  std::unordered_map<uint16_t, size_t> by_slot;
  for (size_t i : which) {
    const uint16_t slot = HashSlot(full_keys[i]);
    auto [at, added] = by_slot.emplace(slot, groups.size());
    if (added) groups.push_back(Group{connection.slot_node[slot], {}});
    groups[at->second].indices.push_back(i);
  }
  return groups;
}

template <typename Call>
auto RedisOnlineStore::WithConnection(Call call) -> decltype(call(std::declval<Connection&>())) {
  std::unique_ptr<Connection> connection;
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (connection == nullptr) {
    ARROW_ASSIGN_OR_RAISE(connection, Connect());
  }
  auto result = call(*connection);
  if (!result.ok()) {
    // A failed pipeline leaves replies unread: never reuse its connection. The idle ones
    // likely broke too (a restarted Redis): the next calls connect afresh.
    const bool moved = connection->moved;
    connection.reset();
    {
      std::lock_guard lock(pool_mutex_);
      idle_.clear();
    }
    if (!moved) return result;
    ARROW_ASSIGN_OR_RAISE(connection, Connect());  // the cluster resharded: its new slot map
    result = call(*connection);
    if (!result.ok()) return result;
  }
  std::lock_guard lock(pool_mutex_);
  idle_.push_back(std::move(connection));
  return result;
}

Status RedisOnlineStore::CreateViews(const std::vector<std::string>&) { return Status::OK(); }

Status RedisOnlineStore::Ping() {
  return WithConnection([&](Connection& connection) -> Status {
    for (const Node& node : connection.nodes) {
      Reply reply(static_cast<redisReply*>(redisCommand(node.context, "PING")));
      ARROW_RETURN_NOT_OK(CheckReply(node, reply.get(), "answer PING", &connection));
    }
    return Status::OK();
  });
}

Result<std::vector<std::string>> RedisOnlineStore::KeysMatching(Connection& connection,
                                                                const std::string& pattern) {
  std::vector<std::string> keys;
  for (const Node& node : connection.nodes) {
    std::string cursor = "0";
    do {
      Reply reply(
          static_cast<redisReply*>(redisCommand(node.context, "SCAN %s MATCH %b COUNT 1000",
                                                cursor.c_str(), pattern.data(), pattern.size())));
      ARROW_RETURN_NOT_OK(CheckReply(node, reply.get(), "scan keys", &connection));
      cursor.assign(reply->element[0]->str, reply->element[0]->len);
      for (size_t i = 0; i < reply->element[1]->elements; ++i) {
        keys.emplace_back(reply->element[1]->element[i]->str, reply->element[1]->element[i]->len);
      }
    } while (cursor != "0");
  }
  return keys;
}

Status RedisOnlineStore::DeleteMatching(const std::string& pattern) {
  return WithConnection([&](Connection& connection) -> Status {
    ARROW_ASSIGN_OR_RAISE(auto keys, KeysMatching(connection, pattern));
    std::vector<size_t> all(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) all[i] = i;
    for (const Group& group : Groups(connection, keys, all)) {
      const Node& node = connection.nodes[group.node];
      for (size_t start = 0; start < group.indices.size(); start += kKeysPerCall) {
        std::vector<const char*> argv{"UNLINK"};
        std::vector<size_t> lengths{6};
        for (size_t k = start; k < std::min(group.indices.size(), start + kKeysPerCall); ++k) {
          argv.push_back(keys[group.indices[k]].data());
          lengths.push_back(keys[group.indices[k]].size());
        }
        Reply unlinked(static_cast<redisReply*>(redisCommandArgv(
            node.context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
        ARROW_RETURN_NOT_OK(CheckReply(node, unlinked.get(), "delete keys", &connection));
      }
    }
    return Status::OK();
  });
}

Status RedisOnlineStore::DropViews(const std::vector<std::string>& views) {
  for (const std::string& view : views) {
    ARROW_RETURN_NOT_OK(DeleteMatching(GlobEscape(Prefix(view)) + "*"));
  }
  return Status::OK();
}

Status RedisOnlineStore::Teardown() { return DeleteMatching(GlobEscape(project_ + ":") + "*"); }

Result<WriteResult> RedisOnlineStore::Write(const std::string& view, const ByteRows& keys,
                                            const ByteRows& values) {
  return WithConnection(
      [&](Connection& connection) { return WriteOnce(connection, view, keys, values); });
}

Result<WriteResult> RedisOnlineStore::WriteOnce(Connection& connection, const std::string& view,
                                                const ByteRows& keys, const ByteRows& values) {
  const std::vector<Node>& nodes = connection.nodes;
  const std::string prefix = Prefix(view);
  const std::string ttl = std::to_string(key_ttl_seconds_);
  // All the keys, the freshness key last (its reply is not counted as a written row).
  std::vector<std::string> full_keys;
  std::vector<std::string_view> full_values;
  full_keys.reserve(keys.size() + 1);
  for (size_t i = 0; i < keys.size(); ++i) {
    full_keys.push_back(prefix + std::string(keys[i]));
    full_values.push_back(values[i]);
  }
  const std::string newest = NewestEventTimeValue(values);
  if (!newest.empty()) {
    full_keys.push_back(prefix + std::string(kNewestEventTimeKey));
    full_values.push_back(newest);
  }
  std::vector<size_t> rows(keys.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
  std::vector<Group> groups = Groups(connection, full_keys, rows);
  if (!newest.empty()) {
    std::vector<Group> meta = Groups(connection, full_keys, {keys.size()});
    groups.push_back(Group{meta[0].node, {keys.size()}});
  }
  WriteResult result;
  // Per node, the replies still to read, in order: whether each counts written rows.
  std::vector<std::deque<bool>> pending(nodes.size());
  auto read_reply = [&](size_t n) -> Status {
    void* raw = nullptr;
    if (redisGetReply(nodes[n].context, &raw) != REDIS_OK) {
      return CheckReply(nodes[n], nullptr, "write");
    }
    Reply reply(static_cast<redisReply*>(raw));
    ARROW_RETURN_NOT_OK(CheckReply(nodes[n], reply.get(), "write", &connection));
    if (pending[n].front()) result.written += reply->integer;
    pending[n].pop_front();
    return Status::OK();
  };
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const Group& group : groups) {
    const Node& node = nodes[group.node];
    for (size_t start = 0; start < group.indices.size(); start += kKeysPerCall) {
      const size_t end = std::min(group.indices.size(), start + kKeysPerCall);
      const std::string count = std::to_string(end - start);
      argv = {"EVALSHA", script_sha_.c_str(), count.c_str()};
      lengths = {7, script_sha_.size(), count.size()};
      for (size_t k = start; k < end; ++k) {
        argv.push_back(full_keys[group.indices[k]].data());
        lengths.push_back(full_keys[group.indices[k]].size());
      }
      argv.push_back(ttl.c_str());
      lengths.push_back(ttl.size());
      for (size_t k = start; k < end; ++k) {
        argv.push_back(full_values[group.indices[k]].data());
        lengths.push_back(full_values[group.indices[k]].size());
      }
      if (redisAppendCommandArgv(node.context, static_cast<int>(argv.size()), argv.data(),
                                 lengths.data()) != REDIS_OK) {
        return CheckReply(node, nullptr, "write");
      }
      pending[group.node].push_back(group.indices[0] < keys.size());
      if (pending[group.node].size() >= kCallsInFlight) {
        ARROW_RETURN_NOT_OK(read_reply(group.node));
      }
    }
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    while (!pending[n].empty()) ARROW_RETURN_NOT_OK(read_reply(n));
  }
  result.skipped_older = static_cast<int64_t>(keys.size()) - result.written;
  return result;
}

Status RedisOnlineStore::Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
                              std::vector<uint8_t>* found) {
  return WithConnection(
      [&](Connection& connection) { return ReadOnce(connection, keys, values, found); });
}

Status RedisOnlineStore::ReadOnce(Connection& connection, const std::vector<ReadKey>& keys,
                                  std::vector<std::string>* values, std::vector<uint8_t>* found) {
  const std::vector<Node>& nodes = connection.nodes;
  values->assign(keys.size(), std::string());
  found->assign(keys.size(), 0);
  std::vector<std::string> full_keys(keys.size());
  std::vector<size_t> wanted;  // null entities (empty keys) are never looked up
  wanted.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].key.empty()) continue;
    full_keys[i] = Prefix(keys[i].view) + std::string(keys[i].key);
    wanted.push_back(i);
  }
  if (wanted.empty()) return Status::OK();
  const std::vector<Group> groups = Groups(connection, full_keys, wanted);
  // One MGET per group, pipelined: every request first, then the replies, group by group.
  for (const Group& group : groups) {
    std::vector<const char*> argv{"MGET"};
    std::vector<size_t> lengths{4};
    for (size_t i : group.indices) {
      argv.push_back(full_keys[i].data());
      lengths.push_back(full_keys[i].size());
    }
    if (redisAppendCommandArgv(nodes[group.node].context, static_cast<int>(argv.size()),
                               argv.data(), lengths.data()) != REDIS_OK) {
      return CheckReply(nodes[group.node], nullptr, "read");
    }
  }
  for (const Group& group : groups) {
    void* raw = nullptr;
    if (redisGetReply(nodes[group.node].context, &raw) != REDIS_OK) {
      return CheckReply(nodes[group.node], nullptr, "read");
    }
    Reply reply(static_cast<redisReply*>(raw));
    ARROW_RETURN_NOT_OK(CheckReply(nodes[group.node], reply.get(), "read", &connection));
    for (size_t k = 0; k < group.indices.size() && k < reply->elements; ++k) {
      redisReply* element = reply->element[k];
      if (element->type != REDIS_REPLY_STRING) continue;
      (*values)[group.indices[k]].assign(element->str, element->len);
      (*found)[group.indices[k]] = 1;
    }
  }
  return Status::OK();
}

Status RedisOnlineStore::Scan(
    const std::string& view, const std::function<void(std::string_view, std::string_view)>& visit) {
  const std::string prefix = Prefix(view);
  ARROW_ASSIGN_OR_RAISE(std::vector<std::string> all_keys,
                        WithConnection([&](Connection& connection) {
                          return KeysMatching(connection, GlobEscape(prefix) + "*");
                        }));
  std::sort(all_keys.begin(), all_keys.end());
  std::vector<ReadKey> reads;
  for (const std::string& key : all_keys) {
    std::string_view entity_key = std::string_view(key).substr(prefix.size());
    if (!entity_key.empty() && entity_key[0] == '\0') continue;  // the freshness key
    reads.push_back({view, entity_key});
  }
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  ARROW_RETURN_NOT_OK(Read(reads, &values, &found));
  for (size_t i = 0; i < reads.size(); ++i) {
    if (found[i]) visit(reads[i].key, values[i]);
  }
  return Status::OK();
}

}  // namespace headwater::online
