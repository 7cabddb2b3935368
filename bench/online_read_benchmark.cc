// In-process online read latency: the feature server's whole handling of a
// POST /get-online-features (body parsing, routing, entity rows to Arrow, one store call,
// response JSON, metrics) against a materialized repository, for 1 and 100 entities x all
// features of a view — no HTTP transport.
// Usage: online_read_benchmark REPO VIEW KEY_COUNT [REQUESTS] [ENTITIES,...]  (default 1,100)
// Keys are drawn uniformly from 0..KEY_COUNT-1 (the generator's driver ids).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "headwater/core/clock.h"
#include "headwater/registry/registry_store.h"
#include "headwater/server/feature_service.h"

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
  auto service = server::FeatureService::Make(config, SystemClock::Instance()).ValueOrDie();
  const registry::FeatureView* definition = current.definitions.FindFeatureView(view);
  std::string features;
  for (const auto& feature : definition->features) {
    features += (features.empty() ? "\"" : ", \"") + view + ":" + feature.name + "\"";
  }
  const std::string join_key = current.definitions.FindEntity(definition->entities[0])->join_key;

  std::mt19937_64 random(7);
  std::vector<int> sizes = {1, 100};
  if (argc > 5) {
    sizes.clear();
    for (std::string_view list = argv[5]; !list.empty();) {
      const size_t comma = list.find(',');
      sizes.push_back(std::stoi(std::string(list.substr(0, comma))));
      list = comma == std::string_view::npos ? "" : list.substr(comma + 1);
    }
  }
  for (int entities : sizes) {
    std::vector<double> micros;
    int64_t present = 0;
    for (int r = 0; r < requests / (entities == 1 ? 1 : 10); ++r) {
      std::string body =
          "{\"features\": [" + features + "], \"entities\": {\"" + join_key + "\": [";
      for (int e = 0; e < entities; ++e) {
        body += (e ? "," : "") + std::to_string(random() % key_count);
      }
      body += "]}}";
      auto started = std::chrono::steady_clock::now();
      auto response = service->Handle({"POST", "/get-online-features", body, {}});
      micros.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - started)
              .count());
      if (response.status != 200) {
        std::fprintf(stderr, "%s\n", response.body.c_str());
        return 1;
      }
      present += response.body.find("PRESENT") != std::string::npos;
    }
    std::sort(micros.begin(), micros.end());
    auto at = [&](double q) { return micros[static_cast<size_t>(q * (micros.size() - 1))]; };
    std::printf(
        "{\"entities\": %d, \"features\": %zu, \"requests\": %zu, \"p50_us\": %.1f, \"p99_us\": "
        "%.1f, \"p999_us\": %.1f, \"present\": %lld}\n",
        entities, definition->features.size(), micros.size(), at(0.5), at(0.99), at(0.999),
        static_cast<long long>(present));
  }
  return 0;
}
