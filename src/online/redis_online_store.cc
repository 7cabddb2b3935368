#include "redis_online_store.h"

#include <charconv>
#include <memory>

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

}  // namespace

Result<std::unique_ptr<RedisOnlineStore>> RedisOnlineStore::Open(
    const std::string& connection_string, const std::string& project, int64_t key_ttl_seconds) {
  std::string address = connection_string;
  if (address.starts_with("redis://")) address = address.substr(8);
  size_t colon = address.rfind(':');
  int port = 6379;
  std::string host = address;
  if (colon != std::string::npos) {
    host = address.substr(0, colon);
    auto [end, ec] =
        std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
    if (ec != std::errc() || end != address.data() + address.size() || port <= 0 || port > 65535) {
      return Status::Invalid("online_store.connection_string '", connection_string,
                             "' is not host:port");
    }
  }
  std::unique_ptr<RedisOnlineStore> store(new RedisOnlineStore());
  store->address_ = host + ":" + std::to_string(port);
  store->project_ = project;
  store->key_ttl_seconds_ = key_ttl_seconds;
  timeval timeout{5, 0};
  store->context_ = redisConnectWithTimeout(host.c_str(), port, timeout);
  if (store->context_ == nullptr || store->context_->err) {
    return Status::IOError("cannot connect to Redis at ", store->address_, ": ",
                           store->context_ ? store->context_->errstr : "out of memory");
  }
  (void)redisSetTimeout(store->context_, timeout);
  Reply reply(
      static_cast<redisReply*>(redisCommand(store->context_, "SCRIPT LOAD %s", kWriteScript)));
  ARROW_RETURN_NOT_OK(store->CheckReply(reply.get(), "load the write script"));
  store->script_sha_.assign(reply->str, reply->len);
  return store;
}

RedisOnlineStore::~RedisOnlineStore() {
  if (context_ != nullptr) redisFree(context_);
}

Status RedisOnlineStore::CheckReply(redisReply* reply, const char* what) {
  if (reply == nullptr) {
    return Status::IOError("Redis at ", address_, " failed to ", what, ": ", context_->errstr);
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    return Status::IOError("Redis at ", address_, " failed to ", what, ": ",
                           std::string(reply->str, reply->len));
  }
  return Status::OK();
}

std::string RedisOnlineStore::Prefix(std::string_view view) const {
  return project_ + ":" + std::string(view) + ":";
}

Status RedisOnlineStore::CreateViews(const std::vector<std::string>&) { return Status::OK(); }

Status RedisOnlineStore::DeleteMatching(const std::string& pattern) {
  std::lock_guard lock(mutex_);
  std::string cursor = "0";
  do {
    Reply reply(static_cast<redisReply*>(redisCommand(
        context_, "SCAN %s MATCH %b COUNT 1000", cursor.c_str(), pattern.data(), pattern.size())));
    ARROW_RETURN_NOT_OK(CheckReply(reply.get(), "scan keys"));
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    redisReply* keys = reply->element[1];
    if (keys->elements == 0) continue;
    std::vector<const char*> argv{"UNLINK"};
    std::vector<size_t> lengths{6};
    for (size_t i = 0; i < keys->elements; ++i) {
      argv.push_back(keys->element[i]->str);
      lengths.push_back(keys->element[i]->len);
    }
    Reply unlinked(static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    ARROW_RETURN_NOT_OK(CheckReply(unlinked.get(), "delete keys"));
  } while (cursor != "0");
  return Status::OK();
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
  const std::string prefix = Prefix(view);
  const std::string ttl = std::to_string(key_ttl_seconds_);
  std::lock_guard lock(mutex_);
  WriteResult result;
  size_t pending = 0;
  // Replies come back in order; the first one may be the freshness key's, not counted.
  bool uncounted_reply = false;
  auto read_reply = [&]() -> Status {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK) return CheckReply(nullptr, "write");
    Reply reply(static_cast<redisReply*>(raw));
    ARROW_RETURN_NOT_OK(CheckReply(reply.get(), "write"));
    if (uncounted_reply) {
      uncounted_reply = false;
    } else {
      result.written += reply->integer;
    }
    --pending;
    return Status::OK();
  };
  const std::string newest = NewestEventTimeValue(values);
  if (!newest.empty()) {
    const std::string meta_key = prefix + std::string(kNewestEventTimeKey);
    const char* argv[] = {"EVALSHA",       script_sha_.c_str(), "1",
                          meta_key.data(), ttl.c_str(),         newest.data()};
    const size_t lengths[] = {7, script_sha_.size(), 1, meta_key.size(), ttl.size(), newest.size()};
    if (redisAppendCommandArgv(context_, 6, argv, lengths) != REDIS_OK) {
      return CheckReply(nullptr, "write");
    }
    ++pending;
    uncounted_reply = true;
  }
  std::vector<std::string> full_keys;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (size_t start = 0; start < keys.size(); start += kKeysPerCall) {
    const size_t end = std::min(keys.size(), start + kKeysPerCall);
    const std::string count = std::to_string(end - start);
    full_keys.clear();
    for (size_t i = start; i < end; ++i) full_keys.push_back(prefix + std::string(keys[i]));
    argv = {"EVALSHA", script_sha_.c_str(), count.c_str()};
    lengths = {7, script_sha_.size(), count.size()};
    for (const std::string& key : full_keys) {
      argv.push_back(key.data());
      lengths.push_back(key.size());
    }
    argv.push_back(ttl.c_str());
    lengths.push_back(ttl.size());
    for (size_t i = start; i < end; ++i) {
      argv.push_back(values[i].data());
      lengths.push_back(values[i].size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      return CheckReply(nullptr, "write");
    }
    if (++pending >= kCallsInFlight) ARROW_RETURN_NOT_OK(read_reply());
  }
  while (pending > 0) ARROW_RETURN_NOT_OK(read_reply());
  result.skipped_older = static_cast<int64_t>(keys.size()) - result.written;
  return result;
}

Status RedisOnlineStore::Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
                              std::vector<uint8_t>* found) {
  values->assign(keys.size(), std::string());
  found->assign(keys.size(), 0);
  std::vector<std::string> full_keys;
  std::vector<size_t> positions;  // which of `keys` each full key reads: null entities are skipped
  full_keys.reserve(keys.size());
  positions.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].key.empty()) continue;
    full_keys.push_back(Prefix(keys[i].view) + std::string(keys[i].key));
    positions.push_back(i);
  }
  if (full_keys.empty()) return Status::OK();
  std::vector<const char*> argv{"MGET"};
  std::vector<size_t> lengths{4};
  for (const std::string& key : full_keys) {
    argv.push_back(key.data());
    lengths.push_back(key.size());
  }
  std::lock_guard lock(mutex_);
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  ARROW_RETURN_NOT_OK(CheckReply(reply.get(), "read"));
  for (size_t k = 0; k < positions.size() && k < reply->elements; ++k) {
    redisReply* element = reply->element[k];
    if (element->type != REDIS_REPLY_STRING) continue;
    (*values)[positions[k]].assign(element->str, element->len);
    (*found)[positions[k]] = 1;
  }
  return Status::OK();
}

Status RedisOnlineStore::Scan(
    const std::string& view, const std::function<void(std::string_view, std::string_view)>& visit) {
  const std::string prefix = Prefix(view);
  const std::string pattern = GlobEscape(prefix) + "*";
  std::vector<std::string> all_keys;
  {
    std::lock_guard lock(mutex_);
    std::string cursor = "0";
    do {
      Reply reply(
          static_cast<redisReply*>(redisCommand(context_, "SCAN %s MATCH %b COUNT 1000",
                                                cursor.c_str(), pattern.data(), pattern.size())));
      ARROW_RETURN_NOT_OK(CheckReply(reply.get(), "scan keys"));
      cursor.assign(reply->element[0]->str, reply->element[0]->len);
      for (size_t i = 0; i < reply->element[1]->elements; ++i) {
        all_keys.emplace_back(reply->element[1]->element[i]->str,
                              reply->element[1]->element[i]->len);
      }
    } while (cursor != "0");
  }
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
