// Apply, plan and teardown: the registry and the online store brought in line with a set of
// definitions.

#include "apply.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "headwater/core/object_store.h"
#include "headwater/engine/on_demand.h"
#include "headwater/flink/flink_jobs.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_diff.h"
#include "headwater/registry/registry_lock.h"
#include "headwater/registry/registry_store.h"

namespace headwater::store {
namespace {

// Removes the `kind` object `name` from `definitions`.
Status Remove(const std::string& kind, const std::string& name,
              registry::Definitions* definitions) {
  auto erase = [&](auto& objects) -> Status {
    auto it = std::find_if(objects.begin(), objects.end(),
                           [&](const auto& object) { return object.name == name; });
    if (it == objects.end()) {
      return Status::KeyError("cannot delete ", kind, " '", name, "': it is not applied");
    }
    objects.erase(it);
    return Status::OK();
  };
  if (kind == "entity") return erase(definitions->entities);
  if (kind == "data_source") return erase(definitions->sources);
  if (kind == "feature_view") return erase(definitions->feature_views);
  if (kind == "feature_service") return erase(definitions->feature_services);
  if (kind == "on_demand_feature_view") return erase(definitions->on_demand_feature_views);
  return Status::Invalid("cannot delete a '", kind,
                         "': objects are entity, data_source, feature_view, feature_service or "
                         "on_demand_feature_view");
}

std::string Summary(const std::vector<registry::Change>& changes, const char* verb) {
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
  std::ostringstream out;
  out << registry::FormatChanges(changes) << verb << ": " << add << " to add, " << update
      << " to change, " << remove << " to delete.\n";
  return out.str();
}

// Brings the online store in line with the next definitions: room for every online view, and
// the values of views that are gone, no longer online, or whose features changed (stored values
// follow the feature list) dropped, with their materialization markers.
Status UpdateOnlineStore(const WritableStore& writable, const registry::Registry& current,
                         registry::Registry* next, std::ostringstream* report) {
  auto [create, drop] = registry::ChangedOnlineTables(current.definitions, next->definitions);
  auto store = writable();
  if (!store.ok() && store.status().message().find("/LOCK") != std::string::npos) {
    // A running `headwater serve` owns the embedded store; it applies these changes itself when
    // it picks up the new registry.
    *report << "online store: held by a running server, which will apply the changes\n";
  } else {
    ARROW_RETURN_NOT_OK(store.status());
    ARROW_RETURN_NOT_OK((*store)->DropViews(drop));
    ARROW_RETURN_NOT_OK((*store)->CreateViews(create));
  }
  for (const std::string& name : drop) {
    next->materializations.erase(name);
    if (next->definitions.FindFeatureView(name) != nullptr) {
      *report << "online store: dropped the values of " << name
              << " (its features changed or it is no longer online); materialize it again\n";
    } else if (next->definitions.FindOnDemandFeatureView(name) != nullptr) {
      *report << "online store: dropped the stored values of " << name
              << " (it changed); materialize or write its source again\n";
    }
  }
  return Status::OK();
}

// What apply does to the Flink jobs of stream views (stream_engine: flink).
struct FlinkWork {
  flink::FlinkPipeline pipeline;
  flink::JobPlan plan;
  flink::FlinkRest client;
};

}  // namespace

Result<ApplyOutcome> ApplyDefinitions(const registry::RepoConfig& config,
                                      registry::Definitions next, const ApplyOptions& options,
                                      const Clock& clock, const WritableStore& writable) {
  const bool dry_run = options.dry_run;
  // Locked before reading, so a concurrent materialization's marker is not lost.
  std::optional<registry::RegistryLock> lock;
  if (!dry_run) {
    ARROW_ASSIGN_OR_RAISE(auto acquired, registry::RegistryLock::Acquire(config.registry_path));
    lock.emplace(std::move(acquired));
  }
  ARROW_ASSIGN_OR_RAISE(auto current, registry::ReadRegistry(config));
  if (options.partial) {
    registry::Definitions merged = current.definitions;
    merged.Merge(std::move(next));
    next = std::move(merged);
  }
  if (options.partial || !options.remove.empty()) {
    for (const auto& [kind, name] : options.remove) ARROW_RETURN_NOT_OK(Remove(kind, name, &next));
    ARROW_RETURN_NOT_OK(registry::Validate(config, &next));
  }
  // On-demand views' expressions: compiled (and their errors reported) before anything changes.
  ARROW_RETURN_NOT_OK(engine::CompileOnDemandViews(next).status());
  // Stream views on Flink: compiled, and the cluster asked, before anything changes.
  std::optional<FlinkWork> flink;
  if (config.stream_engine.flink()) {
    ARROW_ASSIGN_OR_RAISE(auto pipeline, flink::CompileFlink(config, next));
    flink::FlinkRest client = flink::ClientFor(config);
    ARROW_ASSIGN_OR_RAISE(auto plan, flink::PlanJobs(config, pipeline, client));
    flink.emplace(FlinkWork{std::move(pipeline), std::move(plan), std::move(client)});
  }
  // The jobs' part of the report: planned, or carried out once the registry is written.
  auto jobs = [&]() -> Result<std::string> {
    if (!flink) return std::string();
    if (dry_run) return flink->plan.Report();
    return flink::ApplyJobs(config, flink->pipeline, flink->plan, flink->client);
  };
  std::string notices;  // ignored Feast keys and casts on read: said by plan and apply alike
  for (const std::string& line : config.ignored) notices += line + "\n";
  for (const std::string& line : registry::SourceCasts(config, next)) notices += line + "\n";
  ApplyOutcome outcome;
  outcome.changes = registry::Diff(current.definitions, next);
  outcome.version = current.version;
  if (outcome.changes.empty()) {
    outcome.report = dry_run ? "No changes: the registry matches the definitions.\n"
                             : "No changes: registry version " + std::to_string(current.version) +
                                   " is up to date.\n";
    ARROW_ASSIGN_OR_RAISE(auto report, jobs());
    outcome.report += notices + report;
    return outcome;
  }
  if (dry_run) {
    ARROW_ASSIGN_OR_RAISE(auto report, jobs());
    outcome.report = Summary(outcome.changes, "Plan") + notices + report;
    return outcome;
  }
  registry::Registry updated = current;
  updated.project = config.project;
  updated.version = current.version + 1;
  updated.last_updated = clock.Now();
  updated.definitions = std::move(next);
  std::ostringstream report;
  ARROW_RETURN_NOT_OK(UpdateOnlineStore(writable, current, &updated, &report));
  Status written = registry::WriteRegistry(config.registry_path, updated);
  if (written.IsAlreadyExists()) {
    return Status::Invalid(written.message(),
                           " (another apply or materialization wrote the "
                           "registry while this apply ran): run apply again");
  }
  ARROW_RETURN_NOT_OK(written);
  report << Summary(outcome.changes, "Applied") << "Registry version " << updated.version
         << " written to " << config.registry_path.string() << "\n"
         << notices;
  ARROW_ASSIGN_OR_RAISE(auto job_report, jobs());
  report << job_report;
  outcome.version = updated.version;
  outcome.report = report.str();
  return outcome;
}

Result<std::string> RemoveRepositoryState(const registry::RepoConfig& config,
                                          online::OnlineStore* store) {
  std::ostringstream report;
  ARROW_RETURN_NOT_OK(store->Teardown());
  report << "Removed the online store (" << config.online_store.type << ")\n";
  bool removed = false;
  if (storage::IsObjectUri(config.registry_path)) {
    ARROW_ASSIGN_OR_RAISE(auto version, storage::ObjectVersion(config.registry_path));
    removed = !version.empty();
    ARROW_RETURN_NOT_OK(storage::RemoveObject(config.registry_path));
  } else {
    std::error_code error;
    std::filesystem::remove(config.registry_path.string() + ".lock", error);
    removed = std::filesystem::remove(config.registry_path, error);
    if (error) {
      return Status::IOError("cannot remove ", config.registry_path.string(), ": ",
                             error.message());
    }
  }
  report << (removed ? "Removed registry " : "No registry at ") << config.registry_path.string()
         << "\n";
  return report.str();
}

}  // namespace headwater::store
