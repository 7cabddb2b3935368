#pragma once
// The headwater subcommands. Each returns OK or a user-facing error; main() prints it.

#include <filesystem>
#include <string>
#include <vector>

#include "headwater/core/status.h"

namespace headwater::cli {

/// Options every command shares.
struct GlobalOptions {
  /// The feature repository (directory holding feature_store.yaml). Default: the current one.
  std::filesystem::path repo = ".";
};

Status RunInit(const std::string& name, const std::filesystem::path& parent);
Status RunApply(const GlobalOptions& global);
Status RunPlan(const GlobalOptions& global);
Status RunRegistryDump(const GlobalOptions& global);
Status RunTeardown(const GlobalOptions& global);

struct HistoricalOptions {
  std::filesystem::path entities;
  std::vector<std::string> features;
  std::string feature_service;
  std::filesystem::path output;
  bool full_feature_names = false;
  int threads = 0;
};
Status RunGetHistoricalFeatures(const GlobalOptions& global, const HistoricalOptions& options);

}  // namespace headwater::cli
