#pragma once
// The stream pipeline of one source (push or Kafka): every stream feature view it feeds, with
// their window operators, the watermark, the sinks and the checkpoints.
//
// Data path: an event batch (the columns of the source's batch source) -> each view's
// WindowJob -> rows final under the watermark -> written to the online store at once, and kept
// for the view's offline dataset until the next checkpoint.
//
// Checkpoint n, in this order: (1) each view's pending rows become
// `<offline>/<view>/part-<n>.parquet`, the pending dead letters
// `<stream>/<source>/dead_letters/dead-<n>.jsonl` (each written atomically); (2) the online
// store is synced; (3) `<stream>/<source>/checkpoint` is replaced atomically with n, the source
// positions, the watermark and every operator's state. On open, files numbered above the
// checkpoint (written by a run that died before step 3) are deleted and the source is read again
// from the recorded positions: the operators, restored exactly, emit the same rows again, the
// online store keeps the greatest value per key, and the next checkpoint writes the same
// offline rows — so a crash at any point ends in the stores an uninterrupted run leaves.

#include <arrow/type_fwd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "headwater/core/clock.h"
#include "headwater/core/json_writer.h"
#include "headwater/engine/window_aggregator.h"
#include "headwater/ingest/window_job.h"
#include "headwater/ingest/write_ahead_log.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::ingest {

/// Counters of a pipeline since it started.
struct StreamStats {
  int64_t events = 0;        // events consumed
  int64_t late_events = 0;   // judged late: dead-lettered, not merged
  int64_t dead_letters = 0;  // late events and malformed input
  int64_t rows_emitted = 0;  // window rows finalised (online and offline)
  int64_t checkpoints = 0;
  int64_t watermark = INT64_MIN;
  /// The newest event time consumed (INT64_MIN before any), and the processing time of the last
  /// checkpoint committed (0 before any), both epoch microseconds.
  int64_t newest_event = INT64_MIN;
  int64_t last_checkpoint = 0;
  /// The last few dead-letter lines (at most kRecentDeadLetters), oldest first.
  static constexpr size_t kRecentDeadLetters = 10;
  std::vector<std::string> recent_dead_letters;
  /// Window freshness, the last samples (seconds): from the moment processing of the input
  /// that moved the watermark past windows' ends began, to their rows written online.
  std::vector<double> publish_seconds;
};

/// Dead letters of input read with the events (malformed messages, Flink's rejects): lines made
/// by SourcePipeline::DeadLetterLine, and how many of them are late events.
struct DeadLetters {
  std::vector<std::string> lines;
  int64_t late = 0;
};

class SourcePipeline {
 public:
  /// Opens the pipeline of `source` (push or Kafka) over the stream views it feeds; restores
  /// the last checkpoint and, for a push source, replays its write-ahead log past it.
  /// `per_event_watermark`: judge lateness event by event (one ordered input: a push source, a
  /// one-partition topic), which makes replays decide exactly as the first run did.
  static Result<std::unique_ptr<SourcePipeline>> Open(const registry::RepoConfig& config,
                                                      const registry::Definitions& definitions,
                                                      const registry::DataSource& source,
                                                      online::OnlineStore* store,
                                                      const Clock& clock,
                                                      bool per_event_watermark = true);

  /// The pipeline of a stream view computed on Flink (stream_engine: flink): its input is the
  /// view's tile topic (flink/flink_sql.h), each message one key's tiles of one pane, merged
  /// with WindowAggregator::ConsumeTiles. Named, and its state kept, as "flink-<view>".
  /// `per_event_watermark`: the topic has one partition (one Flink subtask).
  static Result<std::unique_ptr<SourcePipeline>> OpenTiles(const registry::RepoConfig& config,
                                                           const registry::Definitions& definitions,
                                                           const registry::FeatureView& view,
                                                           online::OnlineStore* store,
                                                           const Clock& clock,
                                                           bool per_event_watermark = true);

  /// The source's name, or "flink-<view>" for a tile pipeline.
  const std::string& source_name() const { return source_name_; }
  /// The views this pipeline computes.
  std::vector<std::string> views() const;
  /// Restored source positions: partition -> next offset (a push source's WAL: partition 0).
  std::map<int32_t, int64_t> positions() const;

  /// Checks that every view can take `events` (its columns present, keys and times set), so a
  /// push is refused before it is logged rather than failing after.
  Status Check(const arrow::RecordBatch& events) const;

  /// A push: checks and logs `events` (synced) and processes them. When this returns OK the events
  /// are durable and every row they finalised is online. A push whose `idempotency_key` the log
  /// already holds (ingest/idempotency.h) is not logged or processed again.
  Status Push(const arrow::RecordBatch& events, std::string_view idempotency_key = {});

  /// Processes events (for a tile pipeline: tile messages) read from `partition`, after which
  /// it is at `next_position`; `dead_letters` are kept in the same step, so that a checkpoint
  /// has them exactly when it has the position past them.
  Status Process(const arrow::RecordBatch& events, int32_t partition, int64_t next_position,
                 DeadLetters dead_letters = {});
  /// Moves a partition's position without events (e.g. past malformed messages).
  void Advance(int32_t partition, int64_t next_position, DeadLetters dead_letters = {});
  /// The partitions about to be read (a Kafka reader's assignment): each holds the watermark
  /// until its first event or the idle timeout (engine::WatermarkTracker::Expect).
  void ExpectPartitions(const std::vector<int32_t>& partitions);
  /// Recomputes the watermark at the current processing time (so idle partitions stop holding
  /// it back) and finalises what it passed.
  Status Tick();

  /// A dead-letter line for input that cannot be processed: one JSON object of `source`,
  /// `reason` and what `describe` adds (Key and value calls on the writer, inside the object).
  /// Hand it to Process or Advance with the position past that input.
  std::string DeadLetterLine(std::string_view reason,
                             const std::function<void(JsonWriter&)>& describe) const;

  /// Commits (see the file comment). Safe to call at any time; cheap when nothing changed.
  Status Checkpoint();
  /// Whether checkpoint_interval has passed since the last checkpoint.
  bool CheckpointDue() const;

  StreamStats stats() const;

 private:
  SourcePipeline() = default;
  static Result<std::unique_ptr<SourcePipeline>> Make(
      const registry::RepoConfig& config, const registry::Definitions& definitions,
      const std::string& name, const std::vector<const registry::FeatureView*>& views,
      Duration watermark_delay, online::OnlineStore* store, const Clock& clock,
      bool per_event_watermark, bool tiles = false);
  Status Restore();
  Status ProcessLocked(const arrow::RecordBatch& events, int32_t partition, int64_t position);
  void KeepDeadLettersLocked(DeadLetters dead_letters);
  Status FinalizeLocked(
      int64_t now, std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now());

  struct ViewState {
    const registry::FeatureView* view;
    std::filesystem::path offline_directory;
    WindowJob job;
    std::vector<std::shared_ptr<arrow::Table>> pending;  // rows for the next checkpoint
  };

  registry::RepoConfig config_;
  registry::Definitions definitions_;  // owns the views the jobs point at
  std::string source_name_;
  std::filesystem::path state_directory_;
  online::OnlineStore* store_ = nullptr;
  const Clock* clock_ = nullptr;
  std::unique_ptr<WriteAheadLog> wal_;  // push sources only

  mutable std::mutex mutex_;
  std::vector<ViewState> views_;
  std::unique_ptr<engine::WatermarkTracker> watermark_;
  std::map<int32_t, int64_t> positions_;
  std::vector<std::string> dead_letters_;
  int64_t checkpoint_number_ = 0;
  int64_t last_checkpoint_time_ = 0;
  bool dirty_ = false;
  bool tiles_ = false;  // input is a Flink tile topic, not events
  StreamStats stats_;
  size_t next_sample_ = 0;  // ring position in stats_.publish_seconds
};

/// The stream feature views fed by a source, in definition order.
std::vector<const registry::FeatureView*> StreamViewsOf(const registry::Definitions& definitions,
                                                        const std::string& source);

}  // namespace headwater::ingest
