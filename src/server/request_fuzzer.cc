// libFuzzer target for the feature server's request parsing and dispatch: the first input byte
// picks an endpoint and method, the rest is the body. Every response must be a well-formed
// status with a JSON object body (or Prometheus text), and nothing may crash or leak.
// Built by scripts/run_tests in build-fuzz/ with clang; run there for a bounded time.
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/writer.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "headwater/core/json_reader.h"
#include "headwater/core/text.h"
#include "headwater/ingest/materializer.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"
#include "headwater/server/api_token.h"
#include "headwater/server/feature_service.h"

namespace {

using namespace headwater;
namespace fs = std::filesystem;

ManualClock clock_now(Timestamp{1'714'600'000'000'000});
constexpr const char* kToken = "fuzz-token-0123456789abcdef";
constexpr const char* kReaderToken = "fuzz-reader-0123456789abcdef";
std::unique_ptr<server::FeatureService> service;

void Check(const Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "fuzzer set-up failed: %s\n", status.ToString().c_str());
    std::abort();
  }
}

// A repository with two views (one with a composite key) and an on-demand view over one and
// request values, applied and materialized.
void MakeRepository(const fs::path& repo) {
  fs::create_directories(repo / "data");
  // Authentication on, so the fuzzer reaches the paths with and without a token.
  std::ofstream(repo / "feature_store.yaml")
      << "project: fuzz\nauth:\n  tokens:\n"
      << "    - {name: all, sha256: " << Sha256Hex(kToken)
      << ", scopes: [read_online, write_online, write_offline, materialize]}\n"
      << "    - {name: reader, sha256: " << Sha256Hex(kReaderToken) << ", scopes: [read_online]}\n";
  std::ofstream(repo / "defs.yaml")
      << "entities:\n  - {name: driver, join_keys: [driver_id]}\n"
         "  - {name: city, join_keys: [city], value_type: STRING}\n"
         "sources:\n  - {name: s, path: data/f.parquet, timestamp_field: ts}\n"
         "  - {name: pb, path: data/pushed, timestamp_field: ts}\n"
         "  - {name: p, type: push, batch_source: pb}\n"
         "  - name: req\n    type: request\n"
         "    schema: [{name: k, dtype: Float64}, {name: label, dtype: String}]\n"
         "feature_views:\n"
         "  - {name: v, entities: [driver], ttl: 1d, source: s}\n"
         "  - {name: w, entities: [driver, city], ttl: 0, source: s}\n"
         "  - {name: pv, entities: [driver], ttl: 0, source: p}\n"
         "feature_services: [{name: svc, features: [v, {w: [x]}, odfv]}]\n"
         // On-demand features over request values: division, strings, time, casts.
         "on_demand_feature_views:\n"
         "  - name: odfv\n    sources: [v, req]\n"
         "    schema: [{name: r, dtype: Float32}, {name: s, dtype: String},\n"
         "             {name: age, dtype: Int32}, {name: big, dtype: Int64}]\n"
         "    expressions:\n"
         "      r: x / k\n"
         "      s: concat(name, label, cast(k as String))\n"
         "      age: cast(now() - v.event_timestamp as Int32)\n"
         "      big: cast(k * 1e18 as Int64) * 100\n";
  arrow::Int64Builder ids;
  arrow::StringBuilder cities, names;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                arrow::default_memory_pool());
  arrow::DoubleBuilder xs;
  arrow::ListBuilder tags(arrow::default_memory_pool(), std::make_shared<arrow::Int64Builder>());
  for (int i = 0; i < 50; ++i) {
    Check(ids.Append(i % 10));
    Check(cities.Append(i % 2 ? "rome" : "paris"));
    Check(names.Append("n" + std::to_string(i)));
    Check(times.Append(1'714'500'000'000'000 + i * 1'000'000));
    Check(i % 7 ? xs.Append(i * 0.5) : xs.AppendNull());
    Check(tags.Append());
    Check(static_cast<arrow::Int64Builder*>(tags.value_builder())->Append(i));
  }
  auto table = arrow::Table::Make(
      arrow::schema({arrow::field("driver_id", arrow::int64()), arrow::field("city", arrow::utf8()),
                     arrow::field("name", arrow::utf8()), arrow::field("ts", times.type()),
                     arrow::field("x", arrow::float64()),
                     arrow::field("tags", arrow::list(arrow::int64()))}),
      {ids.Finish().ValueOrDie(), cities.Finish().ValueOrDie(), names.Finish().ValueOrDie(),
       times.Finish().ValueOrDie(), xs.Finish().ValueOrDie(), tags.Finish().ValueOrDie()});
  fs::create_directories(repo / "data" / "pushed");
  for (const fs::path& file :
       {repo / "data" / "f.parquet", repo / "data" / "pushed" / "0.parquet"}) {
    auto out = arrow::io::FileOutputStream::Open(file.string()).ValueOrDie();
    Check(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out));
    Check(out->Close());
  }

  auto config = registry::LoadRepoConfig(repo).ValueOrDie();
  registry::Registry applied;
  applied.project = config.project;
  applied.version = 1;
  applied.definitions = registry::LoadDefinitions(config).ValueOrDie();
  Check(registry::WriteRegistry(config.registry_path, applied));
  auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
  auto views = ingest::SelectOnlineViews(applied.definitions, {}).ValueOrDie();
  ingest::MaterializeViewsOptions options;
  options.start_of = [](const registry::FeatureView&) -> Result<std::optional<Timestamp>> {
    return std::optional<Timestamp>(Timestamp{0});
  };
  options.end = clock_now.Now();
  options.clock = &clock_now;
  options.threads = 1;
  Check(ingest::MaterializeViews(config, applied, views, store.get(), options).status());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fs::path repo = fs::temp_directory_path() / ("headwater-fuzz-" + std::to_string(::getpid()));
  fs::remove_all(repo);
  MakeRepository(repo);
  auto config = registry::LoadRepoConfig(repo).ValueOrDie();
  service = server::FeatureService::Make(config, clock_now).ValueOrDie();
  std::atexit([] {
    service.reset();
    fs::path dir = fs::temp_directory_path() / ("headwater-fuzz-" + std::to_string(::getpid()));
    std::error_code error;
    fs::remove_all(dir, error);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr std::pair<const char*, const char*> kTargets[] = {
      {"POST", "/get-online-features"},
      {"POST", "/write-to-online-store"},
      {"POST", "/push"},
      {"POST", "/get-online-features"},
      {"GET", "/health"},
      {"GET", "/metrics"},
      {"POST", "/nope"},
      {"PUT", "/get-online-features"},
      {"POST", "/materialize"},
      {"POST", "/materialize-incremental"},
      {"POST", "/api/statistics"},
      {"GET", "/api/freshness"},
      {"GET", "/api/registry"}};
  static const std::string kAuthorizations[] = {"Bearer " + std::string(kToken), "",
                                                "Bearer " + std::string(kReaderToken),
                                                "Bearer not-a-token", "garbage"};
  if (size == 0) return 0;
  // The first byte picks the endpoint (low half) and the Authorization header (high half); the
  // rest is the body.
  const auto& [method, path] = kTargets[(data[0] & 15) % std::size(kTargets)];
  const std::string& authorization = kAuthorizations[(data[0] >> 4) % std::size(kAuthorizations)];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  server::HttpResponse response = service->Handle({method, path, body, authorization});
  if (response.status < 200 || response.status > 599) std::abort();
  // Without a valid token nothing but /health and /metrics is read, whatever the body.
  if (authorization != kAuthorizations[0] && authorization != kAuthorizations[2] &&
      std::string_view(path) != "/health" && std::string_view(path) != "/metrics" &&
      std::string_view(path) != "/nope" && std::string_view(method) == "POST" &&
      response.status != 401) {
    std::abort();
  }
  if (response.content_type == "application/json") {
    rapidjson::Document document;
    if (!ParseJson(response.body, "the response", &document).ok() || !document.IsObject()) {
      std::abort();
    }
    if (response.status >= 400 && (!document.HasMember("error") || !document.HasMember("detail"))) {
      std::abort();
    }
    // Messages quote input; what reaches a client or a terminal is printable.
    if (response.status >= 400) {
      const rapidjson::Value& detail = document["detail"];
      std::string_view text(detail.GetString(), detail.GetStringLength());
      if (PrintableText(text) != text) std::abort();
    }
  }
  return 0;
}
