// materialize, materialize-incremental, get-online-features, online-dump.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "commands.h"
#include "headwater/core/clock.h"
#include "headwater/ingest/materializer.h"
#include "headwater/online/online_reader.h"
#include "headwater/registry/registry_store.h"

namespace headwater::cli {
namespace {

struct Repository {
  registry::RepoConfig config;
  registry::Registry registry;
};

Result<Repository> LoadApplied(const GlobalOptions& global) {
  Repository repo;
  ARROW_ASSIGN_OR_RAISE(repo.config, registry::LoadRepoConfig(global.repo));
  ARROW_ASSIGN_OR_RAISE(repo.registry, registry::ReadRegistry(repo.config));
  if (repo.registry.version == 0) {
    return Status::Invalid("the registry at ", repo.config.registry_path.string(),
                           " is empty: run `headwater apply` first");
  }
  return repo;
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

// Runs MaterializeViews with a progress bar and a summary line per view.
Status Materialize(Repository& repo, const std::vector<const registry::FeatureView*>& views,
                   const ingest::StartOf& start_of, Timestamp end, int threads) {
  if (views.empty()) {
    std::cout << "No online feature views to materialize.\n";
    return Status::OK();
  }
  ARROW_ASSIGN_OR_RAISE(auto store,
                        online::OpenOnlineStore(repo.config, online::OpenMode::kReadWrite));
  ProgressBar bar;
  auto on_view = [&bar](const ingest::ViewMaterialization& done) {
    bar.Clear();
    std::cout << ingest::DescribeMaterialization(done) << std::endl;
  };
  return ingest::MaterializeViews(
             repo.config, repo.registry, views, start_of, end, threads, store.get(),
             [&bar](const std::string& view, const ingest::MaterializeProgress& p) {
               bar.Update(view, p);
             },
             on_view)
      .status();
}

Result<Timestamp> ParseTime(const std::string& text, const char* what) {
  auto parsed = ParseTimestamp(text);
  if (!parsed.ok()) return Status::Invalid(what, ": ", parsed.status().message());
  return *parsed;
}

}  // namespace

Status RunMaterialize(const GlobalOptions& global, const MaterializeArguments& arguments) {
  ARROW_ASSIGN_OR_RAISE(Timestamp start, ParseTime(arguments.start, "START"));
  ARROW_ASSIGN_OR_RAISE(Timestamp end, ParseTime(arguments.end, "END"));
  if (start.micros >= end.micros) {
    return Status::Invalid("START (", FormatTimestamp(start), ") must be before END (",
                           FormatTimestamp(end), ")");
  }
  ARROW_RETURN_NOT_OK(ingest::CheckMaterializeEnd(end, SystemClock::Instance().Now()));
  ARROW_ASSIGN_OR_RAISE(auto repo, LoadApplied(global));
  ARROW_ASSIGN_OR_RAISE(auto views,
                        ingest::SelectOnlineViews(repo.registry.definitions, arguments.views));
  return Materialize(
      repo, views,
      [start](const registry::FeatureView&) -> Result<std::optional<Timestamp>> {
        return std::optional<Timestamp>(start);
      },
      end, arguments.threads);
}

Status RunMaterializeIncremental(const GlobalOptions& global,
                                 const MaterializeArguments& arguments) {
  ARROW_ASSIGN_OR_RAISE(Timestamp end, ParseTime(arguments.end, "END"));
  ARROW_RETURN_NOT_OK(ingest::CheckMaterializeEnd(end, SystemClock::Instance().Now()));
  ARROW_ASSIGN_OR_RAISE(auto repo, LoadApplied(global));
  ARROW_ASSIGN_OR_RAISE(auto views,
                        ingest::SelectOnlineViews(repo.registry.definitions, arguments.views));
  return Materialize(repo, views, ingest::IncrementalStart(repo.config, repo.registry), end,
                     arguments.threads);
}

Status RunGetOnlineFeatures(const GlobalOptions& global, const OnlineArguments& arguments) {
  ARROW_ASSIGN_OR_RAISE(auto repo, LoadApplied(global));
  ARROW_ASSIGN_OR_RAISE(auto catalog, online::OnlineCatalog::Make(repo.registry.definitions));
  ARROW_ASSIGN_OR_RAISE(auto store,
                        online::OpenOnlineStore(repo.config, online::OpenMode::kReadOnly));
  online::OnlineRequest request;
  request.features = arguments.features;
  request.feature_service = arguments.feature_service;
  request.entities_json = arguments.entities;
  request.full_feature_names = arguments.full_feature_names;
  ARROW_ASSIGN_OR_RAISE(auto response, online::GetOnlineFeatures(*catalog, store.get(), request,
                                                                 SystemClock::Instance().Now()));
  std::cout << response << "\n";
  return Status::OK();
}

Status RunOnlineDump(const GlobalOptions& global, const std::string& view) {
  ARROW_ASSIGN_OR_RAISE(auto repo, LoadApplied(global));
  if (repo.registry.definitions.FindFeatureView(view) == nullptr) {
    return Status::KeyError("unknown feature view '", view, "'");
  }
  ARROW_ASSIGN_OR_RAISE(auto store,
                        online::OpenOnlineStore(repo.config, online::OpenMode::kReadOnly));
  auto hex = [](std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
    return out;
  };
  return store->Scan(view, [&](std::string_view key, std::string_view value) {
    std::cout << hex(key) << " " << hex(value) << "\n";
  });
}

}  // namespace headwater::cli
