// libFuzzer target for the repository files: arbitrary bytes as a definition file (YAML), as
// feature_store.yaml, and as the registry file (JSON). Each must be read or refused with a
// message; nothing may crash, hang on aliases or nesting, or throw.
#include <cstdlib>
#include <string>

#include "headwater/registry/loader.h"
#include "headwater/registry/registry_store.h"
#include "headwater/registry/repo_config.h"

using namespace headwater;

namespace {

void Refused(const Status& status) {
  if (!status.ok() && status.message().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  registry::Definitions definitions;
  Status parsed = registry::ParseDefinitions(text, "defs.yaml", &definitions);
  Refused(parsed);
  if (parsed.ok()) {
    // Whatever parses follows the name rule.
    for (const auto& view : definitions.feature_views) {
      if (!registry::CheckName(view.name).ok()) std::abort();
    }
  }
  Refused(registry::ParseRepoConfig(text, "/nonexistent-repo").status());
  auto registry = registry::RegistryFromJson(text, "registry.json");
  Refused(registry.status());
  if (registry.ok()) {
    // What reads back writes back and reads again the same.
    const std::string json = registry::RegistryToJson(*registry);
    auto again = registry::RegistryFromJson(json, "registry.json");
    if (!again.ok() || registry::RegistryToJson(*again) != json) std::abort();
  }
  return 0;
}
