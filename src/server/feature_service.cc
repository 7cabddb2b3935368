#include "headwater/server/feature_service.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>
#include <new>

#include "dataframe_json.h"
#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/core/text.h"
#include "headwater/ingest/materializer.h"
#include "headwater/ingest/writes.h"
#include "headwater/registry/registry_store.h"
#include "headwater/server/api_token.h"
#include "metrics.h"

namespace headwater::server {
namespace {

constexpr size_t kMaxWriteRows = 100'000;

HttpResponse Error(int status, std::string_view error, std::string_view detail) {
  JsonWriter writer;
  writer.BeginObject().Key("error").String(error);
  writer.Key("detail").String(PrintableText(detail)).EndObject();  // messages quote input
  return HttpResponse{status, writer.Take()};
}

HttpResponse FromStatus(const Status& status) {
  if (status.IsKeyError()) return Error(404, "not found", status.message());
  if (status.IsInvalid() || status.IsTypeError() || status.IsCapacityError()) {
    return Error(400, "invalid request", status.message());
  }
  if (status.IsOutOfMemory()) return Error(503, "out of memory", status.message());
  return Error(500, "internal error", status.message());
}

Result<rapidjson::Document> ParseBody(std::string_view body) {
  rapidjson::Document document;
  ARROW_RETURN_NOT_OK(ParseJson(body, "the body", &document));
  if (!document.IsObject()) return Status::Invalid("the body must be a JSON object");
  return document;
}

// Optional members of a request body, with errors that name them.
Result<const rapidjson::Value*> Member(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  return it == object.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

Result<std::string> StringMember(const rapidjson::Value& object, const char* key, bool required) {
  ARROW_ASSIGN_OR_RAISE(auto value, Member(object, key));
  if (value == nullptr) {
    if (required) return Status::Invalid("missing \"", key, "\"");
    return std::string();
  }
  if (!value->IsString()) return Status::Invalid("\"", key, "\" must be a string");
  return std::string(value->GetString(), value->GetStringLength());
}

Result<std::vector<std::string>> StringListMember(const rapidjson::Value& object, const char* key) {
  ARROW_ASSIGN_OR_RAISE(auto value, Member(object, key));
  std::vector<std::string> out;
  if (value == nullptr) return out;
  if (!value->IsArray()) return Status::Invalid("\"", key, "\" must be a list of strings");
  for (const auto& element : value->GetArray()) {
    if (!element.IsString()) return Status::Invalid("\"", key, "\" must be a list of strings");
    out.emplace_back(element.GetString(), element.GetStringLength());
  }
  return out;
}

// Measures each store read for the metrics; everything else passes through.
class TimedStore final : public online::OnlineStore {
 public:
  TimedStore(online::OnlineStore* store, Metrics* metrics) : store_(store), metrics_(metrics) {}
  Status CreateViews(const std::vector<std::string>& v) override { return store_->CreateViews(v); }
  Status DropViews(const std::vector<std::string>& v) override { return store_->DropViews(v); }
  Status Teardown() override { return store_->Teardown(); }
  Result<online::WriteResult> Write(const std::string& view, const ByteRows& keys,
                                    const ByteRows& values) override {
    return store_->Write(view, keys, values);
  }
  Status WriteNewer(const std::string& view, const ByteRows& keys,
                    const ByteRows& values) override {
    return store_->WriteNewer(view, keys, values);
  }
  Status Read(const std::vector<online::ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override {
    auto started = std::chrono::steady_clock::now();
    Status status = store_->Read(keys, values, found);
    metrics_->ObserveStoreRead(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return status;
  }
  Status Sync() override { return store_->Sync(); }
  Status Scan(const std::string& view,
              const std::function<void(std::string_view, std::string_view)>& visit) override {
    return store_->Scan(view, visit);
  }

 private:
  online::OnlineStore* store_;
  Metrics* metrics_;
};

std::string FileStamp(const std::filesystem::path& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  if (error) return "";
  auto time = std::filesystem::last_write_time(path, error);
  return fmt::format("{}:{}", size, time.time_since_epoch().count());
}

}  // namespace

FeatureService::FeatureService(const registry::RepoConfig& config, const Clock& clock)
    : config_(config), clock_(clock), metrics_(std::make_unique<Metrics>()) {}

FeatureService::~FeatureService() {
  Status stopped = Stop();
  if (!stopped.ok()) std::fprintf(stderr, "stream pipelines: %s\n", stopped.message().c_str());
}

Status FeatureService::Stop() {
  std::unique_lock lock(streams_mutex_);
  if (streams_ == nullptr) return Status::OK();
  Status stopped = streams_->Stop();
  streams_.reset();
  return stopped;
}

Result<std::unique_ptr<FeatureService>> FeatureService::Make(const registry::RepoConfig& config,
                                                             const Clock& clock) {
  std::unique_ptr<FeatureService> service(new FeatureService(config, clock));
  ARROW_ASSIGN_OR_RAISE(auto store, online::OpenOnlineStore(config, online::OpenMode::kReadWrite));
  service->backing_store_ = std::move(store);
  service->store_ =
      std::make_unique<TimedStore>(service->backing_store_.get(), service->metrics_.get());
  ARROW_RETURN_NOT_OK(service->RefreshRegistry().status());
  if (service->snapshot() == nullptr) {
    return Status::Invalid("the registry at ", config.registry_path.string(),
                           " is empty: run `headwater apply` first");
  }
  return service;
}

Result<bool> FeatureService::RefreshRegistry() {
  std::lock_guard lock(refresh_mutex_);
  auto reloaded = ReloadRegistry();
  // A registry that cannot be read keeps the last good one serving; the failure is logged once
  // and reported by /health and /metrics until a good one is read.
  std::string error = reloaded.ok() ? "" : reloaded.status().message();
  auto previous = registry_error_.load();
  if (error != (previous ? *previous : "")) {
    if (!error.empty()) {
      std::fprintf(stderr, "registry: cannot reload, still serving version %lld: %s\n",
                   static_cast<long long>(registry_version()), PrintableText(error).c_str());
    } else if (previous != nullptr) {
      std::fprintf(stderr, "registry: reloaded, version %lld\n",
                   static_cast<long long>(registry_version()));
    }
    registry_error_.store(error.empty() ? nullptr : std::make_shared<const std::string>(error));
  }
  return reloaded;
}

Result<bool> FeatureService::ReloadRegistry() {
  std::string stamp = FileStamp(config_.registry_path);
  if (stamp.empty() || stamp == registry_stamp_) return false;
  ARROW_ASSIGN_OR_RAISE(auto registry, registry::ReadRegistry(config_));
  if (registry.version == 0) return false;
  ARROW_ASSIGN_OR_RAISE(auto catalog, online::OnlineCatalog::Make(registry.definitions));
  // This process owns the store: drop the values of views that are gone or whose features
  // changed, as `apply` would have (it cannot while the store is held here).
  if (auto previous = snapshot()) {
    std::vector<std::string> drop;
    for (const auto& old : previous->registry.definitions.feature_views) {
      const registry::FeatureView* now = registry.definitions.FindFeatureView(old.name);
      if (old.online && (now == nullptr || !now->online || now->features != old.features)) {
        drop.push_back(old.name);
      }
    }
    ARROW_RETURN_NOT_OK(store_->DropViews(drop));
  }
  // Stream pipelines follow the stream views: restarted (from their checkpoints) when those
  // changed, kept running otherwise.
  auto previous = snapshot();
  if (previous == nullptr ||
      !ingest::SameStreams(previous->registry.definitions, registry.definitions)) {
    std::unique_lock lock(streams_mutex_);
    if (streams_ != nullptr) {
      ARROW_RETURN_NOT_OK(streams_->Stop());
      streams_.reset();
    }
    ARROW_ASSIGN_OR_RAISE(
        streams_, ingest::StreamRunner::Start(config_, registry.definitions, store_.get(), clock_,
                                              [](std::string_view line) {
                                                std::fprintf(stderr, "stream: %s\n",
                                                             PrintableText(line).c_str());
                                              }));
  }
  auto next = std::make_shared<Snapshot>(Snapshot{std::move(registry), std::move(catalog)});
  snapshot_.store(std::move(next));
  registry_stamp_ = std::move(stamp);
  return true;
}

int64_t FeatureService::registry_version() const {
  auto current = snapshot();
  return current ? current->registry.version : 0;
}

HttpResponse FeatureService::Handle(const HttpRequest& request) {
  auto started = std::chrono::steady_clock::now();
  std::string_view endpoint = "other";
  HttpResponse response;
  try {
    response = Route(request, &endpoint);
  } catch (const std::bad_alloc&) {
    response = Error(503, "out of memory", "the request needed more memory than is available");
  } catch (const std::exception& error) {
    response = Error(500, "internal error", error.what());
  }
  metrics_->Record(
      endpoint, response.status,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return response;
}

HttpResponse FeatureService::Route(const HttpRequest& request, std::string_view* endpoint) {
  struct Route {
    std::string_view path;
    std::string_view method;
    uint32_t scope;  // what a token needs, when auth is on; 0: open
  };
  static constexpr Route kRoutes[] = {
      {"/get-online-features", "POST", registry::kReadOnline},
      {"/write-to-online-store", "POST", registry::kWriteOnline},
      // Either write scope lets a token in; Push checks the ones "to" needs.
      {"/push", "POST", registry::kWriteOnline | registry::kWriteOffline},
      {"/materialize", "POST", registry::kMaterialize},
      {"/materialize-incremental", "POST", registry::kMaterialize},
      {"/health", "GET", 0},
      {"/metrics", "GET", 0}};
  std::string_view path = request.path.substr(0, request.path.find('?'));
  for (const Route& route : kRoutes) {
    if (route.path != path) continue;
    *endpoint = route.path;
    if (request.method != route.method) {
      return Error(405, "method not allowed", fmt::format("use {} {}", route.method, route.path));
    }
    // Authentication comes before the body is read at all: a caller without a valid token
    // learns nothing from it, not even which names exist.
    const uint32_t granted = config_.auth.enabled && !request.authorization.empty()
                                 ? GrantedScopes(config_.auth, request.authorization)
                                 : 0;
    if (config_.auth.enabled && route.scope != 0) {
      if (request.authorization.empty()) {
        return Error(401, "unauthorized", "send an API token: Authorization: Bearer <token>");
      }
      if (granted == 0) return Error(401, "unauthorized", "the API token is not valid");
      if ((granted & route.scope) == 0) {
        return Error(403, "forbidden",
                     fmt::format("the API token lacks the scope {} needs", route.path));
      }
    }
    if (path == "/get-online-features") return GetOnlineFeatures(request.body);
    if (path == "/write-to-online-store") return WriteToOnlineStore(request.body);
    if (path == "/push") return Push(request.body, granted);
    if (path == "/materialize") return Materialize(request.body, false);
    if (path == "/materialize-incremental") return Materialize(request.body, true);
    if (path == "/metrics") return MetricsText();
    return Health();
  }
  return Error(404, "not found", fmt::format("no endpoint {}", path.substr(0, 200)));
}

HttpResponse FeatureService::GetOnlineFeatures(std::string_view body) {
  auto current = snapshot();
  auto run = [&]() -> Result<std::string> {
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(body));
    ARROW_ASSIGN_OR_RAISE(auto references, StringListMember(document, "features"));
    ARROW_ASSIGN_OR_RAISE(auto service, StringMember(document, "feature_service", false));
    if (references.empty() == service.empty()) {
      return Status::Invalid(
          "give either \"features\" (a list of view:feature) or "
          "\"feature_service\"");
    }
    ARROW_ASSIGN_OR_RAISE(auto entities, Member(document, "entities"));
    if (entities == nullptr) return Status::Invalid("missing \"entities\"");
    ARROW_ASSIGN_OR_RAISE(auto full_names, Member(document, "full_feature_names"));
    if (full_names != nullptr && !full_names->IsBool()) {
      return Status::Invalid("\"full_feature_names\" must be true or false");
    }
    std::vector<online::OnlineCatalog::Feature> features;
    if (!service.empty()) {
      ARROW_ASSIGN_OR_RAISE(features, current->catalog->ResolveService(service));
    } else {
      ARROW_ASSIGN_OR_RAISE(features, current->catalog->ResolveReferences(references));
    }
    return online::GetOnlineFeatures(store_.get(), features, *entities,
                                     full_names != nullptr && full_names->GetBool(), clock_.Now());
  };
  auto result = run();
  if (!result.ok()) return FromStatus(result.status());
  return HttpResponse{200, std::move(*result)};
}

HttpResponse FeatureService::WriteToOnlineStore(std::string_view body) {
  auto current = snapshot();
  const registry::Definitions& definitions = current->registry.definitions;
  auto run = [&]() -> Result<std::string> {
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(body));
    ARROW_ASSIGN_OR_RAISE(auto view_name, StringMember(document, "feature_view_name", true));
    const registry::FeatureView* view = definitions.FindFeatureView(view_name);
    if (view == nullptr) return Status::KeyError("unknown feature view '", view_name, "'");
    ARROW_ASSIGN_OR_RAISE(auto df, Member(document, "df"));
    if (df == nullptr) return Status::Invalid("missing \"df\"");
    std::map<std::string, FeatureType> columns;
    ingest::AddOnlineWriteColumns(definitions, *view, &columns);
    ARROW_ASSIGN_OR_RAISE(auto table, DataFrameFromJson(*df, columns, kMaxWriteRows));
    ARROW_ASSIGN_OR_RAISE(
        auto result, ingest::WriteToOnlineStore(definitions, view_name, *table,
                                                ingest::EventTimeBounds::At(config_, clock_.Now()),
                                                store_.get()));
    metrics_->AddRowsWritten("/write-to-online-store", result.written);
    return fmt::format(R"({{"status":"ok","rows":{},"written":{},"skipped_older":{}}})",
                       table->num_rows(), result.written, result.skipped_older);
  };
  auto result = run();
  if (!result.ok()) return FromStatus(result.status());
  return HttpResponse{200, std::move(*result)};
}

HttpResponse FeatureService::Push(std::string_view body, uint32_t granted_scopes) {
  auto current = snapshot();
  const registry::Definitions& definitions = current->registry.definitions;
  bool forbidden = false;
  auto run = [&]() -> Result<std::string> {
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(body));
    ARROW_ASSIGN_OR_RAISE(auto name, StringMember(document, "push_source_name", true));
    ARROW_ASSIGN_OR_RAISE(auto to_text, StringMember(document, "to", false));
    ARROW_ASSIGN_OR_RAISE(auto to, ingest::ParsePushTargets(to_text.empty() ? "online" : to_text));
    // The scopes "to" needs are checked before the source is looked up, so that a token
    // without them cannot tell which sources exist.
    const uint32_t needed =
        (to.online ? registry::kWriteOnline : 0u) | (to.offline ? registry::kWriteOffline : 0u);
    if (config_.auth.enabled && (granted_scopes & needed) != needed) {
      forbidden = true;
      return Status::Invalid("the API token lacks write_online or write_offline for this push");
    }
    const registry::DataSource* source = definitions.FindSource(name);
    if (source == nullptr || source->type != registry::SourceType::kPush) {
      return Status::KeyError("unknown push source '", name, "'");
    }
    ARROW_ASSIGN_OR_RAISE(auto df, Member(document, "df"));
    if (df == nullptr) return Status::Invalid("missing \"df\"");
    // The df's columns are read as the types the push's targets need.
    std::map<std::string, FeatureType> columns;
    for (const auto& view : definitions.feature_views) {
      if (view.source == name) ingest::AddOnlineWriteColumns(definitions, view, &columns);
    }
    // Stream views: the events go through the source's pipeline (write-ahead log first).
    std::shared_lock streams_lock(streams_mutex_);
    ingest::SourcePipeline* pipeline =
        to.online && streams_ != nullptr ? streams_->pipeline(name) : nullptr;
    // Only rows bound for the batch source need its schema (a Parquet footer read).
    if (to.offline || pipeline != nullptr) {
      const registry::DataSource* batch = definitions.FindSource(source->batch_source);
      ARROW_RETURN_NOT_OK(ingest::AddOfflineWriteColumns(config_, *batch, &columns));
    }
    ARROW_ASSIGN_OR_RAISE(auto table, DataFrameFromJson(*df, columns, kMaxWriteRows));
    ARROW_ASSIGN_OR_RAISE(auto pushed, ingest::Push(config_, definitions, name, *table, to,
                                                    store_.get(), pipeline, clock_));
    metrics_->AddRowsWritten("/push", pushed.written);
    JsonWriter out;
    out.BeginObject().Key("status").String("ok").Key("rows").Int(pushed.rows);
    if (!pushed.offline_file.empty()) out.Key("offline_file").String(pushed.offline_file);
    out.Key("online_views").BeginArray();
    for (const std::string& view : pushed.online_views) out.String(view);
    out.EndArray().EndObject();
    return out.Take();
  };
  auto result = run();
  if (!result.ok()) {
    if (forbidden) return Error(403, "forbidden", result.status().message());
    return FromStatus(result.status());
  }
  return HttpResponse{200, std::move(*result)};
}

HttpResponse FeatureService::Materialize(std::string_view body, bool incremental) {
  auto current = snapshot();
  auto run = [&]() -> Result<std::string> {
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(body));
    ARROW_ASSIGN_OR_RAISE(auto end_text, StringMember(document, "end_ts", true));
    auto end = ParseTimestamp(end_text);
    if (!end.ok()) return Status::Invalid("end_ts: ", end.status().message());
    ARROW_ASSIGN_OR_RAISE(auto names, StringListMember(document, "feature_views"));
    ARROW_ASSIGN_OR_RAISE(auto views,
                          ingest::SelectOnlineViews(current->registry.definitions, names));
    auto in_past = ingest::CheckMaterializeEnd(*end, clock_.Now());
    if (!in_past.ok()) return Status::Invalid("end_ts: ", in_past.message());
    ingest::StartOf start_of;
    if (incremental) {
      start_of = ingest::IncrementalStart(config_, current->registry);
    } else {
      ARROW_ASSIGN_OR_RAISE(auto start_text, StringMember(document, "start_ts", true));
      auto start = ParseTimestamp(start_text);
      if (!start.ok()) return Status::Invalid("start_ts: ", start.status().message());
      if (start->micros >= end->micros) return Status::Invalid("start_ts must be before end_ts");
      start_of = [start =
                      *start](const registry::FeatureView&) -> Result<std::optional<Timestamp>> {
        return std::optional<Timestamp>(start);
      };
    }
    std::lock_guard lock(materialize_mutex_);
    ARROW_ASSIGN_OR_RAISE(auto outcomes, ingest::MaterializeViews(config_, current->registry, views,
                                                                  start_of, *end, 0, store_.get()));
    JsonWriter out;
    out.BeginObject().Key("status").String("ok").Key("feature_views").BeginArray();
    for (const auto& outcome : outcomes) {
      out.BeginObject().Key("name").String(outcome.view);
      out.Key("start").String(outcome.start ? FormatTimestamp(*outcome.start) : "");
      out.Key("end").String(FormatTimestamp(outcome.end));
      out.Key("rows_read").Int(outcome.stats.rows_read);
      out.Key("keys_written").Int(outcome.stats.keys_written);
      out.Key("keys_skipped_older").Int(outcome.stats.keys_skipped_older).EndObject();
      metrics_->AddRowsWritten(incremental ? "/materialize-incremental" : "/materialize",
                               outcome.stats.keys_written);
    }
    out.EndArray().EndObject();
    ARROW_RETURN_NOT_OK(RefreshRegistry().status());  // pick up the new markers
    return out.Take();
  };
  auto result = run();
  if (!result.ok()) return FromStatus(result.status());
  return HttpResponse{200, std::move(*result)};
}

HttpResponse FeatureService::Health() {
  JsonWriter out;
  auto error = registry_error_.load();
  out.BeginObject().Key("status").String(error ? "degraded" : "ok");
  out.Key("registry_version").Int(registry_version());
  if (error) out.Key("registry_error").String(PrintableText(*error));
  out.EndObject();
  return HttpResponse{200, out.Take()};
}

HttpResponse FeatureService::MetricsText() {
  std::string out;
  metrics_->Render(&out);
  {
    std::shared_lock lock(streams_mutex_);
    if (streams_ != nullptr && !streams_->pipelines().empty()) {
      struct Counter {
        const char* name;
        const char* help;
        int64_t ingest::StreamStats::*field;
      };
      static constexpr Counter kCounters[] = {
          {"headwater_stream_events_total", "Events consumed by the stream pipeline.",
           &ingest::StreamStats::events},
          {"headwater_stream_late_events_total",
           "Events later than the watermark allowed: dead-lettered, not merged.",
           &ingest::StreamStats::late_events},
          {"headwater_stream_dead_letters_total", "Late or malformed events dead-lettered.",
           &ingest::StreamStats::dead_letters},
          {"headwater_stream_rows_total", "Window rows finalised and written.",
           &ingest::StreamStats::rows_emitted},
          {"headwater_stream_checkpoints_total", "Checkpoints committed.",
           &ingest::StreamStats::checkpoints},
      };
      std::vector<std::pair<std::string, ingest::StreamStats>> stats;
      for (const auto& pipeline : streams_->pipelines()) {
        stats.emplace_back(pipeline->source_name(), pipeline->stats());
      }
      for (const Counter& counter : kCounters) {
        out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", counter.name, counter.help,
                           counter.name);
        for (const auto& [source, values] : stats) {
          out += fmt::format("{}{{source=\"{}\"}} {}\n", counter.name, LabelValue(source),
                             values.*counter.field);
        }
      }
      out +=
          "# HELP headwater_stream_position Next offset to read, per source partition (a push "
          "source: its write-ahead log position).\n";
      out += "# TYPE headwater_stream_position gauge\n";
      for (const auto& pipeline : streams_->pipelines()) {
        for (const auto& [partition, position] : pipeline->positions()) {
          out += fmt::format("headwater_stream_position{{source=\"{}\",partition=\"{}\"}} {}\n",
                             LabelValue(pipeline->source_name()), partition, position);
        }
      }
      out +=
          "# HELP headwater_stream_window_publish_seconds From processing the input that "
          "moved the watermark past windows' ends to their rows online (last 4096).\n";
      out += "# TYPE headwater_stream_window_publish_seconds summary\n";
      for (auto& [source, values] : stats) {
        auto& samples = values.publish_seconds;
        if (samples.empty()) continue;
        std::sort(samples.begin(), samples.end());
        for (double q : {0.5, 0.99}) {
          out += fmt::format(
              "headwater_stream_window_publish_seconds{{source=\"{}\",quantile=\"{}\"}} {}\n",
              LabelValue(source), q,
              samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1))]);
        }
      }
      out += "# HELP headwater_stream_watermark_seconds The source's watermark (epoch seconds).\n";
      out += "# TYPE headwater_stream_watermark_seconds gauge\n";
      for (const auto& [source, values] : stats) {
        if (values.watermark == INT64_MIN) continue;
        out += fmt::format("headwater_stream_watermark_seconds{{source=\"{}\"}} {}\n",
                           LabelValue(source), values.watermark / 1e6);
      }
    }
  }
  auto current = snapshot();
  out += "# HELP headwater_feature_freshness_seconds Now minus the newest event time online.\n";
  out += "# TYPE headwater_feature_freshness_seconds gauge\n";
  const int64_t now = clock_.Now().micros;
  for (const auto& view : current->registry.definitions.feature_views) {
    if (!view.online) continue;
    auto newest = online::NewestEventTime(*store_, view.name);
    if (!newest.ok() || !newest->has_value()) continue;
    out += fmt::format("headwater_feature_freshness_seconds{{feature_view=\"{}\"}} {}\n",
                       LabelValue(view.name), (now - (*newest)->micros) / 1e6);
  }
  out += fmt::format("headwater_registry_version {}\n", current->registry.version);
  out +=
      "# HELP headwater_registry_reload_failing 1 while the registry file cannot be read (the "
      "last good version keeps serving; /health says why).\n";
  out += "# TYPE headwater_registry_reload_failing gauge\n";
  out += fmt::format("headwater_registry_reload_failing {}\n",
                     registry_error_.load() != nullptr ? 1 : 0);
  return HttpResponse{200, std::move(out), "text/plain; version=0.0.4"};
}

}  // namespace headwater::server
