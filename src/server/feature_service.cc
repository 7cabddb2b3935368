#include "headwater/server/feature_service.h"

#include <arrow/api.h>
#include <fmt/format.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <new>
#include <thread>

#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/core/text.h"
#include "headwater/ingest/idempotency.h"
#include "headwater/ingest/json_rows.h"
#include "headwater/server/api_token.h"
#include "headwater/server/feast_error.h"
#include "headwater/server/online_json.h"
#include "metrics.h"
#include "metrics_history.h"
#include "statistics_jobs.h"

namespace headwater::server {
namespace {

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

// An Idempotency-Key header, when sent, must hold a key (an empty one is a client's mistake).
Status CheckKeyHeader(const HttpRequest& request) {
  if (!request.has_idempotency_key) return Status::OK();
  Status checked = ingest::CheckIdempotencyKey(request.idempotency_key);
  if (!checked.ok()) return Status::Invalid("Idempotency-Key header: ", checked.message());
  return Status::OK();
}

// Feast's `df` (columns of values) as a table of the columns a write or push reads.
Result<std::shared_ptr<arrow::Table>> DataFrame(const rapidjson::Value& df,
                                                const std::map<std::string, FeatureType>& columns) {
  ARROW_ASSIGN_OR_RAISE(auto batch,
                        ingest::ReadJsonColumns(df, ingest::JsonColumnTypes(columns), "df"));
  return arrow::Table::FromRecordBatches({std::move(batch)});
}

// The features a request selects: "features" (a list of view:feature) or "feature_service".
Result<store::FeatureSelection> SelectionOf(const rapidjson::Value& document) {
  store::FeatureSelection selection;
  ARROW_ASSIGN_OR_RAISE(selection.references, StringListMember(document, "features"));
  ARROW_ASSIGN_OR_RAISE(selection.service, StringMember(document, "feature_service", false));
  return selection;
}

}  // namespace

FeatureService::FeatureService(std::unique_ptr<store::FeatureStore> store, ErrorBody error_body)
    : store_(std::move(store)),
      metrics_(std::make_unique<Metrics>()),
      history_(std::make_unique<MetricsHistory>()),
      statistics_(std::make_unique<StatisticsJobs>()),
      error_body_(error_body) {}

HttpResponse FeatureService::Error(int status, std::string_view error, std::string_view detail,
                                   std::optional<Missing> missing) const {
  HttpResponse response{status, ""};
  response.error = error;
  response.error_detail = PrintableText(detail);  // messages quote input
  JsonWriter writer;
  if (error_body_ == ErrorBody::kFeast) {
    writer.String(FeastErrorDetail(status, missing, detail));  // a JSON string, as Feast's server
  } else {
    writer.BeginObject().Key("error").String(error);
    writer.Key("detail").String(response.error_detail).EndObject();
  }
  response.body = writer.Take();
  return response;
}

HttpResponse FeatureService::FromStatus(const Status& status) const {
  if (status.IsKeyError()) return Error(404, "not found", status.message(), MissingOf(status));
  if (IsUnavailable(status)) return Error(503, "unavailable", status.message());
  if (auto conflict = ingest::KeyConflictOf(status)) {
    return *conflict == ingest::KeyConflict::kInProgress
               ? Error(409, "conflict", status.message())
               : Error(422, "idempotency key reused", status.message());
  }
  if (status.IsInvalid() || status.IsTypeError() || status.IsCapacityError()) {
    return Error(400, "invalid request", status.message());
  }
  if (status.IsOutOfMemory()) return Error(503, "out of memory", status.message());
  return Error(500, "internal error", status.message());
}

FeatureService::~FeatureService() {
  statistics_.reset();  // joins running statistics jobs before the store goes
  Status stopped = Stop();
  if (!stopped.ok()) std::fprintf(stderr, "stream pipelines: %s\n", stopped.message().c_str());
}

Status FeatureService::Stop() { return store_->Close(); }

Result<std::unique_ptr<FeatureService>> FeatureService::Make(const registry::RepoConfig& config,
                                                             const Clock& clock,
                                                             ErrorBody error_body) {
  store::OpenOptions options;
  options.clock = &clock;
  options.online = store::OnlineAccess::kHeld;
  options.run_streams = true;
  options.refresh_on_use = false;  // Serve refreshes every 200 ms; requests read the snapshot
  ARROW_ASSIGN_OR_RAISE(auto store, store::FeatureStore::Open(config, std::move(options)));
  ARROW_RETURN_NOT_OK(store->Applied().status());  // nothing to serve before an apply
  return std::unique_ptr<FeatureService>(new FeatureService(std::move(store), error_body));
}

int64_t FeatureService::registry_version() const {
  auto current = store_->snapshot();
  return current ? current->registry.version : 0;
}

int FeatureService::default_workers() const {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // A worker waits for Redis on every read; two per core keep the cores busy meanwhile
  // (100-entity reads: 4.3k req/s with one per core, 6.7k with two, on 2 cores).
  return store_->config().online_store.type == "redis" ? 2 * cores : cores;
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
    uint32_t scope;       // what a token needs, when auth is on; 0: open
    bool prefix = false;  // the path starts with `path`
  };
  static constexpr Route kRoutes[] = {
      {"/get-online-features", "POST", registry::kReadOnline},
      {"/write-to-online-store", "POST", registry::kWriteOnline},
      // Either write scope lets a token in; Push checks the ones "to" needs.
      {"/push", "POST", registry::kWriteOnline | registry::kWriteOffline},
      {"/materialize", "POST", registry::kMaterialize},
      {"/materialize-incremental", "POST", registry::kMaterialize},
      {"/health", "GET", 0},
      {"/metrics", "GET", 0},
      {"/api/whoami", "GET", 0},
      {"/api/registry", "GET", registry::kAnyScope},
      {"/api/freshness", "GET", registry::kAnyScope},
      {"/api/metrics", "GET", registry::kAnyScope},
      {"/api/statistics", "POST", registry::kReadOffline},
      {"/api/statistics/", "GET", registry::kReadOffline, true}};
  std::string_view path = request.path.substr(0, request.path.find('?'));
  if (path == "/ui" || path.starts_with("/ui/")) {
    *endpoint = "/ui";
    return UiAsset(request);
  }
  for (const Route& route : kRoutes) {
    if (route.prefix ? !path.starts_with(route.path) : route.path != path) continue;
    *endpoint = route.path.starts_with("/api/") ? "/api" : route.path;
    if (request.method != route.method) {
      return Error(405, "method not allowed", fmt::format("use {} {}", route.method, route.path));
    }
    // Authentication comes before the body is read at all: a caller without a valid token
    // learns nothing from it, not even which names exist.
    const uint32_t granted = store_->config().auth.enabled && !request.authorization.empty()
                                 ? GrantedScopes(store_->config().auth, request.authorization)
                                 : 0;
    if (store_->config().auth.enabled && route.scope != 0) {
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
    if (path == "/write-to-online-store") return WriteToOnlineStore(request);
    if (path == "/push") return Push(request, granted);
    if (path == "/materialize") return Materialize(request.body, false);
    if (path == "/materialize-incremental") return Materialize(request.body, true);
    if (path == "/metrics") return MetricsText();
    if (path == "/api/whoami") {
      if (store_->config().auth.enabled && granted == 0) {
        return Error(401, "unauthorized", "send a valid API token: Authorization: Bearer <token>");
      }
      return ApiWhoami(granted);
    }
    if (path == "/api/registry") return ApiRegistry();
    if (path == "/api/freshness") return ApiFreshness();
    if (path == "/api/metrics") return ApiMetrics(request.path);
    if (path == "/api/statistics") return StartStatistics(request.body);
    if (route.path == "/api/statistics/") return PollStatistics(path);
    return Health();
  }
  return Error(404, "not found", fmt::format("no endpoint {}", path.substr(0, 200)));
}

HttpResponse FeatureService::GetOnlineFeatures(std::string_view body) {
  auto run = [&]() -> Result<std::string> {
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(body));
    ARROW_ASSIGN_OR_RAISE(auto selection, SelectionOf(document));
    ARROW_ASSIGN_OR_RAISE(auto entities, Member(document, "entities"));
    if (entities == nullptr) return Status::Invalid("missing \"entities\"");
    ARROW_ASSIGN_OR_RAISE(auto full_names, Member(document, "full_feature_names"));
    if (full_names != nullptr && !full_names->IsBool()) {
      return Status::Invalid("\"full_feature_names\" must be true or false");
    }
    ARROW_ASSIGN_OR_RAISE(auto online, store_->SelectOnline(selection));
    ARROW_ASSIGN_OR_RAISE(auto rows, EntitiesFromJson(*entities, online.column_types));
    ARROW_ASSIGN_OR_RAISE(
        auto read, store_->GetOnlineFeatures(rows, std::move(online),
                                             full_names != nullptr && full_names->GetBool()));
    metrics_->ObserveStoreRead(read.store_read_seconds());
    return OnlineFeaturesJson(rows, read);
  };
  auto result = run();
  if (!result.ok()) return FromStatus(result.status());
  return HttpResponse{200, std::move(*result)};
}

HttpResponse FeatureService::WriteToOnlineStore(const HttpRequest& request) {
  auto run = [&]() -> Result<std::string> {
    ARROW_RETURN_NOT_OK(CheckKeyHeader(request));
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(request.body));
    ARROW_ASSIGN_OR_RAISE(auto view, StringMember(document, "feature_view_name", true));
    ARROW_ASSIGN_OR_RAISE(auto columns, store_->WriteColumns(view));
    ARROW_ASSIGN_OR_RAISE(auto df, Member(document, "df"));
    if (df == nullptr) return Status::Invalid("missing \"df\"");
    ARROW_ASSIGN_OR_RAISE(auto table, DataFrame(*df, columns));
    ARROW_ASSIGN_OR_RAISE(auto result,
                          store_->WriteToOnlineStore(view, *table, request.idempotency_key));
    metrics_->AddRowsWritten("/write-to-online-store", result.written);
    return fmt::format(R"({{"status":"ok","rows":{},"written":{},"skipped_older":{}}})",
                       table->num_rows(), result.written, result.skipped_older);
  };
  auto result = run();
  if (!result.ok()) return FromStatus(result.status());
  return HttpResponse{200, std::move(*result)};
}

HttpResponse FeatureService::Push(const HttpRequest& request, uint32_t granted_scopes) {
  bool forbidden = false;
  auto run = [&]() -> Result<std::string> {
    ARROW_RETURN_NOT_OK(CheckKeyHeader(request));
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(request.body));
    ARROW_ASSIGN_OR_RAISE(auto name, StringMember(document, "push_source_name", true));
    ARROW_ASSIGN_OR_RAISE(auto to_text, StringMember(document, "to", false));
    ARROW_ASSIGN_OR_RAISE(auto to, ingest::ParsePushTargets(to_text.empty() ? "online" : to_text));
    // The scopes "to" needs are checked before the source is looked up, so that a token
    // without them cannot tell which sources exist.
    const uint32_t needed =
        (to.online ? registry::kWriteOnline : 0u) | (to.offline ? registry::kWriteOffline : 0u);
    if (store_->config().auth.enabled && (granted_scopes & needed) != needed) {
      forbidden = true;
      return Status::Invalid("the API token lacks write_online or write_offline for this push");
    }
    ARROW_ASSIGN_OR_RAISE(auto columns, store_->PushColumns(name, to));
    ARROW_ASSIGN_OR_RAISE(auto df, Member(document, "df"));
    if (df == nullptr) return Status::Invalid("missing \"df\"");
    ARROW_ASSIGN_OR_RAISE(auto table, DataFrame(*df, columns));
    ARROW_ASSIGN_OR_RAISE(auto pushed, store_->Push(name, *table, to, request.idempotency_key));
    metrics_->AddRowsWritten("/push", pushed.written);
    JsonWriter out;
    out.BeginObject().Key("status").String("ok").Key("rows").Int(pushed.rows);
    if (!pushed.offline_file.empty()) out.Key("offline_file").String(pushed.offline_file);
    out.Key("online_views").BeginArray();
    for (const std::string& view : pushed.online_views) out.String(view);
    out.EndArray();
    if (pushed.repeated) out.Key("repeated").Bool(true);
    out.EndObject();
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
  auto run = [&]() -> Result<std::string> {
    ARROW_ASSIGN_OR_RAISE(auto document, ParseBody(body));
    store::MaterializeRequest request;
    auto timestamp = [&](const char* key) -> Result<Timestamp> {
      ARROW_ASSIGN_OR_RAISE(auto text, StringMember(document, key, true));
      auto parsed = ParseTimestamp(text);
      if (!parsed.ok()) return Status::Invalid(key, ": ", parsed.status().message());
      return *parsed;
    };
    ARROW_ASSIGN_OR_RAISE(request.end, timestamp("end_ts"));
    if (!incremental) {
      ARROW_ASSIGN_OR_RAISE(request.start, timestamp("start_ts"));
    }
    ARROW_ASSIGN_OR_RAISE(request.views, StringListMember(document, "feature_views"));
    ARROW_ASSIGN_OR_RAISE(auto outcomes, store_->Materialize(request));
    JsonWriter out;
    out.BeginObject().Key("status").String("ok").Key("feature_views").BeginArray();
    for (const auto& outcome : outcomes) {
      out.BeginObject().Key("name").String(outcome.view);
      out.Key("start").String(outcome.start ? FormatTimestamp(*outcome.start) : "");
      out.Key("end").String(FormatTimestamp(outcome.end));
      if (outcome.requested_end) {  // later than now: clamped
        out.Key("requested_end").String(FormatTimestamp(*outcome.requested_end));
      }
      out.Key("rows_read").Int(outcome.stats.rows_read);
      out.Key("keys_written").Int(outcome.stats.keys_written);
      out.Key("keys_skipped_older").Int(outcome.stats.keys_skipped_older).EndObject();
      metrics_->AddRowsWritten(incremental ? "/materialize-incremental" : "/materialize",
                               outcome.stats.keys_written);
    }
    out.EndArray().EndObject();
    return out.Take();
  };
  auto result = run();
  if (!result.ok()) return FromStatus(result.status());
  return HttpResponse{200, std::move(*result)};
}

HttpResponse FeatureService::Health() {
  JsonWriter out;
  const std::string error = store_->registry_error();
  const std::optional<store::FlinkHealth> flink = store_->Flink();
  // The online store is what serving needs: when it does not answer, /health fails (503).
  const Status online = store_->PingOnline();
  const bool healthy = error.empty() && online.ok() && (!flink || !flink->checked || flink->ok());
  out.BeginObject().Key("status").String(healthy ? "ok" : "degraded");
  out.Key("registry_version").Int(registry_version());
  if (!error.empty()) out.Key("registry_error").String(PrintableText(error));
  if (!online.ok()) out.Key("online_store_error").String(PrintableText(online.message()));
  if (flink && flink->checked) {
    // The stream views' Flink jobs: whether Flink answers and each job runs.
    out.Key("flink").BeginObject().Key("ok").Bool(flink->ok());
    if (!flink->error.empty()) out.Key("error").String(PrintableText(flink->error));
    out.Key("jobs").BeginObject();
    for (const auto& [view, state] : flink->jobs) out.Key(view).String(state);
    out.EndObject().EndObject();
  }
  out.EndObject();
  return HttpResponse{online.ok() ? 200 : 503, out.Take()};
}

HttpResponse FeatureService::MetricsText() {
  std::string out;
  metrics_->Render(&out);
  RenderStreamMetrics(store_->StreamStatuses(), &out);
  std::vector<std::pair<std::string, double>> freshness;
  auto current = store_->snapshot();
  const int64_t now = store_->clock().Now().micros;
  for (const auto& view : current->registry.definitions.feature_views) {
    if (!view.online) continue;
    auto newest = store_->NewestOnlineEventTime(view.name);
    if (newest.ok() && newest->has_value()) {
      freshness.emplace_back(view.name, static_cast<double>(now - (*newest)->micros) / 1e6);
    }
  }
  RenderRegistryMetrics(freshness, current->registry.version, !store_->registry_error().empty(),
                        &out);
  return HttpResponse{200, std::move(out), "text/plain; version=0.0.4"};
}

}  // namespace headwater::server
