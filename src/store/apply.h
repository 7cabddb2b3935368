#pragma once
// Apply and teardown, the registry-and-online-store changes behind FeatureStore::Apply and
// Teardown. Private to store.

#include <functional>
#include <string>

#include "headwater/core/clock.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/repo_config.h"
#include "headwater/store/feature_store.h"

namespace headwater::store {

/// Gives the online store opened for writing, or the error opening it.
using WritableStore = std::function<Result<online::OnlineStore*>()>;

/// FeatureStore::Apply's work, under the registry lock.
Result<ApplyOutcome> ApplyDefinitions(const registry::RepoConfig& config,
                                      registry::Definitions next, const ApplyOptions& options,
                                      const Clock& clock, const WritableStore& writable);

/// FeatureStore::Teardown's work: the online store's data, then the registry and its lock.
Result<std::string> RemoveRepositoryState(const registry::RepoConfig& config,
                                          online::OnlineStore* store);

}  // namespace headwater::store
