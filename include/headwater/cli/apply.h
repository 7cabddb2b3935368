#pragma once
// Applying definitions to a repository: what `headwater apply` and `plan` do, and what the
// Python package's FeatureStore.apply and plan call.

#include <string>
#include <vector>

#include "headwater/registry/definitions.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"
#include "headwater/registry/repo_config.h"

namespace headwater::cli {

struct ApplyOutcome {
  std::vector<registry::Change> changes;
  /// The registry version after the apply (before it, for a plan or when nothing changed).
  int64_t version = 0;
  /// What changed, as `headwater plan` and `apply` print it.
  std::string report;
};

/// Makes `next` the repository's definitions: validates them, makes room in the online store
/// for new online views and drops the values of views that are gone or whose features changed,
/// then writes the next registry version (all under the registry lock). With `dry_run`, only
/// validates and reports the changes. `partial` merges `next` into the applied definitions
/// instead of replacing them (Feast's FeatureStore.apply).
Result<ApplyOutcome> ApplyDefinitions(const registry::RepoConfig& config,
                                      registry::Definitions next, bool dry_run, bool partial);

/// Removes what apply created: the online store's data and the registry file (and its lock).
/// Returns what was removed, as `headwater teardown` prints it.
Result<std::string> Teardown(const registry::RepoConfig& config);

/// Runs Python definition files with `<python> -m headwater._export`, where <python> is
/// $HEADWATER_PYTHON, or else the interpreter the build was configured with.
registry::PythonExporter PythonExporter();

}  // namespace headwater::cli
