#pragma once
// Runs the stream pipelines of a repository: one SourcePipeline per push or Kafka source that
// feeds a stream feature view, a reader thread per Kafka source, and a thread that checkpoints
// every pipeline each `stream.checkpoint_interval`. `headwater serve` runs one next to the HTTP
// API (POST /push goes to its push pipelines); `headwater stream` runs one alone.

#include <atomic>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "headwater/ingest/stream_pipeline.h"

namespace headwater::ingest {

class KafkaReader;

class StreamRunner {
 public:
  /// Opens every pipeline (restoring checkpoints, replaying write-ahead logs), connects to the
  /// Kafka brokers, and starts the threads. `log` receives one line per problem met while
  /// running (a Kafka error, a failed checkpoint); it may be empty.
  static Result<std::unique_ptr<StreamRunner>> Start(const registry::RepoConfig& config,
                                                     const registry::Definitions& definitions,
                                                     online::OnlineStore* store, const Clock& clock,
                                                     std::function<void(std::string_view)> log);
  ~StreamRunner();

  /// The pipeline of a source, or nullptr when it feeds no stream view.
  SourcePipeline* pipeline(std::string_view source) const;
  const std::vector<std::unique_ptr<SourcePipeline>>& pipelines() const { return pipelines_; }

  /// Stops the threads and checkpoints every pipeline a last time.
  Status Stop();

 private:
  StreamRunner() = default;
  std::vector<std::unique_ptr<SourcePipeline>> pipelines_;
  std::vector<std::unique_ptr<KafkaReader>> readers_;
  std::function<void(std::string_view)> log_;
  std::atomic<bool> stopping_{false};
  std::thread checkpointer_;
  bool stopped_ = false;
};

/// Creates `topic` with `partitions` partitions, or grows it to that many (a Flink job's tile
/// topic: one partition per subtask). OK when it already has as many or more.
Status EnsureTopic(const std::string& brokers, const std::string& topic, int partitions);

/// Whether two definitions run the same stream pipelines (same stream views, same sources):
/// a registry reload keeps the running pipelines when they do.
bool SameStreams(const registry::Definitions& a, const registry::Definitions& b);

}  // namespace headwater::ingest
