#include "store.h"

#include <arrow/table.h>

#include <sstream>

#include "headwater/cli/apply.h"
#include "headwater/core/clock.h"
#include "headwater/ingest/materializer.h"
#include "headwater/offline/historical_retrieval.h"
#include "headwater/registry/feature_reference.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"

namespace headwater::python {
namespace {

std::string FileStamp(const std::filesystem::path& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  if (error) return "";
  auto time = std::filesystem::last_write_time(path, error);
  return std::to_string(size) + ":" + std::to_string(time.time_since_epoch().count());
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& repo_path) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(repo_path));
  return std::unique_ptr<Store>(new Store(std::move(config)));
}

Store::~Store() { (void)Close(); }

Result<std::shared_ptr<const Store::Snapshot>> Store::Current() {
  std::string stamp = FileStamp(config_.registry_path);
  if (snapshot_ == nullptr || snapshot_->stamp != stamp) {
    auto next = std::make_shared<Snapshot>();
    ARROW_ASSIGN_OR_RAISE(next->registry, registry::ReadRegistry(config_));
    ARROW_ASSIGN_OR_RAISE(next->catalog, online::OnlineCatalog::Make(next->registry.definitions));
    next->stamp = std::move(stamp);
    snapshot_ = std::move(next);
  }
  if (snapshot_->registry.version == 0) {
    return Status::Invalid("the registry at ", config_.registry_path.string(),
                           " is empty: apply definitions first");
  }
  return snapshot_;
}

Result<online::OnlineStore*> Store::OnlineStore(online::OpenMode mode) {
  // A writer handle serves reads too; a reader handle is replaced by a writer when one is needed.
  if (store_ != nullptr && (store_mode_ == online::OpenMode::kReadWrite || mode == store_mode_)) {
    return store_.get();
  }
  if (streams_ != nullptr) return Status::Invalid("stream pipelines hold a read-only store");
  store_.reset();
  ARROW_ASSIGN_OR_RAISE(store_, online::OpenOnlineStore(config_, mode));
  store_mode_ = mode;
  return store_.get();
}

Result<std::pair<std::string, int64_t>> Store::Apply(const std::string& yaml, bool dry_run) {
  std::lock_guard lock(mutex_);
  registry::Definitions next;
  ARROW_RETURN_NOT_OK(registry::ParseDefinitions(yaml, "<python objects>", &next));
  // Apply opens the online store for writing itself: release this process's handle first.
  if (!dry_run) {
    if (streams_ != nullptr) {
      ARROW_RETURN_NOT_OK(streams_->Stop());
      streams_.reset();
    }
    store_.reset();
  }
  ARROW_ASSIGN_OR_RAISE(auto outcome,
                        cli::ApplyDefinitions(config_, std::move(next), dry_run, /*partial=*/true));
  return std::make_pair(std::move(outcome.report), outcome.version);
}

Result<std::string> Store::RegistryJson() {
  std::lock_guard lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto registry, registry::ReadRegistry(config_));
  return registry::RegistryToJson(registry, 0);
}

Result<std::shared_ptr<arrow::Table>> Store::Historical(
    const std::shared_ptr<arrow::Table>& entities, const std::vector<std::string>& features,
    const std::string& feature_service, bool full_feature_names) {
  std::shared_ptr<const Snapshot> current;
  {
    std::lock_guard lock(mutex_);
    ARROW_ASSIGN_OR_RAISE(current, Current());
  }
  const registry::Definitions& definitions = current->registry.definitions;
  std::vector<registry::FeatureViewProjection> projections;
  if (!feature_service.empty()) {
    ARROW_ASSIGN_OR_RAISE(projections,
                          registry::ResolveFeatureService(definitions, feature_service));
  } else {
    ARROW_ASSIGN_OR_RAISE(projections, registry::ResolveFeatureReferences(definitions, features));
  }
  offline::HistoricalRetrievalOptions options;
  options.full_feature_names = full_feature_names;
  return offline::GetHistoricalFeatures(config_, definitions, entities, projections, options);
}

Result<std::shared_ptr<arrow::RecordBatch>> Store::Online(const arrow::RecordBatch& entities,
                                                          const std::vector<std::string>& features,
                                                          const std::string& feature_service,
                                                          bool full_feature_names) {
  std::lock_guard lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto current, Current());
  std::vector<online::OnlineCatalog::Feature> resolved;
  if (!feature_service.empty()) {
    ARROW_ASSIGN_OR_RAISE(resolved, current->catalog->ResolveService(feature_service));
  } else {
    ARROW_ASSIGN_OR_RAISE(resolved, current->catalog->ResolveReferences(features));
  }
  ARROW_ASSIGN_OR_RAISE(auto store, OnlineStore(online::OpenMode::kReadOnly));
  return online::ReadOnlineFeatures(store, resolved, entities, full_feature_names,
                                    SystemClock::Instance().Now());
}

Result<ingest::PushResult> Store::Push(const std::string& source, const arrow::Table& df,
                                       const std::string& to) {
  std::lock_guard lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto current, Current());
  ARROW_ASSIGN_OR_RAISE(auto targets, ingest::ParsePushTargets(to));
  ARROW_ASSIGN_OR_RAISE(auto store, OnlineStore(online::OpenMode::kReadWrite));
  const registry::Definitions& definitions = current->registry.definitions;
  bool feeds_stream = false;
  for (const auto& view : definitions.feature_views) {
    feeds_stream |= view.is_stream() && view.source == source;
  }
  // Pushes to stream views go through this process's pipelines, started on first need.
  if (targets.online && feeds_stream && streams_ == nullptr) {
    ARROW_ASSIGN_OR_RAISE(
        streams_,
        ingest::StreamRunner::Start(
            config_, definitions, store, SystemClock::Instance(), [](std::string_view line) {
              std::fprintf(stderr, "stream: %.*s\n", static_cast<int>(line.size()), line.data());
            }));
  }
  ingest::SourcePipeline* pipeline =
      targets.online && streams_ != nullptr ? streams_->pipeline(source) : nullptr;
  return ingest::Push(config_, definitions, source, df, targets, store, pipeline,
                      SystemClock::Instance());
}

Result<online::WriteResult> Store::WriteToOnlineStore(const std::string& view,
                                                      const arrow::Table& df) {
  std::lock_guard lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto current, Current());
  ARROW_ASSIGN_OR_RAISE(auto store, OnlineStore(online::OpenMode::kReadWrite));
  return ingest::WriteToOnlineStore(
      current->registry.definitions, view, df,
      ingest::EventTimeBounds::At(config_, SystemClock::Instance().Now()), store);
}

Result<std::string> Store::Materialize(std::optional<Timestamp> start, Timestamp end,
                                       const std::vector<std::string>& names) {
  ARROW_RETURN_NOT_OK(ingest::CheckMaterializeEnd(end, SystemClock::Instance().Now()));
  std::lock_guard lock(mutex_);
  ARROW_ASSIGN_OR_RAISE(auto current, Current());
  const registry::Registry& registry = current->registry;
  ARROW_ASSIGN_OR_RAISE(auto views, ingest::SelectOnlineViews(registry.definitions, names));
  ARROW_ASSIGN_OR_RAISE(auto store, OnlineStore(online::OpenMode::kReadWrite));
  ingest::StartOf start_of =
      start ? ingest::StartOf(
                  [start](const registry::FeatureView&) -> Result<std::optional<Timestamp>> {
                    return start;
                  })
            : ingest::IncrementalStart(config_, registry);
  std::ostringstream report;
  auto on_view = [&report](const ingest::ViewMaterialization& done) {
    report << ingest::DescribeMaterialization(done) << "\n";
  };
  ARROW_RETURN_NOT_OK(
      ingest::MaterializeViews(config_, registry, views, start_of, end, 0, store, {}, on_view)
          .status());
  return report.str();
}

Result<std::string> Store::Teardown() {
  ARROW_RETURN_NOT_OK(Close());
  std::lock_guard lock(mutex_);
  snapshot_.reset();
  return cli::Teardown(config_);
}

Status Store::Close() {
  std::lock_guard lock(mutex_);
  Status status;
  if (streams_ != nullptr) {
    status = streams_->Stop();
    streams_.reset();
  }
  store_.reset();
  return status;
}

}  // namespace headwater::python
