// The JSON endpoints behind the web UI (/api/...): the registry with its lineage, freshness per
// view and stream, and feature statistics. Each renders facts the core keeps; no rule lives here.

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <thread>

#include "headwater/core/json_reader.h"
#include "headwater/core/json_writer.h"
#include "headwater/core/text.h"
#include "headwater/registry/lineage.h"
#include "headwater/registry/registry_codec.h"
#include "headwater/server/feature_service.h"
#include "metrics_history.h"
#include "statistics_jobs.h"
#include "ui_assets.h"

namespace headwater::server {
namespace {

// The value of `key` in a query string ("a=1&b=2"), undecoded; "" when absent.
std::string_view QueryValue(std::string_view path, std::string_view key) {
  const size_t question = path.find('?');
  if (question == std::string_view::npos) return {};
  std::string_view query = path.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == key && pair.find('=') != std::string_view::npos) {
      return pair.substr(pair.find('=') + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

void TimeOrNull(JsonWriter& writer, int64_t micros, bool present) {
  if (present) {
    writer.String(FormatTimestamp(Timestamp{micros}));
  } else {
    writer.Null();
  }
}

}  // namespace

HttpResponse FeatureService::ApiRegistry() {
  auto current = store_->snapshot();
  registry::Registry shown = current->registry;
  shown.materializations.clear();  // state, shown by /api/freshness
  JsonWriter writer;
  writer.BeginObject().Key("registry").Raw(registry::RegistryToJson(shown, 0));
  const registry::Lineage lineage = registry::LineageOf(shown.definitions);
  writer.Key("lineage").BeginObject().Key("nodes").BeginArray();
  for (const auto& node : lineage.nodes) {
    writer.BeginObject().Key("id").String(node.id()).Key("kind").String(node.kind);
    writer.Key("name").String(node.name).EndObject();
  }
  writer.EndArray().Key("edges").BeginArray();
  for (const auto& edge : lineage.edges) {
    writer.BeginObject().Key("from").String(edge.from).Key("to").String(edge.to).EndObject();
  }
  writer.EndArray().EndObject().EndObject();
  return HttpResponse{200, writer.Take()};
}

HttpResponse FeatureService::ApiFreshness() {
  auto current = store_->snapshot();
  const registry::Registry& registry = current->registry;
  const int64_t now = store_->clock().Now().micros;
  JsonWriter writer;
  writer.BeginObject().Key("now").String(FormatTimestamp(Timestamp{now}));
  writer.Key("feature_views").BeginArray();
  for (const auto& view : registry.definitions.feature_views) {
    writer.BeginObject().Key("name").String(view.name);
    writer.Key("stream").Bool(view.is_stream()).Key("online").Bool(view.online);
    auto done = registry.materializations.find(view.name);
    const bool materialized = done != registry.materializations.end() && !done->second.empty();
    writer.Key("materializations").Int(materialized ? done->second.size() : 0);
    writer.Key("last_materialization");
    if (materialized) {
      const auto& last = done->second.back();
      writer.BeginObject().Key("start").String(FormatTimestamp(last.start));
      writer.Key("end").String(FormatTimestamp(last.end)).Key("written_at");
      TimeOrNull(writer, last.written_at.micros, last.written_at.micros != 0);
      writer.Key("keys_written").Int(last.keys_written).EndObject();
    } else {
      writer.Null();
    }
    writer.Key("incremental_marker");
    auto marker = ingest::IncrementalMarker(registry, view.name);
    TimeOrNull(writer, marker ? marker->micros : 0, marker.has_value());
    std::optional<Timestamp> newest;
    if (view.online) {
      auto read = store_->NewestOnlineEventTime(view.name);
      if (read.ok()) newest = *read;
    }
    writer.Key("newest_online_event");
    TimeOrNull(writer, newest ? newest->micros : 0, newest.has_value());
    writer.Key("age_seconds");
    if (newest) {
      writer.Double(static_cast<double>(now - newest->micros) / 1e6);
    } else {
      writer.Null();
    }
    writer.EndObject();
  }
  writer.EndArray().Key("streams").BeginArray();
  for (const auto& stream : store_->StreamStatuses()) {
    const ingest::StreamStats& s = stream.stats;
    writer.BeginObject().Key("source").String(stream.source).Key("views").BeginArray();
    for (const auto& view : stream.views) writer.String(view);
    writer.EndArray();
    writer.Key("events").Int(s.events).Key("late_events").Int(s.late_events);
    writer.Key("dead_letters").Int(s.dead_letters).Key("rows_emitted").Int(s.rows_emitted);
    writer.Key("checkpoints").Int(s.checkpoints).Key("watermark");
    TimeOrNull(writer, s.watermark, s.watermark != INT64_MIN);
    writer.Key("newest_event");
    TimeOrNull(writer, s.newest_event, s.newest_event != INT64_MIN);
    writer.Key("lag_seconds");  // how far the watermark trails the newest event
    if (s.watermark != INT64_MIN && s.newest_event != INT64_MIN) {
      writer.Double(static_cast<double>(s.newest_event - s.watermark) / 1e6);
    } else {
      writer.Null();
    }
    writer.Key("checkpoint_age_seconds");
    if (s.last_checkpoint != 0) {
      writer.Double(static_cast<double>(now - s.last_checkpoint) / 1e6);
    } else {
      writer.Null();
    }
    writer.Key("recent_dead_letters").BeginArray();
    for (const auto& line : s.recent_dead_letters) {
      std::string_view text = line;
      while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
      writer.Raw(text);  // each line is one JSON object (DeadLetterLine)
    }
    writer.EndArray().EndObject();
  }
  writer.EndArray().EndObject();
  return HttpResponse{200, writer.Take()};
}

namespace {

std::string StatisticsJson(const offline::ViewStatistics& stats) {
  JsonWriter writer;
  writer.BeginObject().Key("feature_view").String(stats.view).Key("rows").Int(stats.rows);
  writer.Key("features").BeginArray();
  for (const auto& feature : stats.features) {
    writer.BeginObject().Key("name").String(feature.name);
    writer.Key("type").String(FormatFeatureType(feature.type));
    writer.Key("count").Int(feature.count).Key("nulls").Int(feature.nulls);
    for (const auto& [key, value] :
         {std::pair{"min", feature.min}, {"max", feature.max}, {"mean", feature.mean}}) {
      writer.Key(key);
      if (value) {
        writer.Double(*value);
      } else {
        writer.Null();
      }
    }
    writer.Key("histogram").BeginArray();
    for (int64_t count : feature.histogram) writer.Int(count);
    writer.EndArray().EndObject();
  }
  writer.EndArray().EndObject();
  return writer.Take();
}

}  // namespace

HttpResponse FeatureService::StartStatistics(std::string_view body) {
  rapidjson::Document document;
  if (auto parsed = ParseJson(body, "the body", &document); !parsed.ok()) {
    return FromStatus(parsed);
  }
  if (!document.IsObject() || !document.HasMember("feature_view") ||
      !document["feature_view"].IsString()) {
    return Error(400, "invalid request", "send {\"feature_view\": \"<name>\", \"bins\": n}");
  }
  offline::StatisticsOptions options;
  if (document.HasMember("bins")) {
    const auto& bins = document["bins"];
    if (!bins.IsInt() || bins.GetInt() < 1 || bins.GetInt() > 1000) {
      return Error(400, "invalid request", "\"bins\" must be an integer from 1 to 1000");
    }
    options.bins = bins.GetInt();
  }
  const std::string view = document["feature_view"].GetString();
  // Refused at once when the view is unknown, rather than by a job that fails.
  auto current = store_->snapshot();
  if (current->registry.definitions.FindFeatureView(view) == nullptr) {
    return Error(404, "not found", fmt::format("unknown feature view '{}'", view.substr(0, 200)),
                 Missing::kFeatureView);
  }
  auto job = std::make_shared<StatisticsJob>();
  int64_t id = 0;
  {
    std::lock_guard lock(statistics_->mutex);
    size_t running = 0;
    for (const auto& [unused, other] : statistics_->jobs) running += other->done ? 0 : 1;
    if (running >= StatisticsJobs::kRunning) {
      return Error(503, "busy",
                   fmt::format("{} statistics jobs are running; try again when one is done",
                               running));
    }
    id = statistics_->next_id++;
    statistics_->jobs[id] = job;
    for (auto it = statistics_->jobs.begin();
         statistics_->jobs.size() > StatisticsJobs::kKept && it != statistics_->jobs.end();) {
      it = it->second->done ? statistics_->jobs.erase(it) : std::next(it);
    }
  }
  options.progress = [job = job.get()](double done) { job->progress = done; };
  job->thread = std::jthread([this, job = job.get(), view, options] {
    auto stats = store_->FeatureStatistics(view, options);
    if (stats.ok()) {
      job->result = StatisticsJson(*stats);
    } else {
      job->status = FromStatus(stats.status()).status;
      JsonWriter error;
      error.String(PrintableText(stats.status().message()));
      job->result = error.Take();
    }
    job->progress = 1;
    job->done = true;
  });
  return HttpResponse{202, fmt::format(R"({{"job":"{}","done":false,"progress":0}})", id)};
}

HttpResponse FeatureService::PollStatistics(std::string_view path) {
  std::string_view id_text = path.substr(std::string_view("/api/statistics/").size());
  id_text = id_text.substr(0, id_text.find('?'));
  int64_t id = 0;
  for (char c : id_text) {
    if (c < '0' || c > '9' || id > 1'000'000'000) return Error(404, "not found", "no such job");
    id = id * 10 + (c - '0');
  }
  std::shared_ptr<StatisticsJob> job;
  {
    std::lock_guard lock(statistics_->mutex);
    auto found = statistics_->jobs.find(id);
    if (found == statistics_->jobs.end()) {
      return Error(404, "not found",
                   "no such statistics job (jobs are kept while 16 newer "
                   "ones have not finished)");
    }
    job = found->second;
  }
  JsonWriter writer;
  writer.BeginObject().Key("job").String(std::to_string(id));
  const bool done = job->done;
  writer.Key("done").Bool(done).Key("progress").Double(job->progress);
  if (done) writer.Key(job->status == 200 ? "result" : "error").Raw(job->result);
  writer.EndObject();
  return HttpResponse{200, writer.Take()};
}

HttpResponse FeatureService::ApiMetrics(std::string_view path) {
  std::optional<double> since;
  if (auto text = QueryValue(path, "since"); !text.empty()) {
    double value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
      return Error(400, "invalid request", "since must be a number of seconds since 1970");
    }
    since = value;
  }
  return HttpResponse{200, history_->Json(since)};
}

void FeatureService::Sample() {
  history_->Sample(static_cast<double>(store_->clock().Now().micros) / 1e6, *metrics_,
                   store_->StreamStatuses());
}

HttpResponse FeatureService::UiAsset(const HttpRequest& request) {
  if (request.method != "GET") return Error(405, "method not allowed", "use GET for /ui");
  const std::string_view path = request.path.substr(0, request.path.find('?'));
  const server::UiAsset* asset = FindUiAsset(path);
  if (asset == nullptr)
    return Error(404, "not found", fmt::format("no file {}", path.substr(0, 200)));
  HttpResponse response{200, std::string(asset->data), asset->content_type};
  response.ui_asset = true;
  return response;
}

HttpResponse FeatureService::ApiWhoami(uint32_t granted) {
  const bool auth = store_->config().auth.enabled;
  JsonWriter writer;
  writer.BeginObject().Key("auth").Bool(auth).Key("scopes").BeginArray();
  for (const auto& [scope, name] : registry::kScopeNames) {
    if (!auth || (granted & scope) != 0) writer.String(name);
  }
  writer.EndArray().EndObject();
  return HttpResponse{200, writer.Take()};
}

}  // namespace headwater::server
