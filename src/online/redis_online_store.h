#pragma once
// The online store at scale: Redis. Key = "<project>:<view>:" + encoded entity key; value = the
// encoded feature row. Writes go through a Lua script that keeps the greatest value, atomically
// per key, in batches pipelined over one connection; reads are one MGET.

#include <hiredis/hiredis.h>

#include <mutex>

#include "headwater/online/online_store.h"

namespace headwater::online {

class RedisOnlineStore final : public OnlineStore {
 public:
  /// Connects to "host:port". `key_ttl_seconds` > 0 makes written keys expire.
  static Result<std::unique_ptr<RedisOnlineStore>> Open(const std::string& connection_string,
                                                        const std::string& project,
                                                        int64_t key_ttl_seconds);
  ~RedisOnlineStore() override;

  Status CreateViews(const std::vector<std::string>& views) override;
  Status DropViews(const std::vector<std::string>& views) override;
  Status Teardown() override;
  Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                            const ByteRows& values) override;
  Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override;
  Status Sync() override { return Status::OK(); }
  Status Scan(const std::string& view,
              const std::function<void(std::string_view, std::string_view)>& visit) override;

 private:
  RedisOnlineStore() = default;
  std::string Prefix(std::string_view view) const;
  // Deletes every key matching the glob pattern.
  Status DeleteMatching(const std::string& pattern);
  Status CheckReply(redisReply* reply, const char* what);

  std::string address_;
  std::string project_;
  int64_t key_ttl_seconds_ = 0;
  std::string script_sha_;
  std::mutex mutex_;  // one connection, used by one thread at a time
  redisContext* context_ = nullptr;
};

}  // namespace headwater::online
