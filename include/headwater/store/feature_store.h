#pragma once
// The feature-store core: one repository — its configuration, registry snapshot, online store,
// offline datasets and stream pipelines — with every domain operation as a method, the way
// Feast has one FeatureStore under its CLI, server and SDK. The CLI, the HTTP server and the
// Python package are adapters: they parse their input, call one method, render its result.
// Each domain rule (a time bound, the incremental marker, registry reloads, which columns a
// write reads) lives here or below, once, with one message.
//
// Threads: every method may be called from several threads at once. Reads use the registry
// snapshot they start with and never wait for a reload; writes, pushes and materializations
// share the online store; one materialization and one apply run at a time.

#include <arrow/type_fwd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "headwater/core/clock.h"
#include "headwater/flink/flink_jobs.h"
#include "headwater/ingest/materializer.h"
#include "headwater/ingest/stream_runner.h"
#include "headwater/ingest/writes.h"
#include "headwater/offline/feature_statistics.h"
#include "headwater/offline/historical_retrieval.h"
#include "headwater/offline/source_pull.h"
#include "headwater/online/online_reader.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/registry_diff.h"
#include "headwater/registry/registry_store.h"
#include "headwater/registry/repo_config.h"

namespace headwater::store {

/// How a FeatureStore holds the repository's online store.
enum class OnlineAccess {
  /// Opened when first needed, for reading until a write needs it (a CLI command, a Python
  /// session). Default.
  kOnDemand,
  /// Opened for writing by Open and held until Close (`headwater serve`, `headwater stream`).
  /// An embedded store has one writer, so the holder also applies what a registry reload
  /// changes online (the values of views removed or whose features changed are dropped).
  kHeld,
};

struct OpenOptions {
  /// "Now" for TTLs, event-time bounds and materialization ends; must outlive the store.
  /// Default: the system clock.
  const Clock* clock = nullptr;
  /// Default kOnDemand.
  OnlineAccess online = OnlineAccess::kOnDemand;
  /// Run the pipelines of every stream view from Open on, restarted when a reload changes the
  /// stream views (needs kHeld). Default false: a push to a stream view starts them when it
  /// first needs them.
  bool run_streams = false;
  /// Check the registry file on every call that reads it, so each sees the latest apply (a
  /// CLI command, a Python session). A server that refreshes on a timer turns it off and reads
  /// without a file check. Default true.
  bool refresh_on_use = true;
  /// Receives one line per problem met in the background: a stream pipeline's, a registry that
  /// cannot be reloaded. Default: standard error.
  std::function<void(std::string_view)> log;
};

/// One registry version and what reads need from it; immutable, so a request keeps the
/// snapshot it started with while a reload swaps in the next.
struct Snapshot {
  registry::Registry registry;
  std::shared_ptr<const online::OnlineCatalog> catalog;
};

/// The features a read asks for: "view:feature" references, or a feature service.
struct FeatureSelection {
  std::vector<std::string> references;
  std::string service;
};

struct ApplyOptions {
  /// Only validate and report the changes (`plan`). Default false.
  bool dry_run = false;
  /// Merge into the applied definitions instead of replacing them (Feast's FeatureStore.apply).
  /// Default false.
  bool partial = false;
  /// Objects to remove after merging (Feast's objects_to_delete), as (kind, name) with kind
  /// "entity", "data_source", "feature_view" or "feature_service". An unknown one is a
  /// KeyError; what still refers to a removed object fails validation, naming it.
  std::vector<std::pair<std::string, std::string>> remove;
};

struct ApplyOutcome {
  std::vector<registry::Change> changes;
  /// The registry version after the apply (before it, for a plan or when nothing changed).
  int64_t version = 0;
  /// What changed, as `headwater plan` and `apply` print it.
  std::string report;
};

struct MaterializeRequest {
  /// Rows with start <= event time < end. Without a start, each view starts where its last run
  /// ended, or at its oldest row (materialize-incremental). `end` may not be in the future.
  std::optional<Timestamp> start;
  Timestamp end;
  /// The online views to materialize; empty: all of them.
  std::vector<std::string> views;
  /// Worker threads; 0 means one per core.
  int threads = 0;
  /// Which batch engine computes the latest rows: "" the configuration's (batch_engine),
  /// "embedded" or "flink".
  std::string engine;
  /// Called as row groups finish (from worker threads), and with each view's outcome; may be
  /// empty.
  std::function<void(const std::string& view, const ingest::MaterializeProgress&)> progress;
  std::function<void(const ingest::ViewMaterialization&)> on_view;
};

/// A feature selection resolved against one registry snapshot for online reads.
struct OnlineSelection {
  /// Keeps the catalog the features point into alive.
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<online::OnlineCatalog::Feature> features;
  /// The join keys the features' views need and the request values their on-demand views need,
  /// with the types to read them as (integers as Int64): what an adapter decoding entity rows
  /// from text needs to know.
  std::map<std::string, FeatureType> column_types;
};

/// A stream pipeline's state, for metrics.
struct StreamStatus {
  std::string source;
  std::vector<std::string> views;
  ingest::StreamStats stats;
  std::map<int32_t, int64_t> positions;
};

/// The applied stream views' Flink jobs as the cluster reports them now, and the views that
/// stay on the embedded engine, with why.
struct FlinkJobs {
  std::vector<flink::JobStatus> jobs;
  std::vector<std::pair<std::string, std::string>> embedded;  // view, reason
};

/// What the stream views' Flink jobs look like (stream_engine: flink), as last polled.
struct FlinkHealth {
  bool checked = false;                                   // polled at least once
  std::string error;                                      // Flink unreachable or answering errors
  std::vector<std::pair<std::string, std::string>> jobs;  // view, Flink job state
  bool ok() const {
    if (!error.empty()) return false;
    for (const auto& job : jobs) {
      if (job.second != "RUNNING") return false;
    }
    return true;
  }
};

class FeatureStore {
 public:
  /// Opens the repository at `repo` (its feature_store.yaml) or with `config`. With kHeld, the
  /// online store is opened for writing and, with run_streams, the pipelines started.
  static Result<std::unique_ptr<FeatureStore>> Open(const std::filesystem::path& repo,
                                                    OpenOptions options = {});
  static Result<std::unique_ptr<FeatureStore>> Open(registry::RepoConfig config,
                                                    OpenOptions options = {});
  /// Close.
  ~FeatureStore();

  const registry::RepoConfig& config() const { return config_; }
  const Clock& clock() const { return *clock_; }

  // --- The registry

  /// Re-reads the registry when its file changed (size or modification time) and makes it the
  /// snapshot; returns whether it did. A file that cannot be read leaves the current snapshot
  /// in place: the error is returned and kept for registry_error() until a good file is read.
  Result<bool> Refresh();
  /// The snapshot to read from (refreshed first, with refresh_on_use); Invalid when nothing is
  /// applied yet.
  Result<std::shared_ptr<const Snapshot>> Applied();
  /// The current snapshot, without looking at the file (null before anything is applied): for
  /// a server that refreshes on a timer.
  std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(); }
  /// Why the registry file last failed to load; empty while it loads.
  std::string registry_error() const;

  // --- Definitions

  /// Makes `next` the repository's definitions (see ApplyOptions): validates them, makes room
  /// in the online store for new online views and drops the values of views that are gone or
  /// whose features changed, then writes the next registry version — all under the registry
  /// lock.
  Result<ApplyOutcome> Apply(registry::Definitions next, const ApplyOptions& options = {});
  /// Removes what apply created: the online store's data and the registry. Returns what it
  /// removed, as `headwater teardown` prints it.
  Result<std::string> Teardown();

  // --- Training data

  /// Point-in-time join of the selected features onto `entity_rows`
  /// (offline/historical_retrieval.h).
  Result<std::shared_ptr<arrow::Table>> GetHistoricalFeatures(
      const std::shared_ptr<arrow::Table>& entity_rows, const FeatureSelection& features,
      const offline::HistoricalRetrievalOptions& options = {},
      offline::RetrievalStats* stats = nullptr);
  /// Reads entity rows from a Parquet or CSV file, CSV columns typed as the selection needs.
  Result<std::shared_ptr<arrow::Table>> ReadEntityRows(
      const std::filesystem::path& path, const FeatureSelection& features,
      const offline::HistoricalRetrievalOptions& options = {});

  /// Entity rows selected by a Flink SQL query over the file sources (flink/flink_batch.h), on
  /// batch_engine's cluster.
  Result<std::shared_ptr<arrow::Table>> QueryEntityRows(const std::string& query);

  /// Feast's pulls from a data source (offline/source_pull.h): every row in a time range, or
  /// each key's latest; a push or Kafka source is read through its batch source.
  Result<std::shared_ptr<arrow::Table>> PullFromSource(const std::string& source,
                                                       const offline::PullRequest& request,
                                                       bool latest);
  /// The Arrow schema of a data source's files (a push or Kafka source's batch source).
  Result<std::shared_ptr<arrow::Schema>> SourceSchema(const std::string& source);
  /// Feast's write_to_offline_store (ingest/writes.h); returns the file written.
  Result<std::string> WriteToOfflineStore(const std::string& view, const arrow::Table& df);

  // --- Online

  /// A selection resolved for online reads: resolve once per request, then decode the entity
  /// rows with its key types and read with it.
  Result<OnlineSelection> SelectOnline(const FeatureSelection& features);
  /// The selected features' online values for `entities` (a column per join key), with Feast's
  /// statuses, read with one store call. `entities` must outlive the answer.
  Result<online::OnlineFeatures> GetOnlineFeatures(const online::EntityRows& entities,
                                                   OnlineSelection selection,
                                                   bool full_feature_names);
  /// The same, Arrow in and Arrow out: the entity columns, then one column per feature.
  Result<std::shared_ptr<arrow::RecordBatch>> GetOnlineFeatures(const arrow::RecordBatch& entities,
                                                                const FeatureSelection& features,
                                                                bool full_feature_names);
  /// Feast's write_to_online_store (ingest/writes.h), checked against the event-time bounds.
  /// An `idempotency_key` (ingest/idempotency.h) is claimed in the ledger first: a key used
  /// for other rows, or whose request is in progress, is refused (AlreadyExists).
  Result<online::WriteResult> WriteToOnlineStore(const std::string& view, const arrow::Table& df,
                                                 std::string_view idempotency_key = {});
  /// Feast's push (ingest/writes.h): online through this store's stream pipelines when the
  /// source feeds stream views (starting them if needed), offline as an appended file. With an
  /// `idempotency_key` (ingest/idempotency.h), a retry counts once: the key is claimed in the
  /// ledger first, and every write skips what an earlier attempt wrote.
  Result<ingest::PushResult> Push(const std::string& source, const arrow::Table& df,
                                  ingest::PushTargets to, std::string_view idempotency_key = {});
  /// The columns, with their types, a write to `view` reads (KeyError for an unknown view).
  Result<std::map<std::string, FeatureType>> WriteColumns(const std::string& view);
  /// Statistics of a feature view's offline data (offline/feature_statistics.h).
  Result<offline::ViewStatistics> FeatureStatistics(const std::string& view,
                                                    const offline::StatisticsOptions& options);
  /// The columns, with their types, a push to `source` with `to` reads (KeyError for an unknown
  /// push source).
  Result<std::map<std::string, FeatureType>> PushColumns(const std::string& source,
                                                         ingest::PushTargets to);
  /// Whether the online store answers (OnlineStore::Ping): Unavailable, with the cause, when
  /// its server is down.
  Status PingOnline();
  /// The newest event time of a view's online values, or nullopt when it has none.
  Result<std::optional<Timestamp>> NewestOnlineEventTime(const std::string& view);
  /// Calls `visit` with each online key and value of `view`, in key order (online-dump).
  Status ScanOnline(const std::string& view,
                    const std::function<void(std::string_view, std::string_view)>& visit);

  // --- Materialization

  /// Materializes the request's views one at a time: each view's latest rows are written and
  /// synced online, and only then its interval recorded in the registry.
  Result<std::vector<ingest::ViewMaterialization>> Materialize(const MaterializeRequest& request);

  // --- Streams

  /// The running pipelines' counters and positions.
  std::vector<StreamStatus> StreamStatuses();
  /// The Flink jobs, as a thread polls them while the pipelines run; nullopt when the stream
  /// views do not run on Flink.
  std::optional<FlinkHealth> Flink();
  /// The Flink jobs of the applied stream views, asked of the cluster now (flink status).
  /// Fails when stream_engine is not flink or the cluster does not answer.
  Result<FlinkJobs> FlinkJobStatuses();

  /// Stops the stream pipelines with a last checkpoint and releases the online store.
  Status Close();

 private:
  struct State;
  // The online store with the shared lock that keeps it from being replaced meanwhile.
  class OnlineUse {
   public:
    OnlineUse(std::shared_lock<std::shared_mutex> lock, online::OnlineStore* store)
        : lock_(std::move(lock)), store_(store) {}
    online::OnlineStore* operator->() const { return store_; }
    online::OnlineStore* get() const { return store_; }

   private:
    std::shared_lock<std::shared_mutex> lock_;
    online::OnlineStore* store_;
  };
  class ClaimedKey;
  FeatureStore(registry::RepoConfig config, OpenOptions options);
  // Claims an idempotency key for a request (`what` and its rows) until the result goes; an
  // empty key claims nothing.
  Result<std::unique_ptr<ClaimedKey>> ClaimKey(std::string_view key, std::string_view what,
                                               const arrow::Table& df);
  Result<bool> Reload();
  // The online store, held against replacement while the use lives; opened (or reopened for
  // writing) on demand.
  Result<OnlineUse> UseOnline(bool write);
  // Starts the pipelines of `definitions`' stream views; the caller holds the streams lock.
  Status StartStreamsLocked(const registry::Definitions& definitions);
  Status StopStreamsLocked();
  // Writes the stored on-demand values computed from rows `df` written to `views`.
  Status WriteStoredFollowers(const Snapshot& snapshot, const std::vector<std::string>& views,
                              const arrow::Table& df, online::OnlineStore* store);
  Result<std::vector<online::OnlineCatalog::Feature>> Resolve(const Snapshot& snapshot,
                                                              const FeatureSelection& features);

  registry::RepoConfig config_;
  const Clock* clock_;
  OpenOptions options_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::unique_ptr<State> state_;  // locks, the store handle, the pipelines
};

}  // namespace headwater::store
