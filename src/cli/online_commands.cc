// materialize, materialize-incremental, get-online-features, online-dump: adapters over the
// feature-store core.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "commands.h"
#include "headwater/core/json_reader.h"
#include "headwater/server/online_json.h"
#include "headwater/store/feature_store.h"

namespace headwater::cli {
namespace {

Result<std::unique_ptr<store::FeatureStore>> OpenStore(const GlobalOptions& global) {
  return store::FeatureStore::Open(global.repo);
}

// A one-line progress bar on stderr, drawn only on a terminal, at most ten times a second.
class ProgressBar {
 public:
  ProgressBar() : enabled_(::isatty(2)) {}
  ~ProgressBar() { Clear(); }
  /// Erases the bar, so what is printed next starts on a clean line.
  void Clear() {
    std::lock_guard lock(mutex_);
    if (drawn_) std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }
  void Update(const std::string& label, const ingest::MaterializeProgress& progress) {
    if (!enabled_) return;
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100) && progress.done < progress.total)
      return;
    last_ = now;
    drawn_ = true;
    double fraction = progress.total > 0 ? static_cast<double>(progress.done) / progress.total : 1;
    int filled = static_cast<int>(fraction * 30);
    std::fprintf(stderr, "\r%s %-8s [%s%s] %3.0f%%", label.c_str(), progress.phase,
                 std::string(filled, '#').c_str(), std::string(30 - filled, ' ').c_str(),
                 fraction * 100);
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_;
};

// Materializes with a progress bar and a summary line per view.
Status Materialize(const GlobalOptions& global, store::MaterializeRequest request) {
  ARROW_ASSIGN_OR_RAISE(auto store, OpenStore(global));
  ProgressBar bar;
  request.progress = [&bar](const std::string& view, const ingest::MaterializeProgress& p) {
    bar.Update(view, p);
  };
  request.on_view = [&bar](const ingest::ViewMaterialization& done) {
    bar.Clear();
    std::cout << ingest::DescribeMaterialization(done) << std::endl;
  };
  ARROW_ASSIGN_OR_RAISE(auto outcomes, store->Materialize(request));
  if (outcomes.empty()) std::cout << "No online feature views to materialize.\n";
  return Status::OK();
}

Result<Timestamp> ParseTime(const std::string& text, const char* what) {
  auto parsed = ParseTimestamp(text);
  if (!parsed.ok()) return Status::Invalid(what, ": ", parsed.status().message());
  return *parsed;
}

}  // namespace

Status RunMaterialize(const GlobalOptions& global, const MaterializeArguments& arguments) {
  store::MaterializeRequest request;
  ARROW_ASSIGN_OR_RAISE(request.start, ParseTime(arguments.start, "START"));
  ARROW_ASSIGN_OR_RAISE(request.end, ParseTime(arguments.end, "END"));
  request.views = arguments.views;
  request.threads = arguments.threads;
  request.engine = arguments.engine;
  return Materialize(global, std::move(request));
}

Status RunMaterializeIncremental(const GlobalOptions& global,
                                 const MaterializeArguments& arguments) {
  store::MaterializeRequest request;
  ARROW_ASSIGN_OR_RAISE(request.end, ParseTime(arguments.end, "END"));
  request.views = arguments.views;
  request.threads = arguments.threads;
  request.engine = arguments.engine;
  return Materialize(global, std::move(request));
}

Status RunGetOnlineFeatures(const GlobalOptions& global, const OnlineArguments& arguments) {
  ARROW_ASSIGN_OR_RAISE(auto store, OpenStore(global));
  store::FeatureSelection selection{arguments.features, arguments.feature_service};
  rapidjson::Document entities;
  ARROW_RETURN_NOT_OK(ParseJson(arguments.entities, "--entities", &entities));
  ARROW_ASSIGN_OR_RAISE(auto online, store->SelectOnline(selection));
  ARROW_ASSIGN_OR_RAISE(auto rows, server::EntitiesFromJson(entities, online.column_types));
  ARROW_ASSIGN_OR_RAISE(
      auto read, store->GetOnlineFeatures(rows, std::move(online), arguments.full_feature_names));
  std::cout << server::OnlineFeaturesJson(rows, read) << "\n";
  return Status::OK();
}

Status RunOnlineDump(const GlobalOptions& global, const std::string& view) {
  ARROW_ASSIGN_OR_RAISE(auto store, OpenStore(global));
  auto hex = [](std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
    return out;
  };
  return store->ScanOnline(view, [&](std::string_view key, std::string_view value) {
    std::cout << hex(key) << " " << hex(value) << "\n";
  });
}

}  // namespace headwater::cli
