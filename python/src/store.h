#pragma once
// The core behind headwater.FeatureStore: one repository's registry, online store and (when a
// push feeds stream views) stream pipelines, used from Python. Plain C++ with Status results;
// py_store.cc turns it into the Python class.

#include <arrow/type_fwd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "headwater/ingest/stream_runner.h"
#include "headwater/ingest/writes.h"
#include "headwater/online/online_reader.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::python {

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& repo_path);
  ~Store();

  const registry::RepoConfig& config() const { return config_; }

  /// Applies (or with `dry_run`, plans) the objects in `yaml` merged into the registry.
  /// Returns the report and the registry version after.
  Result<std::pair<std::string, int64_t>> Apply(const std::string& yaml, bool dry_run);
  /// The registry as JSON (registry/registry_store.h).
  Result<std::string> RegistryJson();

  /// Point-in-time join of `features` (or the feature service) onto `entities`.
  Result<std::shared_ptr<arrow::Table>> Historical(const std::shared_ptr<arrow::Table>& entities,
                                                   const std::vector<std::string>& features,
                                                   const std::string& feature_service,
                                                   bool full_feature_names);
  /// Online values of `features` (or the service) for the rows of `entities`.
  Result<std::shared_ptr<arrow::RecordBatch>> Online(const arrow::RecordBatch& entities,
                                                     const std::vector<std::string>& features,
                                                     const std::string& feature_service,
                                                     bool full_feature_names);
  Result<ingest::PushResult> Push(const std::string& source, const arrow::Table& df,
                                  const std::string& to);
  Result<online::WriteResult> WriteToOnlineStore(const std::string& view, const arrow::Table& df);
  /// Materializes [start, end) (incremental: from where each view's last run ended); returns
  /// one line per view, as the CLI prints them.
  Result<std::string> Materialize(std::optional<Timestamp> start, Timestamp end,
                                  const std::vector<std::string>& views);
  /// Removes the online store and the registry (headwater teardown); returns what it removed.
  Result<std::string> Teardown();
  /// Stops stream pipelines (with a checkpoint) and closes the online store.
  Status Close();

 private:
  struct Snapshot {
    registry::Registry registry;
    std::shared_ptr<const online::OnlineCatalog> catalog;
    std::string stamp;  // size and mtime of the registry file it was read from
  };
  explicit Store(registry::RepoConfig config) : config_(std::move(config)) {}
  // The registry, re-read when its file changed; Invalid when nothing was applied yet.
  Result<std::shared_ptr<const Snapshot>> Current();
  Result<online::OnlineStore*> OnlineStore(online::OpenMode mode);

  registry::RepoConfig config_;
  std::mutex mutex_;  // one call at a time: the store handle and snapshot are replaced in calls
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<online::OnlineStore> store_;
  online::OpenMode store_mode_ = online::OpenMode::kReadOnly;
  std::unique_ptr<ingest::StreamRunner> streams_;
};

}  // namespace headwater::python
