// apply, plan, registry-dump, teardown.

#include <iostream>

#include "commands.h"
#include "headwater/core/clock.h"
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
  std::error_code error;
  bool removed = std::filesystem::remove(config.registry_path, error);
  if (error) {
    return Status::IOError("cannot remove ", config.registry_path.string(), ": ", error.message());
  }
  std::cout << (removed ? "Removed registry " : "No registry at ") << config.registry_path.string()
            << "\n";
  return Status::OK();
}

}  // namespace headwater::cli
