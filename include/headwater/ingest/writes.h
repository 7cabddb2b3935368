#pragma once
// Rows written by callers rather than read from sources: Feast's write_to_online_store and push,
// for the HTTP server (which turns JSON into a table first) and the Python package (which hands
// over Arrow data). Every value is checked and encoded before anything is written, so a bad row
// writes nothing.

#include <arrow/type_fwd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "headwater/core/clock.h"
#include "headwater/ingest/event_time_bounds.h"
#include "headwater/ingest/stream_pipeline.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::ingest {

/// The columns writing to `view` reads — join keys, the source's timestamp and created columns,
/// the features — with their types, added to `columns` (existing entries are kept).
void AddOnlineWriteColumns(const registry::Definitions& definitions,
                           const registry::FeatureView& view,
                           std::map<std::string, FeatureType>* columns);

/// The columns appending to the batch source `batch` reads (its file schema, under both source
/// and mapped names), added to `columns`.
Status AddOfflineWriteColumns(const registry::RepoConfig& config, const registry::DataSource& batch,
                              std::map<std::string, FeatureType>* columns);

/// One view's rows, encoded for the online store.
struct EncodedRows {
  const registry::FeatureView* view = nullptr;
  ByteRows keys;
  ByteRows values;
};

/// Encodes the rows of `df` for `view`. Columns are found by name and converted to the view's
/// types (any integer width, string and timestamp variant; lossy conversions, and doubles beyond
/// Float32's range, are Invalid). A missing column, a null key or event time, an event or
/// created time outside `bounds`, or a value that does not convert is Invalid, naming the column
/// and the row ("df.rate[3]: 1e+300 is out of range for Float32").
Result<EncodedRows> EncodeRows(const registry::Definitions& definitions,
                               const registry::FeatureView& view, const arrow::Table& df,
                               const EventTimeBounds& bounds);

/// Writes `df` to the online store under `view_name` and syncs the store; EncodeRows' checks
/// first, so a bad row writes nothing.
Result<online::WriteResult> WriteToOnlineStore(const registry::Definitions& definitions,
                                               const std::string& view_name, const arrow::Table& df,
                                               const EventTimeBounds& bounds,
                                               online::OnlineStore* store);

/// Where pushed rows go (Feast's PushMode).
struct PushTargets {
  bool online = true;
  bool offline = false;
};

/// Parses "online", "offline", "online_and_offline" (or "both").
Result<PushTargets> ParsePushTargets(const std::string& to);

struct PushResult {
  int64_t rows = 0;
  /// The file appended to the batch source's directory, or the batch source's single file
  /// rewritten with the rows appended; empty when not offline.
  std::string offline_file;
  /// The views whose online values the push wrote (through `pipeline` for stream views).
  std::vector<std::string> online_views;
  int64_t written = 0;
  /// The push carried an idempotency key seen before: a retry, which wrote only what the first
  /// attempt had not.
  bool repeated = false;
};

/// Pushes `df` to the push source `source_name`: online to every online batch view on it (and
/// through `pipeline`, when given, to its stream views), offline as a new Parquet file in its
/// batch source's directory — or, when the batch source is one file (Feast's template), by
/// rewriting that file with the rows appended, under a lock beside it (`<file>.lock`) and
/// through the one atomic write (cost: the file's size per push). Every mode checks the same way
/// before the first write: join keys and event times present, event and created times within
/// EventTimeBounds at `clock`'s now, values that fit their columns. With an `idempotency_key`,
/// each write skips what it already holds from an earlier attempt (ingest/idempotency.h).
Result<PushResult> Push(const registry::RepoConfig& config,
                        const registry::Definitions& definitions, const std::string& source_name,
                        const arrow::Table& df, PushTargets to, online::OnlineStore* store,
                        SourcePipeline* pipeline, const Clock& clock,
                        std::string_view idempotency_key = {});

/// Feast's write_to_offline_store: appends `df` to the offline dataset of `view_name` (its file
/// source, or the batch source of its push or Kafka source) as a push to offline does, with the
/// same checks first. Returns the file written; empty for no rows.
Result<std::string> WriteToOfflineStore(const registry::RepoConfig& config,
                                        const registry::Definitions& definitions,
                                        const std::string& view_name, const arrow::Table& df,
                                        const Clock& clock);

}  // namespace headwater::ingest
