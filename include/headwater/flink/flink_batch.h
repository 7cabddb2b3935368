#pragma once
// The batch engine on Apache Flink (`batch_engine: flink`, docs/flink.md): training data and
// materialization computed by Flink SQL jobs in batch mode over the sources' Parquet files, with
// the embedded engine's rules (src/flink/README.md, "The batch engine").
//
// Flink computes, Headwater stores: a job reads the sources through Flink's filesystem connector,
// and Headwater's entity rows from Parquet it stages; it writes its answer as Parquet under the
// staging location, which Headwater reads back, puts in order, and passes on to the same code the
// embedded engine feeds (on-demand views, the online writer, the incremental marker).
//
// Rules Flink SQL cannot see are refused or reported, never silently different: a source
// directory must hold only the Parquet files the embedded engine reads (Flink reads them all),
// with ASCII names (the file order is Flink's `file.path` order); rows tied on key, event time
// and created time within one file are counted (Flink sees no row order within a file).

#include <arrow/type_fwd.h>

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/core/time.h"
#include "headwater/ingest/materializer.h"
#include "headwater/offline/historical_retrieval.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::flink {

/// One batch job: self-contained statements, in order (SETs, the tables, one statement set).
struct BatchJob {
  std::string name;  // pipeline.name
  std::vector<std::string> statements;
  /// The statements as a script, each ended by ';'.
  std::string Script() const;
};

/// The point-in-time joins of one retrieval as one job. The entity rows are staged at
/// `staging`/entities as Parquet with the columns `__row` (ordinal), the join keys `key_names`
/// (their Arrow types in `key_types`) and `__ts` (timestamp[us, UTC]); join j's answer goes to
/// `staging`/join-<j> (`__row`, its features, then `__ts` when it needs the event time) and
/// the count of its source's ambiguous ties to `staging`/ties-<j>.
Result<BatchJob> CompileRetrievalJob(const registry::RepoConfig& config,
                                     const registry::Definitions& definitions,
                                     const std::vector<offline::ViewJoin>& joins,
                                     const std::vector<std::string>& key_names,
                                     const std::vector<std::shared_ptr<arrow::DataType>>& key_types,
                                     const std::filesystem::path& staging);

/// A plain view's materialization over [start, end) as one job: the latest row per key to
/// `staging`/latest (the view's join keys, `__ts`, `__created`, its features) and the counts
/// (rows read, rows in range, ambiguous ties) to `staging`/counts.
Result<BatchJob> CompileMaterializeJob(const registry::RepoConfig& config,
                                       const registry::Definitions& definitions,
                                       const registry::FeatureView& view, Timestamp start,
                                       Timestamp end, const std::filesystem::path& staging);

/// A stream view's windowed backfill as one job: the tiles of every key and pane of the view's
/// grid from the events with time in [first, end) (ingest/window_job.h's tile message columns,
/// the pane's greatest event time in microseconds; folded by `headwater_tile` as the stream jobs
/// fold) to `staging`/tiles, and the count of groups of events tied on key, time and file to
/// `staging`/ties.
Result<BatchJob> CompileBackfillJob(const registry::RepoConfig& config,
                                    const registry::Definitions& definitions,
                                    const registry::FeatureView& view, Timestamp first,
                                    Timestamp end, const std::filesystem::path& staging);

/// Entity rows selected by `query` as one job: every file source declared as a table of its
/// name, `CREATE TABLE ... AS <query>` into `staging`/entities.
BatchJob CompileEntityQueryJob(const registry::RepoConfig& config,
                               const registry::Definitions& definitions, const std::string& query,
                               const std::filesystem::path& staging);

/// batch.sql of `headwater compile flink`: every view's batch jobs as `--engine flink` runs them
/// (materialization or backfill over [epoch, now), training data per view), each commented;
/// a view Flink cannot run says why.
std::string BatchScript(const registry::RepoConfig& config,
                        const registry::Definitions& definitions, Timestamp now);

/// offline::JoinElsewhere on the cluster of `config.batch_engine`: stages the entity rows, runs
/// the job, reads the answers back in entity-row order, typed as the features. Adds the matches
/// and the ambiguous ties to `stats` (may be null).
Result<offline::JoinedColumns> JoinOnFlink(const registry::RepoConfig& config,
                                           const registry::Definitions& definitions,
                                           const std::vector<offline::ViewJoin>& joins,
                                           const arrow::Table& entity_rows,
                                           std::span<const int64_t> entity_times,
                                           offline::RetrievalStats* stats);

/// The latest row per key of a plain view's source with event time in [start, end), on Flink
/// (ingest::LatestRowsElsewhere).
Result<ingest::LatestRows> LatestRowsOnFlink(const registry::RepoConfig& config,
                                             const registry::Definitions& definitions,
                                             const registry::FeatureView& view, Timestamp start,
                                             Timestamp end);

/// Entity rows selected by a Flink SQL query (Feast's engines accept SQL for entity_df) over
/// the file sources, each a table of its name; in the order Flink writes them (add ORDER BY
/// and parallelism 1 for a fixed order). An empty answer is an error.
Result<std::shared_ptr<arrow::Table>> QueryOnFlink(const registry::RepoConfig& config,
                                                   const registry::Definitions& definitions,
                                                   const std::string& query);

/// A stream view's tiles over [first, end), on Flink (ingest::TilesElsewhere).
Result<ingest::FlinkTiles> BackfillTilesOnFlink(const registry::RepoConfig& config,
                                                const registry::Definitions& definitions,
                                                const registry::FeatureView& view, Timestamp first,
                                                Timestamp end);

}  // namespace headwater::flink
