#include "headwater/online/online_store.h"

#include "redis_online_store.h"
#include "rocksdb_online_store.h"
#include "sqlite_online_store.h"

namespace headwater::online {

std::string NewestEventTimeValue(const ByteRows& values) {
  std::string_view newest;
  for (size_t i = 0; i < values.size(); ++i) {
    std::string_view header = values[i].substr(0, 9);  // version byte + event time
    if (header > newest) newest = header;
  }
  return std::string(newest);
}

Result<std::optional<Timestamp>> NewestEventTime(OnlineStore& store, const std::string& view) {
  std::vector<std::string> values;
  std::vector<uint8_t> found;
  ARROW_RETURN_NOT_OK(store.Read({{view, kNewestEventTimeKey}}, &values, &found));
  if (!found[0] || values[0].size() != 9) return std::optional<Timestamp>();
  return std::optional<Timestamp>(Timestamp{ReadSortableInt64(values[0].data() + 1)});
}

Result<std::unique_ptr<OnlineStore>> OpenOnlineStore(const registry::RepoConfig& config,
                                                     OpenMode mode, bool cache_rows) {
  const auto& settings = config.online_store;
  if (settings.type == "redis") {
    ARROW_ASSIGN_OR_RAISE(auto store, RedisOnlineStore::Open(settings, config.project));
    return std::unique_ptr<OnlineStore>(std::move(store));
  }
  if (settings.type == "sqlite") {
    ARROW_ASSIGN_OR_RAISE(auto store,
                          SqliteOnlineStore::Open(config.Resolve(settings.path).string(), mode));
    return std::unique_ptr<OnlineStore>(std::move(store));
  }
  ARROW_ASSIGN_OR_RAISE(auto store, RocksDbOnlineStore::Open(config.Resolve(settings.path).string(),
                                                             mode, cache_rows, settings));
  return std::unique_ptr<OnlineStore>(std::move(store));
}

}  // namespace headwater::online
