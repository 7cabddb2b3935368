// apply, plan, registry-dump, teardown.

#include <iostream>

#include "commands.h"
#include "headwater/core/clock.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"

namespace headwater::cli {
namespace {

struct PlannedApply {
  registry::RepoConfig config;
  registry::Registry current;
  registry::Definitions next;
  std::vector<registry::Change> changes;
};

Result<PlannedApply> Plan(const GlobalOptions& global) {
  PlannedApply plan;
  ARROW_ASSIGN_OR_RAISE(plan.config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(plan.next, registry::LoadDefinitions(plan.config));
  ARROW_ASSIGN_OR_RAISE(plan.current,
                        registry::ReadRegistry(plan.config.registry_path, plan.config.project));
  plan.changes = registry::Diff(plan.current.definitions, plan.next);
  return plan;
}

void PrintSummary(const std::vector<registry::Change>& changes, const char* verb) {
  int add = 0, update = 0, remove = 0;
  for (const auto& change : changes) {
    switch (change.kind) {
      case registry::Change::Kind::kAdd:
        ++add;
        break;
      case registry::Change::Kind::kUpdate:
        ++update;
        break;
      case registry::Change::Kind::kDelete:
        ++remove;
        break;
    }
  }
  std::cout << registry::FormatChanges(changes);
  std::cout << verb << ": " << add << " to add, " << update << " to change, " << remove
            << " to delete.\n";
}

// Brings the online store in line with the next definitions: room for every online view, and
// the values of views that are gone, no longer online, or whose features changed (stored values
// follow the feature list) dropped, with their materialization markers.
Status UpdateOnlineStore(const registry::RepoConfig& config, const registry::Registry& current,
                         registry::Registry* next) {
  std::vector<std::string> create, drop;
  for (const auto& view : next->definitions.feature_views) {
    if (view.online) create.push_back(view.name);
  }
  for (const auto& old : current.definitions.feature_views) {
    const registry::FeatureView* now = next->definitions.FindFeatureView(old.name);
    if (now == nullptr || !now->online || now->features != old.features) {
      if (old.online) drop.push_back(old.name);
    }
  }
  auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite);
  if (!store.ok() && store.status().message().find("/LOCK") != std::string::npos) {
    // A running `headwater serve` owns the embedded store; it applies these changes itself when
    // it picks up the new registry.
    std::cout << "online store: held by a running server, which will apply the changes\n";
  } else {
    ARROW_RETURN_NOT_OK(store.status());
    ARROW_RETURN_NOT_OK((*store)->DropViews(drop));
    ARROW_RETURN_NOT_OK((*store)->CreateViews(create));
  }
  for (const std::string& name : drop) {
    next->materializations.erase(name);
    if (next->definitions.FindFeatureView(name) != nullptr) {
      std::cout << "online store: dropped the values of " << name
                << " (its features changed or it is no longer online); materialize it again\n";
    }
  }
  return Status::OK();
}

}  // namespace

Status RunPlan(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto plan, Plan(global));
  if (plan.changes.empty()) {
    std::cout << "No changes: the registry matches the definitions.\n";
    return Status::OK();
  }
  PrintSummary(plan.changes, "Plan");
  return Status::OK();
}

Status RunApply(const GlobalOptions& global) {
  // Locked before reading, so a concurrent materialization's marker is not lost.
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto lock, registry::RegistryLock::Acquire(config.registry_path));
  ARROW_ASSIGN_OR_RAISE(auto plan, Plan(global));
  if (plan.changes.empty()) {
    std::cout << "No changes: registry version " << plan.current.version << " is up to date.\n";
    return Status::OK();
  }
  registry::Registry next = plan.current;
  next.project = plan.config.project;
  next.version = plan.current.version + 1;
  next.last_updated = SystemClock::Instance().Now();
  next.definitions = std::move(plan.next);
  ARROW_RETURN_NOT_OK(UpdateOnlineStore(plan.config, plan.current, &next));
  ARROW_RETURN_NOT_OK(registry::WriteRegistry(plan.config.registry_path, next));
  PrintSummary(plan.changes, "Applied");
  std::cout << "Registry version " << next.version << " written to "
            << plan.config.registry_path.string() << "\n";
  return Status::OK();
}

Status RunRegistryDump(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto current, registry::ReadRegistry(config.registry_path, config.project));
  std::cout << registry::RegistryToJson(current);
  return Status::OK();
}

Status RunTeardown(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  {
    ARROW_ASSIGN_OR_RAISE(auto store,
                          online::OpenOnlineStore(config, online::OpenMode::kReadWrite));
    ARROW_RETURN_NOT_OK(store->Teardown());
    std::cout << "Removed the online store (" << config.online_store.type << ")\n";
  }
  std::error_code error;
  std::filesystem::remove(config.registry_path.string() + ".lock", error);
  bool removed = std::filesystem::remove(config.registry_path, error);
  if (error) {
    return Status::IOError("cannot remove ", config.registry_path.string(), ": ", error.message());
  }
  std::cout << (removed ? "Removed registry " : "No registry at ") << config.registry_path.string()
            << "\n";
  return Status::OK();
}

}  // namespace headwater::cli
