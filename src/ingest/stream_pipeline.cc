#include "headwater/ingest/stream_pipeline.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <zlib.h>

#include <cstring>

#include "headwater/core/byte_io.h"
#include "headwater/core/file.h"
#include "headwater/core/json_writer.h"
#include "headwater/core/object_store.h"
#include "headwater/offline/table_file.h"

namespace headwater::ingest {
namespace {

namespace fs = std::filesystem;
constexpr char kCheckpointMagic[8] = {'H', 'W', 'C', 'K', 'P', 'T', '0', '1'};

uint32_t Crc(std::string_view bytes) {
  return static_cast<uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Files "<prefix><number, 12 digits><suffix>" in `directory` numbered above `number`: written by
// a run that died before committing them.
void RemoveUncommitted(const fs::path& directory, std::string_view prefix, std::string_view suffix,
                       int64_t number) {
  auto entries = ListDirectory(directory);
  if (!entries.ok()) return;  // nothing there to remove
  std::error_code error;
  for (const fs::path& entry : *entries) {
    auto found = NumberInFileName(entry.filename().string(), prefix, 12, suffix);
    if (found && *found > number) fs::remove(entry, error);
  }
}

// One event of a batch as JSON members, for a dead letter.
std::string EventJson(const arrow::RecordBatch& events, int64_t row) {
  JsonWriter writer;
  writer.BeginObject();
  for (int c = 0; c < events.num_columns(); ++c) {
    writer.Key(events.schema()->field(c)->name());
    auto scalar = events.column(c)->GetScalar(row);
    if (!scalar.ok() || !(*scalar)->is_valid) {
      writer.Null();
    } else {
      writer.String((*scalar)->ToString());
    }
  }
  writer.EndObject();
  return writer.Take();
}

}  // namespace

std::vector<const registry::FeatureView*> StreamViewsOf(const registry::Definitions& definitions,
                                                        const std::string& source) {
  std::vector<const registry::FeatureView*> views;
  for (const registry::FeatureView& view : definitions.feature_views) {
    if (view.is_stream() && view.source == source) views.push_back(&view);
  }
  return views;
}

Result<std::unique_ptr<SourcePipeline>> SourcePipeline::Open(
    const registry::RepoConfig& config, const registry::Definitions& definitions,
    const registry::DataSource& source, online::OnlineStore* store, const Clock& clock,
    bool per_event_watermark) {
  ARROW_ASSIGN_OR_RAISE(
      auto pipeline, Make(config, definitions, source.name, StreamViewsOf(definitions, source.name),
                          source.watermark_delay, store, clock, per_event_watermark));
  if (source.type == registry::SourceType::kPush) {
    ARROW_ASSIGN_OR_RAISE(pipeline->wal_, WriteAheadLog::Open(pipeline->state_directory_ / "wal"));
    const int64_t from = pipeline->positions_.count(0) ? pipeline->positions_[0] : 0;
    SourcePipeline* self = pipeline.get();
    std::lock_guard lock(self->mutex_);
    ARROW_RETURN_NOT_OK(self->wal_->Replay(
        from, [self](std::shared_ptr<arrow::RecordBatch> batch, int64_t position) {
          return self->ProcessLocked(*batch, 0, position);
        }));
  }
  return pipeline;
}

Result<std::unique_ptr<SourcePipeline>> SourcePipeline::OpenTiles(
    const registry::RepoConfig& config, const registry::Definitions& definitions,
    const registry::FeatureView& view, online::OnlineStore* store, const Clock& clock,
    bool per_event_watermark) {
  const registry::FeatureView* found = definitions.FindFeatureView(view.name);
  if (found == nullptr || !found->is_stream()) {
    return Status::Invalid("no stream feature view '", view.name, "'");
  }
  // Tiles arrive once their pane is final in Flink, in pane order per partition (one Flink
  // subtask each): a tile's time moves its partition's watermark with no delay, and lateness
  // was judged by Flink.
  return Make(config, definitions, "flink-" + view.name, {found}, Duration{0}, store, clock,
              per_event_watermark, /*tiles=*/true);
}

Result<std::unique_ptr<SourcePipeline>> SourcePipeline::Make(
    const registry::RepoConfig& config, const registry::Definitions& definitions,
    const std::string& name, const std::vector<const registry::FeatureView*>& views,
    Duration watermark_delay, online::OnlineStore* store, const Clock& clock,
    bool per_event_watermark, bool tiles) {
  std::unique_ptr<SourcePipeline> pipeline(new SourcePipeline());
  pipeline->config_ = config;
  pipeline->definitions_ = definitions;
  pipeline->source_name_ = name;
  pipeline->store_ = store;
  pipeline->clock_ = &clock;
  pipeline->tiles_ = tiles;
  ARROW_ASSIGN_OR_RAISE(pipeline->state_directory_,
                        ChildPath(config.Resolve(config.stream.path), name));
  pipeline->watermark_ =
      std::make_unique<engine::WatermarkTracker>(watermark_delay, config.stream.idle_timeout);
  std::vector<std::string> online_views;
  for (const registry::FeatureView* view : views) {
    // Jobs point into the pipeline's own copy of the definitions.
    view = pipeline->definitions_.FindFeatureView(view->name);
    ARROW_ASSIGN_OR_RAISE(auto job, WindowJob::Make(pipeline->definitions_, *view));
    if (tiles) job.op().set_event_watermark(Duration{0}, Duration{0});
    if (!per_event_watermark) job.op().set_event_watermark(Duration{0}, Duration{0}, false);
    fs::path directory = config.Resolve(view->windows.path);
    ARROW_RETURN_NOT_OK(storage::MakeDirectories(directory));
    pipeline->views_.push_back(ViewState{view, directory, std::move(job), {}});
    if (view->online) online_views.push_back(view->name);
  }
  if (!online_views.empty()) ARROW_RETURN_NOT_OK(store->CreateViews(online_views));
  std::error_code error;
  fs::create_directories(pipeline->state_directory_ / "dead_letters", error);
  if (error) {
    return Status::IOError("cannot create ", pipeline->state_directory_.string(), ": ",
                           error.message());
  }
  ARROW_RETURN_NOT_OK(pipeline->Restore());
  pipeline->last_checkpoint_time_ = clock.Now().micros;
  return pipeline;
}

Status SourcePipeline::Restore() {
  const fs::path path = state_directory_ / "checkpoint";
  std::error_code error;
  if (fs::exists(path, error)) {
    ARROW_ASSIGN_OR_RAISE(auto bytes, ReadFile(path));
    auto damaged = [&] { return Status::IOError("checkpoint ", path.string(), " is damaged"); };
    if (bytes.size() >= 8 && std::memcmp(bytes.data(), kCheckpointMagic, 6) == 0 &&
        std::memcmp(bytes.data() + 6, kCheckpointMagic + 6, 2) != 0) {
      return Status::IOError("checkpoint ", path.string(), " has format ", bytes.substr(6, 2),
                             "; this headwater reads format ",
                             std::string_view(kCheckpointMagic + 6, 2));
    }
    if (bytes.size() < 12 || std::memcmp(bytes.data(), kCheckpointMagic, 8) != 0) {
      return damaged();
    }
    uint32_t crc;
    std::memcpy(&crc, bytes.data() + 8, 4);
    std::string_view body = std::string_view(bytes).substr(12);
    if (Crc(body) != crc) return damaged();
    ByteReader in(body);
    int64_t watermark = 0;
    uint32_t positions = 0, views = 0;
    if (!in.Get(&checkpoint_number_) || !in.Get(&watermark) || !in.Get(&positions)) {
      return damaged();
    }
    watermark_->set_reached(watermark);
    stats_.watermark = watermark;
    for (uint32_t i = 0; i < positions; ++i) {
      int32_t partition;
      int64_t position;
      if (!in.Get(&partition) || !in.Get(&position)) return damaged();
      positions_[partition] = position;
    }
    if (!in.Get(&views)) return damaged();
    for (uint32_t i = 0; i < views; ++i) {
      std::string_view name, state;
      if (!in.GetBytes(&name) || !in.GetBytes(&state)) return damaged();
      for (ViewState& view : views_) {
        if (view.view->name != name) continue;
        // A view whose aggregations changed since starts afresh (backfill it with materialize).
        Status restored = view.job.op().Restore(state);
        if (!restored.ok() && !restored.IsInvalid()) return restored;
      }
    }
    uint32_t partition_times = 0;
    if (in.Get(&partition_times)) {  // absent from checkpoints written before it was kept
      const int64_t now = clock_->Now().micros;
      for (uint32_t i = 0; i < partition_times; ++i) {
        int32_t partition;
        int64_t time;
        if (!in.Get(&partition) || !in.Get(&time)) return damaged();
        watermark_->Restore(partition, time, now);
      }
    }
  }
  for (const ViewState& view : views_) {
    RemoveUncommitted(view.offline_directory, "part-", ".parquet", checkpoint_number_);
  }
  RemoveUncommitted(state_directory_ / "dead_letters", "dead-", ".jsonl", checkpoint_number_);
  return Status::OK();
}

std::vector<std::string> SourcePipeline::views() const {
  std::vector<std::string> names;
  for (const ViewState& view : views_) names.push_back(view.view->name);
  return names;
}

std::map<int32_t, int64_t> SourcePipeline::positions() const {
  std::lock_guard lock(mutex_);
  return positions_;
}

Status SourcePipeline::Check(const arrow::RecordBatch& events) const {
  for (const ViewState& view : views_) ARROW_RETURN_NOT_OK(view.job.Check(events));
  return Status::OK();
}

Status SourcePipeline::Push(const arrow::RecordBatch& events, std::string_view idempotency_key) {
  if (wal_ == nullptr) return Status::Invalid("source '", source_name_, "' is not a push source");
  ARROW_RETURN_NOT_OK(Check(events));
  std::lock_guard lock(mutex_);
  // A retry of a push already logged: its events are processed, or will be on replay.
  if (!idempotency_key.empty() && wal_->Contains(idempotency_key)) return Status::OK();
  ARROW_ASSIGN_OR_RAISE(int64_t position, wal_->Append(events, idempotency_key));
  return ProcessLocked(events, 0, position);
}

void SourcePipeline::ExpectPartitions(const std::vector<int32_t>& partitions) {
  std::lock_guard lock(mutex_);
  const int64_t now = clock_->Now().micros;
  for (int32_t partition : partitions) watermark_->Expect(partition, now);
}

Status SourcePipeline::Process(const arrow::RecordBatch& events, int32_t partition,
                               int64_t next_position, DeadLetters dead_letters) {
  std::lock_guard lock(mutex_);
  KeepDeadLettersLocked(std::move(dead_letters));
  return ProcessLocked(events, partition, next_position);
}

void SourcePipeline::Advance(int32_t partition, int64_t next_position, DeadLetters dead_letters) {
  std::lock_guard lock(mutex_);
  KeepDeadLettersLocked(std::move(dead_letters));
  positions_[partition] = next_position;
  dirty_ = true;
}

void SourcePipeline::KeepDeadLettersLocked(DeadLetters dead_letters) {
  if (dead_letters.lines.empty()) return;
  stats_.dead_letters += static_cast<int64_t>(dead_letters.lines.size());
  stats_.late_events += dead_letters.late;
  auto& recent = stats_.recent_dead_letters;
  for (const std::string& line : dead_letters.lines) recent.push_back(line);
  if (recent.size() > StreamStats::kRecentDeadLetters) {
    recent.erase(recent.begin(), recent.end() - StreamStats::kRecentDeadLetters);
  }
  for (std::string& line : dead_letters.lines) dead_letters_.push_back(std::move(line));
  dirty_ = true;
}

Status SourcePipeline::ProcessLocked(const arrow::RecordBatch& events, int32_t partition,
                                     int64_t position) {
  const auto began = std::chrono::steady_clock::now();
  const int64_t now = clock_->Now().micros;
  std::vector<int64_t> late;
  int64_t newest = INT64_MIN;
  for (ViewState& view : views_) {
    late.clear();
    ARROW_RETURN_NOT_OK(tiles_ ? view.job.ConsumeTiles(events, &late)
                               : view.job.Consume(events, &late));
    newest = std::max(newest, view.job.batch_max_time());
    DeadLetters letters;
    for (int64_t row : late) {
      letters.lines.push_back(
          DeadLetterLine(fmt::format("late: its window was final (watermark {})",
                                     FormatTimestamp(Timestamp{stats_.watermark})),
                         [&](JsonWriter& record) {
                           record.Key("view").String(view.view->name);
                           record.Key("event").Raw(EventJson(events, row));
                         }));
    }
    letters.late = static_cast<int64_t>(late.size());
    KeepDeadLettersLocked(std::move(letters));
  }
  stats_.events += events.num_rows();
  stats_.newest_event = std::max(stats_.newest_event, newest);
  if (events.num_rows() > 0) watermark_->Observe(partition, newest, now);
  positions_[partition] = position;
  dirty_ = true;
  return FinalizeLocked(now, began);
}

Status SourcePipeline::Tick() {
  std::lock_guard lock(mutex_);
  return FinalizeLocked(clock_->Now().micros);
}

Status SourcePipeline::FinalizeLocked(int64_t now, std::chrono::steady_clock::time_point began) {
  const int64_t watermark = watermark_->Current(now);
  stats_.watermark = watermark;
  if (watermark == INT64_MIN) return Status::OK();
  // Every view's rows go online first; the offline rows and the merging ahead for the next
  // window end (Premerge) are work nobody waits for, done after.
  std::vector<std::pair<ViewState*, WindowOutput>> published;
  for (ViewState& view : views_) {
    // Tiles come with lateness applied by Flink.
    const int64_t lateness = tiles_ ? 0 : view.view->allowed_lateness.micros;
    ARROW_ASSIGN_OR_RAISE(auto rows, view.job.Finalize(watermark - lateness, /*with_table=*/false));
    if (rows.rows() == 0) continue;
    stats_.rows_emitted += rows.rows();
    if (view.view->online) {
      ARROW_RETURN_NOT_OK(store_->WriteNewer(view.view->name, rows.keys, rows.values));
    }
    // Online now (readable from the held store's overlay).
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    constexpr size_t kSamples = 4096;
    if (stats_.publish_seconds.size() < kSamples) {
      stats_.publish_seconds.push_back(seconds);
    } else {
      stats_.publish_seconds[next_sample_++ % kSamples] = seconds;
    }
    dirty_ = true;
    published.emplace_back(&view, std::move(rows));
  }
  for (auto& [view, rows] : published) {
    if (view->view->offline) {
      ARROW_RETURN_NOT_OK(view->job.BuildTable(&rows));
      view->pending.push_back(std::move(rows.table));
    }
    view->job.op().Premerge();
  }
  return Status::OK();
}

std::string SourcePipeline::DeadLetterLine(std::string_view reason,
                                           const std::function<void(JsonWriter&)>& describe) const {
  JsonWriter line;
  line.BeginObject().Key("source").String(source_name_).Key("reason").String(reason);
  describe(line);
  return line.EndObject().Take() + "\n";
}

bool SourcePipeline::CheckpointDue() const {
  std::lock_guard lock(mutex_);
  return clock_->Now().micros - last_checkpoint_time_ >= config_.stream.checkpoint_interval.micros;
}

Status SourcePipeline::Checkpoint() {
  std::lock_guard lock(mutex_);
  last_checkpoint_time_ = clock_->Now().micros;
  if (!dirty_) return Status::OK();
  const int64_t number = checkpoint_number_ + 1;
  for (ViewState& view : views_) {
    if (view.pending.empty()) continue;
    ARROW_ASSIGN_OR_RAISE(auto table, arrow::ConcatenateTables(view.pending));
    ARROW_RETURN_NOT_OK(offline::WriteTableFile(
        *table, view.offline_directory / fmt::format("part-{:012d}.parquet", number)));
  }
  if (!dead_letters_.empty()) {
    std::string text;
    for (const std::string& line : dead_letters_) text += line;
    ARROW_RETURN_NOT_OK(WriteFileAtomically(
        state_directory_ / "dead_letters" / fmt::format("dead-{:012d}.jsonl", number), text));
  }
  ARROW_RETURN_NOT_OK(store_->Sync());

  std::string body;
  PutFixed(&body, number);
  PutFixed(&body, watermark_->reached());
  PutFixed(&body, static_cast<uint32_t>(positions_.size()));
  for (const auto& [partition, position] : positions_) {
    PutFixed(&body, partition);
    PutFixed(&body, position);
  }
  PutFixed(&body, static_cast<uint32_t>(views_.size()));
  for (const ViewState& view : views_) {
    PutBytes(&body, view.view->name);
    PutBytes(&body, view.job.op().Save());
  }
  // Appended after the views (a checkpoint without it reads as before): each partition's
  // greatest event time, so the watermark restarts where the partitions left it.
  const auto partition_times = watermark_->PartitionTimes();
  PutFixed(&body, static_cast<uint32_t>(partition_times.size()));
  for (const auto& [partition, time] : partition_times) {
    PutFixed(&body, partition);
    PutFixed(&body, time);
  }
  std::string file(kCheckpointMagic, 8);
  PutFixed(&file, Crc(body));
  file += body;
  ARROW_RETURN_NOT_OK(WriteFileAtomically(state_directory_ / "checkpoint", file));

  checkpoint_number_ = number;
  for (ViewState& view : views_) view.pending.clear();
  dead_letters_.clear();
  dirty_ = false;
  ++stats_.checkpoints;
  stats_.last_checkpoint = last_checkpoint_time_;
  if (wal_ != nullptr && positions_.count(0)) ARROW_RETURN_NOT_OK(wal_->Release(positions_[0]));
  return Status::OK();
}

StreamStats SourcePipeline::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace headwater::ingest
