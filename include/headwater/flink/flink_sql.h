#pragma once
// Compiles a repository's stream feature views to Apache Flink SQL jobs (docs/flink.md).
//
// One job per stream view over a Kafka source. Flink computes, per key and pane (one step of
// the view's grid, a TUMBLE window), the view's tiles with `headwater_tile` (flink/udf: Tile::Add
// written in Java, bit for bit) and writes them, exactly-once, to the view's tile topic;
// Headwater's WindowAggregator::ConsumeTiles merges them into windows, so values, empty
// windows, decay rows and `last` ties are the embedded engine's by construction. Lateness is
// judged by Flink as the embedded engine judges it: the watermark is emitted after every event
// and trails it by watermark_delay + allowed_lateness + 1 ms (Flink fires a window at
// `end - 1 ms`). Messages are read by `headwater_event` (flink/udf: Event.java) by the embedded
// engine's rules; what it refuses, and late events, go to the tile topic as rejects, which
// Headwater dead-letters.
//
// What Flink cannot compute as the embedded engine does is refused with the view, the feature
// and the reason. Compiling is deterministic: the same definitions give the same text.

#include <string>
#include <vector>

#include "headwater/core/status.h"
#include "headwater/ingest/window_job.h"  // the tile message columns
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::flink {

/// One stream view's Flink job.
struct FlinkJob {
  std::string view;
  std::string source;             // the Kafka source it reads
  std::string bootstrap_servers;  // of the source, and of the tile topic
  std::string job_name;           // pipeline.name: headwater-<project>-<view>
  std::string tile_topic;         // headwater-<project>-<view>-tiles
  /// Self-contained, in order: SETs, the functions, the tables and view, then the statement
  /// set of the tiles' and the rejects' INSERTs (each without its ';').
  std::vector<std::string> statements;
  std::string sql;          // the statements as a script
  std::string fingerprint;  // of `sql`: a different one means the job must be resubmitted
  /// Of what gives the job's window state its meaning (the source topic, keys, aggregated
  /// columns, the grid): a different one means a savepoint cannot be reused.
  std::string state_fingerprint;
};

struct FlinkPipeline {
  std::vector<FlinkJob> jobs;
  /// Stream views that stay on the embedded engine (push sources), with the reason.
  std::vector<std::pair<std::string, std::string>> embedded;
  /// pipeline.sql: every job, commented with the view and where it is defined.
  std::string Script() const;
};

/// Where the jobs keep their checkpoints (`execution.checkpointing.dir`, retained when a job
/// ends): table_config's, or `file://<stream.path>/flink-checkpoints`.
std::string CheckpointDirectory(const registry::RepoConfig& config);

/// The jars a cluster needs in lib/ (Maven coordinates, or the function jar's file name).
std::vector<std::string> RequiredJars();

/// Compiles every stream view. Fails on the first view Flink cannot run as the embedded engine.
Result<FlinkPipeline> CompileFlink(const registry::RepoConfig& config,
                                   const registry::Definitions& definitions);

}  // namespace headwater::flink
