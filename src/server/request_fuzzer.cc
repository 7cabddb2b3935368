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

#include "headwater/ingest/materializer.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"
#include "headwater/server/feature_service.h"

namespace {

using namespace headwater;
namespace fs = std::filesystem;

ManualClock clock_now(Timestamp{1'714'600'000'000'000});
std::unique_ptr<server::FeatureService> service;

void Check(const Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "fuzzer set-up failed: %s\n", status.ToString().c_str());
    std::abort();
  }
}

// A repository with two views (one with a composite key), applied and materialized.
void MakeRepository(const fs::path& repo) {
  fs::create_directories(repo / "data");
  std::ofstream(repo / "feature_store.yaml") << "project: fuzz\n";
  std::ofstream(repo / "defs.yaml")
      << "entities:\n  - {name: driver, join_keys: [driver_id]}\n"
         "  - {name: city, join_keys: [city], value_type: STRING}\n"
         "sources: [{name: s, path: data/f.parquet, timestamp_field: ts}]\n"
         "feature_views:\n"
         "  - {name: v, entities: [driver], ttl: 1d, source: s}\n"
         "  - {name: w, entities: [driver, city], ttl: 0, source: s}\n"
         "feature_services: [{name: svc, features: [v, {w: [x]}]}]\n";
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
  auto out = arrow::io::FileOutputStream::Open((repo / "data" / "f.parquet").string()).ValueOrDie();
  Check(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), out));
  Check(out->Close());

  auto config = registry::LoadRepoConfig(repo).ValueOrDie();
  registry::Registry applied;
  applied.project = config.project;
  applied.version = 1;
  applied.definitions = registry::LoadDefinitions(config).ValueOrDie();
  Check(registry::WriteRegistry(config.registry_path, applied));
  auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite).ValueOrDie();
  auto views = ingest::SelectOnlineViews(applied.definitions, {}).ValueOrDie();
  Check(ingest::MaterializeViews(
            config, applied, views,
            [](const registry::FeatureView&) -> Result<std::optional<Timestamp>> {
              return std::optional<Timestamp>(Timestamp{0});
            },
            clock_now.Now(), 1, store.get())
            .status());
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
      {"POST", "/get-online-features"},
      {"GET", "/health"},
      {"GET", "/metrics"},
      {"POST", "/nope"},
      {"PUT", "/get-online-features"},
      {"POST", "/materialize"}};
  if (size == 0) return 0;
  const auto& [method, path] = kTargets[data[0] % std::size(kTargets)];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  // /materialize reads Parquet and writes the store: keep it to bodies that are clearly bad or
  // tiny, so the fuzzer spends its time on parsing.
  server::HttpResponse response = service->Handle({method, path, body, {}});
  if (response.status < 200 || response.status > 599) std::abort();
  if (response.content_type == "application/json") {
    rapidjson::Document document;
    document.Parse(response.body.data(), response.body.size());
    if (document.HasParseError() || !document.IsObject()) std::abort();
    if (response.status >= 400 && (!document.HasMember("error") || !document.HasMember("detail"))) {
      std::abort();
    }
  }
  return 0;
}
