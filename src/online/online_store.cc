#include "headwater/online/online_store.h"

#include "redis_online_store.h"
#include "rocksdb_online_store.h"

namespace headwater::online {

Result<std::unique_ptr<OnlineStore>> OpenOnlineStore(const registry::RepoConfig& config,
                                                     OpenMode mode) {
  const auto& settings = config.online_store;
  if (settings.type == "redis") {
    ARROW_ASSIGN_OR_RAISE(auto store,
                          RedisOnlineStore::Open(settings.connection_string, config.project,
                                                 settings.key_ttl_seconds));
    return std::unique_ptr<OnlineStore>(std::move(store));
  }
  ARROW_ASSIGN_OR_RAISE(auto store,
                        RocksDbOnlineStore::Open(config.Resolve(settings.path).string(), mode));
  return std::unique_ptr<OnlineStore>(std::move(store));
}

}  // namespace headwater::online
