#include "headwater/ingest/stream_runner.h"

#include <arrow/api.h>
#include <arrow/util/base64.h>
#include <arrow/util/utf8.h>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "headwater/core/json_writer.h"
#include "headwater/ingest/json_events.h"
#include "headwater/registry/source_schema.h"

namespace headwater::ingest {

namespace {

// Runs `work` on a background thread, where an exception escaping (from a library, or memory
// running out) would end the process: it becomes a Status the thread logs and stops on.
template <typename Work>
Status Guarded(const Work& work) {
  try {
    return work();
  } catch (const std::bad_alloc&) {
    return Status::OutOfMemory("out of memory");
  } catch (const std::exception& error) {
    return Status::UnknownError("internal error: ", error.what());
  }
}

}  // namespace

// What a KafkaReader reads: a Kafka source's events, or a Flink job's tiles of one view.
struct TopicInput {
  std::string name;  // the pipeline's, in messages
  std::string bootstrap_servers;
  std::string topic;
  bool tiles = false;  // read_committed, and created when missing
  int partitions = 1;  // of a tile topic: one per Flink subtask, each an ordered input
  std::unique_ptr<JsonEventDecoder> decoder;
  // Opens the pipeline, given the topic's partition count.
  std::function<Result<std::unique_ptr<SourcePipeline>>(int partitions)> open_pipeline;
};

// The events of a Kafka source, for the source's pipeline.
Result<TopicInput> EventInput(const registry::RepoConfig& config,
                              const registry::Definitions& definitions,
                              const registry::DataSource& source, online::OnlineStore* store,
                              const Clock& clock) {
  const registry::DataSource* batch = definitions.FindSource(source.batch_source);
  if (batch == nullptr) return Status::Invalid("source '", source.name, "' has no batch_source");
  ARROW_ASSIGN_OR_RAISE(auto schema, registry::ReadSourceSchema(config.Resolve(batch->path)));
  std::vector<std::string> required = {batch->timestamp_field};
  std::vector<std::string> event_times = {batch->timestamp_field};
  if (!batch->created_timestamp_column.empty()) {
    event_times.push_back(batch->created_timestamp_column);
  }
  for (const registry::FeatureView* view : StreamViewsOf(definitions, source.name)) {
    for (const std::string& entity_name : view->entities) {
      const registry::Entity* entity = definitions.FindEntity(entity_name);
      if (entity != nullptr) required.push_back(batch->ColumnFor(entity->join_key));
    }
  }
  TopicInput input;
  input.name = source.name;
  input.bootstrap_servers = source.bootstrap_servers;
  input.topic = source.topic;
  ARROW_ASSIGN_OR_RAISE(input.decoder, JsonEventDecoder::Make(schema, required, event_times));
  input.open_pipeline = [&config, &definitions, &source, store, &clock](int partitions) {
    // One partition is one ordered input: lateness is then judged event by event, exactly.
    return SourcePipeline::Open(config, definitions, source, store, clock,
                                /*per_event_watermark=*/partitions == 1);
  };
  return input;
}

// The tiles a Flink job computes for `view` (stream_engine: flink), for the view's pipeline.
Result<TopicInput> TileInput(const registry::RepoConfig& config,
                             const registry::Definitions& definitions,
                             const registry::FeatureView& view, online::OnlineStore* store,
                             const Clock& clock) {
  const registry::DataSource* source = definitions.FindSource(view.source);
  const registry::DataSource* events = definitions.EventSourceOf(view);
  if (source == nullptr || events == nullptr) {
    return Status::Invalid("stream feature view '", view.name, "' has no event source");
  }
  ARROW_ASSIGN_OR_RAISE(auto schema, registry::ReadSourceSchema(config.Resolve(events->path)));
  ARROW_ASSIGN_OR_RAISE(auto job, WindowJob::Make(definitions, view));
  ARROW_ASSIGN_OR_RAISE(auto tile_schema, job.TileSchema(*schema));
  TopicInput input;
  input.name = "flink-" + view.name;
  input.bootstrap_servers = source->bootstrap_servers;
  input.topic = TileTopic(config.project, view.name);
  input.tiles = true;
  input.partitions = static_cast<int>(config.stream_engine.parallelism);
  ARROW_ASSIGN_OR_RAISE(
      input.decoder,
      JsonEventDecoder::Make(tile_schema, tile_schema->field_names(), {kTileTimeColumn}));
  input.open_pipeline = [&config, &definitions, &view, store, &clock](int partitions) {
    return SourcePipeline::OpenTiles(config, definitions, view, store, clock,
                                     /*per_event_watermark=*/partitions == 1);
  };
  return input;
}

// Reads one Kafka topic into its pipeline. Offsets live in the pipeline's checkpoints (as
// Flink keeps them in its state), not in the consumer group: partitions are assigned by hand
// from the checkpointed positions and nothing is committed to Kafka.
class KafkaReader {
 public:
  static Result<std::unique_ptr<KafkaReader>> Open(const registry::RepoConfig& config,
                                                   TopicInput input, const Clock& clock,
                                                   std::unique_ptr<SourcePipeline>* pipeline);
  ~KafkaReader() {
    Stop();
    if (consumer_ != nullptr) {
      rd_kafka_consumer_close(consumer_);
      rd_kafka_destroy(consumer_);
    }
  }
  void Start(SourcePipeline* pipeline, std::function<void(std::string_view)> log) {
    pipeline_ = pipeline;
    log_ = std::move(log);
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run();
  Status Deliver(std::vector<rd_kafka_message_t*>& messages);

  void Reject(const rd_kafka_message_t& message, std::string_view payload,
              DeadLetters* dead_letters);

  std::string source_;
  bool tiles_ = false;
  registry::RepoConfig config_;
  const Clock* clock_ = nullptr;
  rd_kafka_t* consumer_ = nullptr;
  std::unique_ptr<JsonEventDecoder> decoder_;
  SourcePipeline* pipeline_ = nullptr;
  std::function<void(std::string_view)> log_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

Result<std::unique_ptr<KafkaReader>> KafkaReader::Open(const registry::RepoConfig& config,
                                                       TopicInput input, const Clock& clock,
                                                       std::unique_ptr<SourcePipeline>* pipeline) {
  arrow::util::InitializeUTF8();  // ValidateUTF8's tables, for dead letters
  auto reader = std::make_unique<KafkaReader>();
  reader->source_ = input.name;
  reader->tiles_ = input.tiles;
  reader->decoder_ = std::move(input.decoder);
  reader->config_ = config;
  reader->clock_ = &clock;
  const std::string& name = input.name;

  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", input.bootstrap_servers},
      {"group.id", "headwater-" + config.project + "-" + name},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"fetch.wait.max.ms", "20"},
      // Tiles are written in Kafka transactions: only committed ones count.
      {"isolation.level", input.tiles ? "read_committed" : "read_uncommitted"},
  };
  for (const auto& setting : settings) {
    if (rd_kafka_conf_set(conf, setting.first, setting.second.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::Invalid("source '", name, "': ", error);
    }
  }
  reader->consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (reader->consumer_ == nullptr) {
    return Status::IOError("source '", name, "': cannot create a Kafka consumer: ", error);
  }
  if (input.tiles) {
    ARROW_RETURN_NOT_OK(EnsureTopic(input.bootstrap_servers, input.topic, input.partitions));
  }
  // The topic's partitions, from the brokers.
  rd_kafka_topic_t* topic = rd_kafka_topic_new(reader->consumer_, input.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(reader->consumer_, 0, topic, &metadata, 10000);
  // A topic just created has no leader for a moment: ask again, for up to 30 s.
  for (int retry = 0;
       input.tiles && retry < 300 && err == RD_KAFKA_RESP_ERR_NO_ERROR &&
       metadata->topic_cnt == 1 &&
       (metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
        metadata->topics[0].partition_cnt == 0 || metadata->topics[0].partitions[0].leader < 0);
       ++retry) {
    rd_kafka_metadata_destroy(metadata);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    err = rd_kafka_metadata(reader->consumer_, 0, topic, &metadata, 10000);
  }
  rd_kafka_topic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || metadata->topic_cnt != 1 ||
      metadata->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string reason = err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(err)
                         : metadata->topic_cnt != 1        ? "no such topic"
                                                    : rd_kafka_err2str(metadata->topics[0].err);
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    return Status::IOError("source '", name, "': cannot read topic '", input.topic, "' from ",
                           input.bootstrap_servers, ": ", reason);
  }
  const int partitions = metadata->topics[0].partition_cnt;
  if (input.tiles && partitions < input.partitions) {
    rd_kafka_metadata_destroy(metadata);
    return Status::Invalid("tile topic '", input.topic, "' has ", partitions,
                           " partitions, fewer than stream_engine.parallelism (", input.partitions,
                           "): Flink's subtasks would share one; delete the "
                           "topic (and the view's flink- state) or add partitions");
  }
  std::vector<int32_t> ids;
  for (int p = 0; p < partitions; ++p) ids.push_back(metadata->topics[0].partitions[p].id);
  rd_kafka_metadata_destroy(metadata);

  ARROW_ASSIGN_OR_RAISE(*pipeline, input.open_pipeline(partitions));
  auto positions = (*pipeline)->positions();
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
  for (int32_t id : ids) {
    auto* entry = rd_kafka_topic_partition_list_add(assignment, input.topic.c_str(), id);
    auto position = positions.find(id);
    entry->offset = position == positions.end() ? RD_KAFKA_OFFSET_BEGINNING : position->second;
  }
  err = rd_kafka_assign(reader->consumer_, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::IOError("source '", name,
                           "': cannot assign partitions: ", rd_kafka_err2str(err));
  }
  if (partitions > 1) (*pipeline)->ExpectPartitions(ids);  // one: judged event by event
  return reader;
}

void KafkaReader::Run() {
  std::vector<rd_kafka_message_t*> messages;
  while (!stopping_) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_, 50);
    while (message != nullptr) {
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_(fmt::format("source '{}': Kafka: {}", source_, rd_kafka_message_errstr(message)));
        rd_kafka_message_destroy(message);
      } else {
        messages.push_back(message);
      }
      if (messages.size() >= 20000) break;
      message = rd_kafka_consumer_poll(consumer_, 0);
    }
    Status status =
        Guarded([&] { return messages.empty() ? pipeline_->Tick() : Deliver(messages); });
    for (rd_kafka_message_t* m : messages) rd_kafka_message_destroy(m);
    messages.clear();
    if (!status.ok()) {
      // The pipeline's state may be part-way through a batch: stop, so that a restart resumes
      // from the last checkpoint rather than counting anything twice.
      log_(fmt::format("source '{}': stopped: {}", source_, status.message()));
      return;
    }
  }
}

Status KafkaReader::Deliver(std::vector<rd_kafka_message_t*>& messages) {
  // Per partition, in offset order.
  std::map<int32_t, std::vector<rd_kafka_message_t*>> by_partition;
  for (rd_kafka_message_t* m : messages) by_partition[m->partition].push_back(m);
  const EventTimeBounds bounds = EventTimeBounds::At(config_, clock_->Now());
  for (auto& [partition, list] : by_partition) {
    DeadLetters dead_letters;
    for (rd_kafka_message_t* m : list) {
      std::string_view payload(static_cast<const char*>(m->payload), m->len);
      if (tiles_ && payload.starts_with(kRejectPrefix)) {
        Reject(*m, payload, &dead_letters);
        continue;
      }
      Status appended = decoder_->Append(payload, bounds);
      if (!appended.ok()) {
        dead_letters.lines.push_back(
            pipeline_->DeadLetterLine(appended.message(), [&](JsonWriter& record) {
              record.Key("partition").Int(m->partition).Key("offset").Int(m->offset);
              if (arrow::util::ValidateUTF8(payload)) {
                record.Key("payload").String(payload);
              } else {  // kept exactly, as base64, so the dead-letter file stays valid JSON
                std::string encoded;
                AppendBase64(payload, &encoded);
                record.Key("payload_base64").String(encoded);
              }
            }));
      }
    }
    ARROW_ASSIGN_OR_RAISE(auto batch, decoder_->Flush());
    const int64_t next = list.back()->offset + 1;
    if (batch->num_rows() > 0) {
      ARROW_RETURN_NOT_OK(pipeline_->Process(*batch, partition, next, std::move(dead_letters)));
    } else {
      pipeline_->Advance(partition, next, std::move(dead_letters));
    }
  }
  return Status::OK();
}

void KafkaReader::Reject(const rd_kafka_message_t& message, std::string_view payload,
                         DeadLetters* dead_letters) {
  rapidjson::Document reject;
  reject.Parse(payload.data(), payload.size());
  const rapidjson::Value& object = reject;  // const: clang's C++20 operator== ambiguity
  auto member = [&](const char* name) -> const rapidjson::Value* {
    if (!object.IsObject()) return nullptr;
    auto found = object.FindMember(name);
    return found == object.MemberEnd() ? nullptr : &found->value;
  };
  const rapidjson::Value* reason = member("headwater_reject");
  const rapidjson::Value* partition = member("headwater_partition");
  const rapidjson::Value* offset = member("headwater_offset");
  const rapidjson::Value* event = member("headwater_payload");
  Result<std::string> original = Status::Invalid("no payload");
  if (event != nullptr && event->IsString()) {
    original =
        arrow::util::base64_decode(std::string_view(event->GetString(), event->GetStringLength()));
  }
  if (reason == nullptr || !reason->IsString() || partition == nullptr || !partition->IsInt() ||
      offset == nullptr || !offset->IsInt64() || !original.ok()) {
    dead_letters->lines.push_back(pipeline_->DeadLetterLine(
        "a reject from Flink that Headwater cannot read", [&](JsonWriter& record) {
          record.Key("tile_partition").Int(message.partition);
          record.Key("tile_offset").Int(message.offset);
        }));
    return;
  }
  const std::string_view why(reason->GetString(), reason->GetStringLength());
  dead_letters->lines.push_back(pipeline_->DeadLetterLine(why, [&](JsonWriter& record) {
    record.Key("partition").Int(partition->GetInt()).Key("offset").Int(offset->GetInt64());
    if (arrow::util::ValidateUTF8(*original)) {
      record.Key("payload").String(*original);
    } else {
      record.Key("payload_base64").String(event->GetString());
    }
  }));
  if (why.starts_with("late")) ++dead_letters->late;
}

Result<std::unique_ptr<StreamRunner>> StreamRunner::Start(
    const registry::RepoConfig& config, const registry::Definitions& definitions,
    online::OnlineStore* store, const Clock& clock, std::function<void(std::string_view)> log) {
  std::unique_ptr<StreamRunner> runner(new StreamRunner());
  runner->log_ = log ? std::move(log) : [](std::string_view) {};
  // With stream_engine: flink, Flink computes the tiles of Kafka sources' views.
  const bool flink = config.stream_engine.flink();
  auto read = [&](Result<TopicInput> input) -> Status {
    ARROW_RETURN_NOT_OK(input.status());
    std::unique_ptr<SourcePipeline> pipeline;
    ARROW_ASSIGN_OR_RAISE(auto reader,
                          KafkaReader::Open(config, std::move(*input), clock, &pipeline));
    runner->readers_.push_back(std::move(reader));
    runner->readers_.back()->Start(pipeline.get(), runner->log_);
    runner->pipelines_.push_back(std::move(pipeline));
    return Status::OK();
  };
  for (const registry::DataSource& source : definitions.sources) {
    if (source.type == registry::SourceType::kFile) continue;
    auto views = StreamViewsOf(definitions, source.name);
    if (views.empty()) continue;
    if (source.type == registry::SourceType::kKafka && flink) {
      for (const registry::FeatureView* view : views) {
        ARROW_RETURN_NOT_OK(read(TileInput(config, definitions, *view, store, clock)));
      }
    } else if (source.type == registry::SourceType::kKafka) {
      ARROW_RETURN_NOT_OK(read(EventInput(config, definitions, source, store, clock)));
    } else {
      ARROW_ASSIGN_OR_RAISE(auto pipeline,
                            SourcePipeline::Open(config, definitions, source, store, clock));
      runner->pipelines_.push_back(std::move(pipeline));
    }
  }
  StreamRunner* self = runner.get();
  runner->checkpointer_ = std::thread([self] {
    // One line when a source's checkpoints start failing (or fail for another cause), one when
    // they succeed again: a full disk retried every interval does not flood the log.
    std::map<std::string, std::string> failing;
    while (!self->stopping_) {
      for (const auto& pipeline : self->pipelines_) {
        if (!pipeline->CheckpointDue()) continue;
        Status status = Guarded([&] { return pipeline->Checkpoint(); });
        std::string& last = failing[pipeline->source_name()];
        if (!status.ok() && status.message() != last) {
          self->log_(fmt::format("source '{}': checkpoint failed (retried every interval): {}",
                                 pipeline->source_name(), status.message()));
          last = status.message();
        } else if (status.ok() && !last.empty()) {
          self->log_(
              fmt::format("source '{}': checkpoints succeed again", pipeline->source_name()));
          last.clear();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  return runner;
}

StreamRunner::~StreamRunner() {
  Status status = Stop();
  if (!status.ok()) log_(status.message());
}

SourcePipeline* StreamRunner::pipeline(std::string_view source) const {
  for (const auto& pipeline : pipelines_) {
    if (pipeline->source_name() == source) return pipeline.get();
  }
  return nullptr;
}

Status StreamRunner::Stop() {
  if (stopped_) return Status::OK();
  stopped_ = true;
  stopping_ = true;
  for (auto& reader : readers_) reader->Stop();
  if (checkpointer_.joinable()) checkpointer_.join();
  Status result = Status::OK();
  for (const auto& pipeline : pipelines_) {
    Status status = pipeline->Checkpoint();
    if (!status.ok() && result.ok()) result = status;
  }
  return result;
}

Status EnsureTopic(const std::string& brokers, const std::string& topic, int partitions) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), error, sizeof(error)) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::Invalid("topic '", topic, "': ", error);
  }
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (client == nullptr) return Status::IOError("topic '", topic, "': ", error);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  // Waits for one admin result: the error of its one topic, or of the request.
  auto outcome = [&](auto topics_of) -> rd_kafka_resp_err_t {
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 15000);
    if (event == nullptr) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    size_t count = 0;
    const rd_kafka_topic_result_t** results = topics_of(event, &count);
    rd_kafka_resp_err_t err =
        count == 1 ? rd_kafka_topic_result_error(results[0]) : rd_kafka_event_error(event);
    rd_kafka_event_destroy(event);
    return err;
  };
  rd_kafka_NewTopic_t* create =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, error, sizeof(error));
  rd_kafka_CreateTopics(client, &create, 1, nullptr, queue);
  rd_kafka_resp_err_t err = outcome([](rd_kafka_event_t* event, size_t* count) {
    return rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), count);
  });
  rd_kafka_NewTopic_destroy(create);
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    // It exists (perhaps made by Flink's producer with the broker's default): grow it.
    rd_kafka_NewPartitions_t* grow = rd_kafka_NewPartitions_new(
        topic.c_str(), static_cast<size_t>(partitions), error, sizeof(error));
    rd_kafka_CreatePartitions(client, &grow, 1, nullptr, queue);
    err = outcome([](rd_kafka_event_t* event, size_t* count) {
      return rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event),
                                                     count);
    });
    rd_kafka_NewPartitions_destroy(grow);
    // Already as many or more partitions: nothing to do.
    if (err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS) err = RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_destroy(client);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::IOError("cannot create topic '", topic, "' with ", partitions, " partitions on ",
                           brokers, ": ", rd_kafka_err2str(err));
  }
  return Status::OK();
}

bool SameStreams(const registry::Definitions& a, const registry::Definitions& b) {
  auto streams = [](const registry::Definitions& d) {
    std::vector<std::string> out;
    for (const registry::FeatureView& view : d.feature_views) {
      if (!view.is_stream()) continue;
      const registry::DataSource* source = d.FindSource(view.source);
      const registry::DataSource* events = d.EventSourceOf(view);
      JsonWriter w;
      w.BeginArray().String(view.name).Bool(view.online).Bool(view.offline);
      for (const auto& e : view.entities) w.String(e);
      for (const auto& agg : view.aggregations) {
        w.String(agg.name).String(agg.column).String(agg.function);
        w.Int(agg.time_window.micros).Int(agg.slide_interval.micros);
      }
      w.Int(view.allowed_lateness.micros).String(view.windows.path);
      if (source != nullptr) {
        w.String(source->name).String(registry::SourceTypeName(source->type));
        w.String(source->bootstrap_servers).String(source->topic);
        w.Int(source->watermark_delay.micros);
      }
      if (events != nullptr) w.String(events->path).String(events->timestamp_field);
      out.push_back(w.EndArray().Take());
    }
    return out;
  };
  return streams(a) == streams(b);
}

}  // namespace headwater::ingest
