#include "headwater/store/feature_store.h"

#include <arrow/table.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <shared_mutex>

#include "apply.h"
#include "flink_watch.h"
#include "headwater/core/object_store.h"
#include "headwater/core/text.h"
#include "headwater/flink/flink_batch.h"
#include "headwater/ingest/idempotency.h"
#include "headwater/offline/table_file.h"
#include "headwater/online/overlay_store.h"
#include "headwater/registry/feature_reference.h"
#include "headwater/registry/source_schema.h"

namespace headwater::store {
namespace {

// What identifies a version of the registry file without reading it: its size and mtime.
// What tells a changed registry file: its inode (writes replace it), size and modification
// time, from one stat — checked on every use, so it stays cheap (two calls cost ~1 µs of a
// 10 µs Python read). All zero when the file is missing.
struct FileStamp {
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t modified_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp StampOf(const std::filesystem::path& path) {
  if (storage::IsObjectUri(path)) {  // an object's version is its ETag
    auto version = storage::ObjectVersion(path);
    return {version.ok() ? std::hash<std::string>{}(*version) : 0, version.ok() ? 0 : -1, 0};
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return {static_cast<uint64_t>(info.st_ino), static_cast<int64_t>(info.st_size),
          static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

bool FeedsStreamView(const registry::Definitions& definitions, const std::string& source) {
  for (const auto& view : definitions.feature_views) {
    if (view.is_stream() && view.source == source) return true;
  }
  return false;
}

}  // namespace

struct FeatureStore::State {
  std::mutex refresh_mutex;  // one registry reload at a time
  FileStamp registry_stamp;
  std::chrono::steady_clock::time_point registry_checked;  // a registry on S3: its last check
  std::atomic<std::shared_ptr<const std::string>> registry_error;
  // Lock order: apply, then streams, then online.
  std::mutex apply_mutex;
  std::mutex materialize_mutex;     // one materialization at a time
  std::shared_mutex streams_mutex;  // shared: pushing through a pipeline; exclusive: start, stop
  std::unique_ptr<ingest::StreamRunner> streams;
  std::unique_ptr<FlinkWatch> flink;  // with `streams`, when stream views run on Flink
  std::shared_mutex online_mutex;     // shared: using `online`; exclusive: opening, closing it
  std::unique_ptr<online::OnlineStore> online;
  bool online_writable = false;
  std::mutex ledger_mutex;  // opening the ledger
  std::unique_ptr<ingest::IdempotencyLedger> ledger;
};

// An idempotency key claimed in the ledger until this goes (FeatureStore::ClaimKey).
class FeatureStore::ClaimedKey {
 public:
  ClaimedKey(ingest::IdempotencyLedger* ledger, std::string key, bool retry)
      : ledger_(ledger), key_(std::move(key)), retry_(retry) {}
  ClaimedKey(const ClaimedKey&) = delete;
  ~ClaimedKey() {
    if (ledger_ != nullptr) ledger_->Release(key_);
  }
  bool retry() const { return retry_; }

 private:
  ingest::IdempotencyLedger* ledger_;
  std::string key_;
  bool retry_;
};

Result<std::unique_ptr<FeatureStore::ClaimedKey>> FeatureStore::ClaimKey(std::string_view key,
                                                                         std::string_view what,
                                                                         const arrow::Table& df) {
  if (key.empty()) return std::make_unique<ClaimedKey>(nullptr, "", false);
  ARROW_RETURN_NOT_OK(ingest::CheckIdempotencyKey(key));
  ingest::IdempotencyLedger* ledger;
  {
    std::lock_guard lock(state_->ledger_mutex);
    if (state_->ledger == nullptr) {
      ARROW_ASSIGN_OR_RAISE(state_->ledger,
                            ingest::IdempotencyLedger::Open(config_.Resolve(config_.stream.path) /
                                                            "idempotency.log"));
    }
    ledger = state_->ledger.get();
  }
  ARROW_ASSIGN_OR_RAISE(auto fingerprint, ingest::RequestFingerprint(what, df));
  ARROW_ASSIGN_OR_RAISE(bool first, ledger->Claim(key, fingerprint));
  return std::make_unique<ClaimedKey>(ledger, std::string(key), !first);
}

FeatureStore::FeatureStore(registry::RepoConfig config, OpenOptions options)
    : config_(std::move(config)),
      clock_(options.clock != nullptr ? options.clock : &SystemClock::Instance()),
      options_(std::move(options)),
      state_(std::make_unique<State>()) {
  if (!options_.log) {
    options_.log = [](std::string_view line) {
      std::fprintf(stderr, "%s\n", PrintableText(line).c_str());
    };
  }
}

FeatureStore::~FeatureStore() {
  Status closed = Close();
  if (!closed.ok()) options_.log(closed.message());
}

Result<std::unique_ptr<FeatureStore>> FeatureStore::Open(const std::filesystem::path& repo,
                                                         OpenOptions options) {
  ARROW_ASSIGN_OR_RAISE(auto config, registry::LoadRepoConfig(repo));
  return Open(std::move(config), std::move(options));
}

Result<std::unique_ptr<FeatureStore>> FeatureStore::Open(registry::RepoConfig config,
                                                         OpenOptions options) {
  if (options.run_streams && options.online != OnlineAccess::kHeld) {
    return Status::Invalid("stream pipelines need the online store held (OnlineAccess::kHeld)");
  }
  std::unique_ptr<FeatureStore> store(new FeatureStore(std::move(config), std::move(options)));
  if (store->options_.online == OnlineAccess::kHeld) {
    ARROW_ASSIGN_OR_RAISE(store->state_->online,
                          online::OpenOnlineStore(store->config_, online::OpenMode::kReadWrite,
                                                  /*cache_rows=*/true));
    if (store->options_.run_streams) {
      // Window rows readable the moment they are final, before the store has them all.
      store->state_->online =
          std::make_unique<online::OverlayOnlineStore>(std::move(store->state_->online));
    }
    store->state_->online_writable = true;
  }
  ARROW_RETURN_NOT_OK(store->Refresh().status());
  return store;
}

// --- The registry

Result<bool> FeatureStore::Refresh() {
  std::lock_guard lock(state_->refresh_mutex);
  auto reloaded = Reload();
  // A registry that cannot be read keeps the last good one current; the failure is logged once
  // and kept for registry_error() until a good one is read.
  std::string error = reloaded.ok() ? "" : reloaded.status().message();
  auto previous = state_->registry_error.load();
  if (error != (previous ? *previous : "")) {
    auto current = snapshot();
    const int64_t version = current ? current->registry.version : 0;
    if (!error.empty()) {
      options_.log(
          fmt::format("registry: cannot reload, still using version {}: {}", version, error));
    } else if (previous != nullptr) {
      options_.log(fmt::format("registry: reloaded, version {}", version));
    }
    state_->registry_error.store(error.empty() ? nullptr
                                               : std::make_shared<const std::string>(error));
  }
  return reloaded;
}

namespace {

// The on-demand views with write_to_online_store computed from `view`'s rows.
std::vector<const online::OnlineCatalog::OnDemandView*> StoredOnDemandViews(
    const Snapshot& snapshot, std::string_view view) {
  std::vector<const online::OnlineCatalog::OnDemandView*> out;
  for (const auto& definition : snapshot.registry.definitions.on_demand_feature_views) {
    if (definition.write_to_online_store && definition.sources.front().view == view) {
      out.push_back(snapshot.catalog->FindOnDemandView(definition.name));
    }
  }
  return out;
}

// Writes the stored values of `views` computed from rows of their source (keys[i] ->
// values[i], in the source's stored layout).
Status WriteStoredValues(const std::vector<const online::OnlineCatalog::OnDemandView*>& views,
                         const ByteRows& keys, const std::vector<std::string_view>& values,
                         Timestamp now, online::OnlineStore* store,
                         online::WriteResult* result = nullptr) {
  for (const auto* view : views) {
    ByteRows computed;
    ARROW_RETURN_NOT_OK(online::ComputeStoredValues(*view, values, now, &computed));
    ARROW_ASSIGN_OR_RAISE(auto written, store->Write(view->compiled.name, keys, computed));
    if (result != nullptr) *result = written;
  }
  return Status::OK();
}

std::vector<std::string_view> Rows(const ByteRows& rows) {
  std::vector<std::string_view> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) out[i] = rows[i];
  return out;
}

}  // namespace

Result<bool> FeatureStore::Reload() {
  // A registry on S3 costs a request to check: at most once a second.
  if (storage::IsObjectUri(config_.registry_path) && snapshot() != nullptr) {
    const auto now = std::chrono::steady_clock::now();
    if (now - state_->registry_checked < std::chrono::seconds(1)) return false;
    state_->registry_checked = now;
  }
  const FileStamp stamp = StampOf(config_.registry_path);
  if (snapshot() != nullptr && stamp == state_->registry_stamp) return false;
  ARROW_ASSIGN_OR_RAISE(auto registry, registry::ReadRegistry(config_));
  auto previous = snapshot();
  const bool held = options_.online == OnlineAccess::kHeld;
  // A holder keeps serving its last registry when the file is removed from under it; a command
  // or a session sees the repository as it is.
  if (registry.version == 0 && held && previous != nullptr) return false;
  ARROW_ASSIGN_OR_RAISE(auto catalog, online::OnlineCatalog::Make(registry.definitions));
  if (held && previous != nullptr) {
    // This process holds the store, so `apply` could not: drop the values of views that are
    // gone, no longer online, or whose features changed, as apply would have.
    auto changes =
        registry::ChangedOnlineTables(previous->registry.definitions, registry.definitions);
    std::shared_lock online_lock(state_->online_mutex);
    ARROW_RETURN_NOT_OK(state_->online->DropViews(changes.drop));
  }
  // Running pipelines follow the stream views: restarted from their checkpoints when those
  // changed, kept running otherwise.
  if (options_.run_streams &&
      (previous == nullptr ||
       !ingest::SameStreams(previous->registry.definitions, registry.definitions))) {
    std::unique_lock streams_lock(state_->streams_mutex);
    ARROW_RETURN_NOT_OK(StopStreamsLocked());
    ARROW_RETURN_NOT_OK(StartStreamsLocked(registry.definitions));
  }
  snapshot_.store(
      std::make_shared<const Snapshot>(Snapshot{std::move(registry), std::move(catalog)}));
  state_->registry_stamp = stamp;
  return true;
}

Result<std::shared_ptr<const Snapshot>> FeatureStore::Applied() {
  if (options_.refresh_on_use) ARROW_RETURN_NOT_OK(Refresh().status());
  auto current = snapshot();
  if (current == nullptr || current->registry.version == 0) {
    return Status::Invalid("the registry at ", config_.registry_path.string(),
                           " is empty: apply definitions first (`headwater apply`)");
  }
  return current;
}

std::string FeatureStore::registry_error() const {
  auto error = state_->registry_error.load();
  return error ? *error : "";
}

// --- The online store and the pipelines

Result<FeatureStore::OnlineUse> FeatureStore::UseOnline(bool write) {
  // A held handle never changes while the store is open (Close comes after the last request),
  // so the request path takes no lock for it.
  if (options_.online == OnlineAccess::kHeld) {
    return OnlineUse(std::shared_lock<std::shared_mutex>(), state_->online.get());
  }
  while (true) {
    {
      std::shared_lock lock(state_->online_mutex);
      if (state_->online != nullptr && (state_->online_writable || !write)) {
        return OnlineUse(std::move(lock), state_->online.get());
      }
    }
    std::unique_lock lock(state_->online_mutex);
    if (state_->online == nullptr || (write && !state_->online_writable)) {
      // Only a reading handle is ever replaced, and pipelines never run on one.
      state_->online.reset();
      ARROW_ASSIGN_OR_RAISE(
          state_->online,
          online::OpenOnlineStore(
              config_, write ? online::OpenMode::kReadWrite : online::OpenMode::kReadOnly,
              /*cache_rows=*/!write));
      state_->online_writable = write;
    }
    // Loop to take the shared lock: Close may reset the handle in between.
  }
}

Status FeatureStore::StartStreamsLocked(const registry::Definitions& definitions) {
  ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/true));
  ARROW_ASSIGN_OR_RAISE(state_->streams,
                        ingest::StreamRunner::Start(config_, definitions, online.get(), *clock_,
                                                    [this](std::string_view line) {
                                                      options_.log("stream: " + std::string(line));
                                                    }));
  if (config_.stream_engine.flink()) {
    ARROW_ASSIGN_OR_RAISE(auto pipeline, flink::CompileFlink(config_, definitions));
    std::vector<std::pair<std::string, std::string>> jobs;
    for (const flink::FlinkJob& job : pipeline.jobs) jobs.emplace_back(job.view, job.job_name);
    if (!jobs.empty()) {
      state_->flink = std::make_unique<FlinkWatch>(flink::ClientFor(config_), std::move(jobs));
    }
  }
  return Status::OK();
}

Status FeatureStore::StopStreamsLocked() {
  state_->flink.reset();
  if (state_->streams == nullptr) return Status::OK();
  Status stopped = state_->streams->Stop();
  state_->streams.reset();
  return stopped;
}

std::optional<FlinkHealth> FeatureStore::Flink() {
  std::shared_lock lock(state_->streams_mutex);
  if (state_->flink == nullptr) return std::nullopt;
  return state_->flink->health();
}

Result<FlinkJobs> FeatureStore::FlinkJobStatuses() {
  if (!config_.stream_engine.flink()) {
    return Status::Invalid("stream_engine in feature_store.yaml is not flink: no Flink jobs");
  }
  ARROW_ASSIGN_OR_RAISE(auto applied, Applied());
  const registry::Definitions& definitions = applied->registry.definitions;
  ARROW_ASSIGN_OR_RAISE(auto pipeline, flink::CompileFlink(config_, definitions));
  FlinkJobs out;
  ARROW_ASSIGN_OR_RAISE(
      out.jobs, flink::JobStatuses(config_, definitions, pipeline, flink::ClientFor(config_)));
  out.embedded = std::move(pipeline.embedded);
  return out;
}

std::vector<StreamStatus> FeatureStore::StreamStatuses() {
  std::vector<StreamStatus> statuses;
  std::shared_lock lock(state_->streams_mutex);
  if (state_->streams == nullptr) return statuses;
  for (const auto& pipeline : state_->streams->pipelines()) {
    statuses.push_back(
        {pipeline->source_name(), pipeline->views(), pipeline->stats(), pipeline->positions()});
  }
  return statuses;
}

Status FeatureStore::Close() {
  Status stopped;
  {
    std::unique_lock lock(state_->streams_mutex);
    stopped = StopStreamsLocked();
  }
  std::unique_lock lock(state_->online_mutex);
  state_->online.reset();
  state_->online_writable = false;
  return stopped;
}

// --- Definitions

Result<ApplyOutcome> FeatureStore::Apply(registry::Definitions next, const ApplyOptions& options) {
  std::lock_guard apply_lock(state_->apply_mutex);
  if (!options.dry_run) {
    // Pipelines run on the definitions being replaced: stopped (with a checkpoint) first.
    std::unique_lock streams_lock(state_->streams_mutex);
    ARROW_RETURN_NOT_OK(StopStreamsLocked());
  }
  std::optional<OnlineUse> online;
  auto writable = [&]() -> Result<online::OnlineStore*> {
    ARROW_ASSIGN_OR_RAISE(auto use, UseOnline(/*write=*/true));
    online.emplace(std::move(use));
    return online->get();
  };
  ARROW_ASSIGN_OR_RAISE(auto outcome,
                        ApplyDefinitions(config_, std::move(next), options, *clock_, writable));
  online.reset();
  if (options.dry_run) return outcome;
  ARROW_RETURN_NOT_OK(Refresh().status());  // may restart the pipelines itself
  if (options_.run_streams) {
    std::unique_lock streams_lock(state_->streams_mutex);
    auto current = snapshot();
    if (state_->streams == nullptr && current != nullptr) {
      ARROW_RETURN_NOT_OK(StartStreamsLocked(current->registry.definitions));
    }
  }
  return outcome;
}

Result<std::string> FeatureStore::Teardown() {
  std::lock_guard apply_lock(state_->apply_mutex);
  {
    std::unique_lock streams_lock(state_->streams_mutex);
    ARROW_RETURN_NOT_OK(StopStreamsLocked());
  }
  std::string report;
  {
    ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/true));
    ARROW_ASSIGN_OR_RAISE(report, RemoveRepositoryState(config_, online.get()));
  }
  if (options_.online == OnlineAccess::kOnDemand) {
    std::unique_lock lock(state_->online_mutex);
    state_->online.reset();
    state_->online_writable = false;
  }
  std::lock_guard refresh_lock(state_->refresh_mutex);
  snapshot_.store(nullptr);
  state_->registry_stamp = {};
  return report;
}

// --- Training data

// Whether a batch computation runs on Flink: `engine` ("embedded", "flink") overrides
// batch_engine's type for one call.
namespace {
Result<bool> OnFlink(const registry::RepoConfig& config, const std::string& engine) {
  if (engine.empty()) return config.batch_engine.flink();
  if (engine == "flink") return true;
  if (engine == "embedded") return false;
  return Status::Invalid("unknown engine '", engine, "' (supported: embedded, flink)");
}
}  // namespace

Result<std::shared_ptr<arrow::Table>> FeatureStore::GetHistoricalFeatures(
    const std::shared_ptr<arrow::Table>& entity_rows, const FeatureSelection& features,
    const offline::HistoricalRetrievalOptions& options, offline::RetrievalStats* stats) {
  ARROW_ASSIGN_OR_RAISE(bool on_flink, OnFlink(config_, options.engine));
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Definitions& definitions = current->registry.definitions;
  ARROW_ASSIGN_OR_RAISE(auto projections, registry::ResolveFeatureSelection(
                                              definitions, features.references, features.service));
  if (!on_flink) {
    return offline::GetHistoricalFeatures(config_, definitions, entity_rows, projections, options,
                                          stats);
  }
  offline::HistoricalRetrievalOptions flink = options;
  flink.join_elsewhere = [&](const std::vector<offline::ViewJoin>& joins, const arrow::Table& rows,
                             std::span<const int64_t> times) {
    return flink::JoinOnFlink(config_, definitions, joins, rows, times, stats);
  };
  return offline::GetHistoricalFeatures(config_, definitions, entity_rows, projections, flink,
                                        stats);
}

Result<std::shared_ptr<arrow::Table>> FeatureStore::ReadEntityRows(
    const std::filesystem::path& path, const FeatureSelection& features,
    const offline::HistoricalRetrievalOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Definitions& definitions = current->registry.definitions;
  ARROW_ASSIGN_OR_RAISE(auto projections, registry::ResolveFeatureSelection(
                                              definitions, features.references, features.service));
  return offline::ReadTableFile(path,
                                offline::EntityColumnTypes(definitions, projections, options));
}

Result<std::shared_ptr<arrow::Table>> FeatureStore::QueryEntityRows(const std::string& query) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  return flink::QueryOnFlink(config_, current->registry.definitions, query);
}

namespace {

// The source holding `name`'s rows: itself, or a push or Kafka source's batch source.
Result<const registry::DataSource*> DatasetOf(const registry::Definitions& definitions,
                                              const std::string& name) {
  const registry::DataSource* found = definitions.FindSource(name);
  if (found == nullptr) return Status::KeyError("unknown data source '", name, "'");
  if (!found->batch_source.empty()) found = definitions.FindSource(found->batch_source);
  if (found == nullptr || found->path.empty()) {
    return Status::Invalid("data source '", name, "' has no files");
  }
  return found;
}

}  // namespace

Result<std::shared_ptr<arrow::Table>> FeatureStore::PullFromSource(
    const std::string& source, const offline::PullRequest& request, bool latest) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  ARROW_ASSIGN_OR_RAISE(auto found, DatasetOf(current->registry.definitions, source));
  return latest ? offline::PullLatest(config_, *found, request)
                : offline::PullAll(config_, *found, request);
}

Result<std::shared_ptr<arrow::Schema>> FeatureStore::SourceSchema(const std::string& source) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  ARROW_ASSIGN_OR_RAISE(auto found, DatasetOf(current->registry.definitions, source));
  return registry::ReadSourceSchema(config_.Resolve(found->path));
}

Result<std::string> FeatureStore::WriteToOfflineStore(const std::string& view,
                                                      const arrow::Table& df) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  return ingest::WriteToOfflineStore(config_, current->registry.definitions, view, df, *clock_);
}

Result<online::WriteResult> FeatureStore::WriteToOnlineStore(const std::string& view,
                                                             const arrow::Table& df,
                                                             std::string_view idempotency_key) {
  // Writing the same rows again leaves the online store as it was: the claim only refuses a
  // key reused for other rows, or a copy of a request still in progress.
  ARROW_ASSIGN_OR_RAISE(auto claim, ClaimKey(idempotency_key, "write-to-online-store " + view, df));
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Definitions& definitions = current->registry.definitions;
  const auto bounds = ingest::EventTimeBounds::At(config_, clock_->Now());
  ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/true));
  const registry::OnDemandFeatureView* on_demand = definitions.FindOnDemandFeatureView(view);
  if (on_demand != nullptr && on_demand->write_to_online_store) {
    // Feast's write of an on-demand view: `df` holds its source's rows; only its values are
    // stored.
    const registry::FeatureView& source = *definitions.FindFeatureView(on_demand->sources[0].view);
    ARROW_ASSIGN_OR_RAISE(auto rows, ingest::EncodeRows(definitions, source, df, bounds));
    online::WriteResult result;
    ARROW_RETURN_NOT_OK(WriteStoredValues({current->catalog->FindOnDemandView(view)}, rows.keys,
                                          Rows(rows.values), clock_->Now(), online.get(), &result));
    ARROW_RETURN_NOT_OK(online->Sync());
    return result;
  }
  ARROW_ASSIGN_OR_RAISE(auto result,
                        ingest::WriteToOnlineStore(definitions, view, df, bounds, online.get()));
  ARROW_RETURN_NOT_OK(WriteStoredFollowers(*current, {view}, df, online.get()));
  return result;
}

Status FeatureStore::WriteStoredFollowers(const Snapshot& snapshot,
                                          const std::vector<std::string>& views,
                                          const arrow::Table& df, online::OnlineStore* store) {
  bool wrote = false;
  for (const std::string& view : views) {
    auto stored = StoredOnDemandViews(snapshot, view);
    if (stored.empty()) continue;
    const registry::Definitions& definitions = snapshot.registry.definitions;
    ARROW_ASSIGN_OR_RAISE(auto rows,
                          ingest::EncodeRows(definitions, *definitions.FindFeatureView(view), df,
                                             ingest::EventTimeBounds::At(config_, clock_->Now())));
    ARROW_RETURN_NOT_OK(
        WriteStoredValues(stored, rows.keys, Rows(rows.values), clock_->Now(), store));
    wrote = true;
  }
  return wrote ? store->Sync() : Status::OK();
}

Result<std::map<std::string, FeatureType>> FeatureStore::WriteColumns(const std::string& view) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Definitions& definitions = current->registry.definitions;
  const registry::FeatureView* found = definitions.FindFeatureView(view);
  const registry::OnDemandFeatureView* on_demand = definitions.FindOnDemandFeatureView(view);
  if (found == nullptr && on_demand != nullptr && on_demand->write_to_online_store) {
    found = definitions.FindFeatureView(on_demand->sources[0].view);  // its rows are written
  }
  if (found == nullptr) return NotFound(Missing::kFeatureView, "unknown feature view '", view, "'");
  std::map<std::string, FeatureType> columns;
  ingest::AddOnlineWriteColumns(definitions, *found, &columns);
  return columns;
}

Result<offline::ViewStatistics> FeatureStore::FeatureStatistics(
    const std::string& view, const offline::StatisticsOptions& options) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Definitions& definitions = current->registry.definitions;
  const registry::FeatureView* found = definitions.FindFeatureView(view);
  if (found == nullptr) return NotFound(Missing::kFeatureView, "unknown feature view '", view, "'");
  return offline::ComputeFeatureStatistics(config_, definitions, *found, options);
}

Result<std::map<std::string, FeatureType>> FeatureStore::PushColumns(const std::string& source,
                                                                     ingest::PushTargets to) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Definitions& definitions = current->registry.definitions;
  const registry::DataSource* push = definitions.FindSource(source);
  if (push == nullptr || push->type != registry::SourceType::kPush) {
    return NotFound(Missing::kPushSource, "unknown push source '", source, "'");
  }
  std::map<std::string, FeatureType> columns;
  for (const auto& view : definitions.feature_views) {
    if (view.source == source) ingest::AddOnlineWriteColumns(definitions, view, &columns);
  }
  // Rows bound for the batch source (offline, or a stream view's pipeline) need its columns.
  if (to.offline || (to.online && FeedsStreamView(definitions, source))) {
    ARROW_RETURN_NOT_OK(ingest::AddOfflineWriteColumns(
        config_, *definitions.FindSource(push->batch_source), &columns));
  }
  return columns;
}

Result<ingest::PushResult> FeatureStore::Push(const std::string& source, const arrow::Table& df,
                                              ingest::PushTargets to,
                                              std::string_view idempotency_key) {
  ARROW_ASSIGN_OR_RAISE(
      auto claim,
      ClaimKey(idempotency_key,
               fmt::format("push {} online={} offline={}", source, to.online, to.offline), df));
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Definitions& definitions = current->registry.definitions;
  const bool through_pipeline = to.online && FeedsStreamView(definitions, source);
  std::shared_lock streams_lock(state_->streams_mutex);
  if (through_pipeline && state_->streams == nullptr) {
    // A push to a stream view runs this process's pipelines, started on first need.
    streams_lock.unlock();
    {
      std::unique_lock start_lock(state_->streams_mutex);
      if (state_->streams == nullptr) ARROW_RETURN_NOT_OK(StartStreamsLocked(definitions));
    }
    streams_lock.lock();
  }
  ingest::SourcePipeline* pipeline =
      through_pipeline && state_->streams != nullptr ? state_->streams->pipeline(source) : nullptr;
  std::optional<OnlineUse> online;
  if (to.online) {
    ARROW_ASSIGN_OR_RAISE(online, UseOnline(/*write=*/true));
  }
  ARROW_ASSIGN_OR_RAISE(auto result, ingest::Push(config_, definitions, source, df, to,
                                                  online ? online->get() : nullptr, pipeline,
                                                  *clock_, idempotency_key));
  result.repeated = claim->retry();
  if (online) {
    ARROW_RETURN_NOT_OK(WriteStoredFollowers(*current, result.online_views, df, online->get()));
  }
  return result;
}

// --- Materialization

Result<std::vector<ingest::ViewMaterialization>> FeatureStore::Materialize(
    const MaterializeRequest& request) {
  if (request.start && request.start->micros >= request.end.micros) {
    return Status::Invalid("the start ", FormatTimestamp(*request.start),
                           " must be before the end ", FormatTimestamp(request.end));
  }
  const Timestamp now = clock_->Now();
  const Timestamp end = ingest::ClampMaterializeEnd(request.end, now);
  if (request.start && request.start->micros >= end.micros) {
    return Status::Invalid("the start ", FormatTimestamp(*request.start), " is not before now (",
                           FormatTimestamp(now), ")");
  }
  ARROW_ASSIGN_OR_RAISE(bool on_flink, OnFlink(config_, request.engine));
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  const registry::Registry& registry = current->registry;
  ARROW_ASSIGN_OR_RAISE(auto views, ingest::SelectOnlineViews(registry.definitions, request.views));
  ingest::MaterializeViewsOptions options;
  if (request.start) {
    options.start_of =
        [start = *request.start](const registry::FeatureView&) -> Result<std::optional<Timestamp>> {
      return std::optional<Timestamp>(start);
    };
  } else {
    options.start_of = ingest::IncrementalStart(config_, registry);
  }
  options.end = end;
  options.clock = clock_;
  if (end.micros < request.end.micros) options.requested_end = request.end;
  options.threads = request.threads;
  options.progress = request.progress;
  options.on_view = request.on_view;
  if (on_flink) {
    options.latest_elsewhere = [&](const registry::FeatureView& view, Timestamp start,
                                   Timestamp end) {
      return flink::LatestRowsOnFlink(config_, registry.definitions, view, start, end);
    };
    options.tiles_elsewhere = [&](const registry::FeatureView& view, Timestamp first,
                                  Timestamp end) {
      return flink::BackfillTilesOnFlink(config_, registry.definitions, view, first, end);
    };
  }
  std::vector<ingest::ViewMaterialization> outcomes;
  {
    std::lock_guard lock(state_->materialize_mutex);
    ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/true));
    ARROW_ASSIGN_OR_RAISE(
        outcomes, ingest::MaterializeViews(config_, registry, views, online.get(), options));
    // Stored on-demand values follow their source: recomputed from all its online rows.
    bool wrote = false;
    for (const auto& outcome : outcomes) {
      auto stored = StoredOnDemandViews(*current, outcome.view);
      if (stored.empty()) continue;
      ByteRows keys, values;
      Status failed;
      auto flush = [&] {
        std::vector<std::string_view> rows(values.size());
        for (size_t i = 0; i < values.size(); ++i) rows[i] = values[i];
        Status done = WriteStoredValues(stored, keys, rows, clock_->Now(), online.get());
        keys.Clear();
        values.Clear();
        return done;
      };
      ARROW_RETURN_NOT_OK(
          online->Scan(outcome.view, [&](std::string_view key, std::string_view value) {
            if (!failed.ok()) return;
            keys.data.append(key);
            keys.FinishRow();
            values.data.append(value);
            values.FinishRow();
            if (keys.size() == 8192) failed = flush();
          }));
      ARROW_RETURN_NOT_OK(failed);
      ARROW_RETURN_NOT_OK(flush());
      wrote = true;
    }
    if (wrote) ARROW_RETURN_NOT_OK(online->Sync());
  }
  ARROW_RETURN_NOT_OK(Refresh().status());  // the new markers
  return outcomes;
}

}  // namespace headwater::store
