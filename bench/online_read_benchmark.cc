// In-process online read latency: GetOnlineFeatures (request parsing, one store call, response
// JSON) against a materialized repository, for 1 and 100 entities x all features of a view.
// Usage: online_read_benchmark REPO VIEW KEY_COUNT [REQUESTS]
// Keys are drawn uniformly from 0..KEY_COUNT-1 (the generator's driver ids).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "headwater/core/clock.h"
#include "headwater/online/online_reader.h"
#include "headwater/registry/registry_store.h"

using namespace headwater;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s REPO VIEW KEY_COUNT [REQUESTS]\n", argv[0]);
    return 2;
  }
  const std::string view = argv[2];
  const int64_t key_count = std::stoll(argv[3]);
  const int requests = argc > 4 ? std::stoi(argv[4]) : 20000;
  auto config = registry::LoadRepoConfig(argv[1]).ValueOrDie();
  auto current = registry::ReadRegistry(config).ValueOrDie();
  auto catalog = online::OnlineCatalog::Make(current.definitions).ValueOrDie();
  auto store = online::OpenOnlineStore(config, online::OpenMode::kReadOnly).ValueOrDie();
  const registry::FeatureView* definition = current.definitions.FindFeatureView(view);
  online::OnlineRequest request;
  for (const auto& feature : definition->features)
    request.features.push_back(view + ":" + feature.name);
  const std::string join_key = current.definitions.FindEntity(definition->entities[0])->join_key;

  std::mt19937_64 random(7);
  for (int entities : {1, 100}) {
    std::vector<double> micros;
    int64_t present = 0;
    for (int r = 0; r < requests / (entities == 1 ? 1 : 10); ++r) {
      std::string json = "{\"" + join_key + "\": [";
      for (int e = 0; e < entities; ++e) {
        json += (e ? "," : "") + std::to_string(random() % key_count);
      }
      request.entities_json = json + "]}";
      auto started = std::chrono::steady_clock::now();
      auto response =
          online::GetOnlineFeatures(*catalog, store.get(), request, SystemClock::Instance().Now());
      micros.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - started)
              .count());
      if (!response.ok()) {
        std::fprintf(stderr, "%s\n", response.status().ToString().c_str());
        return 1;
      }
      present += response->find("PRESENT") != std::string::npos;
    }
    std::sort(micros.begin(), micros.end());
    auto at = [&](double q) { return micros[static_cast<size_t>(q * (micros.size() - 1))]; };
    std::printf(
        "{\"entities\": %d, \"features\": %zu, \"requests\": %zu, \"p50_us\": %.1f, \"p99_us\": "
        "%.1f, \"p999_us\": %.1f}\n",
        entities, request.features.size(), micros.size(), at(0.5), at(0.99), at(0.999));
  }
  return 0;
}
