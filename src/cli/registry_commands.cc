// apply, plan, registry-dump, teardown.

#include <iostream>

#include "commands.h"
#include "headwater/cli/apply.h"
#include "headwater/core/clock.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"

namespace headwater::cli {
namespace {

Status RunApplyOrPlan(const GlobalOptions& global, bool dry_run) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto next, registry::LoadDefinitions(config, PythonExporter()));
  ARROW_ASSIGN_OR_RAISE(auto outcome, ApplyDefinitions(config, std::move(next), dry_run, false));
  std::cout << outcome.report;
  return Status::OK();
}

}  // namespace

Status RunPlan(const GlobalOptions& global) { return RunApplyOrPlan(global, true); }

Status RunApply(const GlobalOptions& global) { return RunApplyOrPlan(global, false); }

Status RunRegistryDump(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto current, registry::ReadRegistry(config));
  std::cout << registry::RegistryToJson(current);
  return Status::OK();
}

Status RunTeardown(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto report, Teardown(config));
  std::cout << report;
  return Status::OK();
}

}  // namespace headwater::cli
