// apply, plan, registry-dump, teardown: adapters over the feature-store core.

#include <iostream>

#include "commands.h"
#include "headwater/cli/python_exporter.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"
#include "headwater/store/feature_store.h"

namespace headwater::cli {
namespace {

Status RunApplyOrPlan(const GlobalOptions& global, bool dry_run) {
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto next, registry::LoadDefinitions(store->config(), PythonExporter()));
  store::ApplyOptions options;
  options.dry_run = dry_run;
  ARROW_ASSIGN_OR_RAISE(auto outcome, store->Apply(std::move(next), options));
  std::cout << outcome.report;
  return Status::OK();
}

}  // namespace

Status RunPlan(const GlobalOptions& global) { return RunApplyOrPlan(global, true); }

Status RunApply(const GlobalOptions& global) { return RunApplyOrPlan(global, false); }

Status RunRegistryDump(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(global.repo));
  std::cout << registry::RegistryToJson(store->snapshot()->registry);
  return Status::OK();
}

Status RunTeardown(const GlobalOptions& global) {
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(global.repo));
  ARROW_ASSIGN_OR_RAISE(auto report, store->Teardown());
  std::cout << report;
  return Status::OK();
}

}  // namespace headwater::cli
