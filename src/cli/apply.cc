#include "headwater/cli/apply.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "headwater/core/clock.h"
#include "headwater/core/json_reader.h"
#include "headwater/online/online_store.h"

extern char** environ;

namespace headwater::cli {
namespace {

std::string Summary(const std::vector<registry::Change>& changes, const char* verb) {
  int add = 0, update = 0, remove = 0;
  for (const auto& change : changes) {
    switch (change.kind) {
      case registry::Change::Kind::kAdd:
        ++add;
        break;
      case registry::Change::Kind::kUpdate:
        ++update;
        break;
      case registry::Change::Kind::kDelete:
        ++remove;
        break;
    }
  }
  std::ostringstream out;
  out << registry::FormatChanges(changes) << verb << ": " << add << " to add, " << update
      << " to change, " << remove << " to delete.\n";
  return out.str();
}

// Brings the online store in line with the next definitions: room for every online view, and
// the values of views that are gone, no longer online, or whose features changed (stored values
// follow the feature list) dropped, with their materialization markers.
Status UpdateOnlineStore(const registry::RepoConfig& config, const registry::Registry& current,
                         registry::Registry* next, std::ostringstream* report) {
  std::vector<std::string> create, drop;
  for (const auto& view : next->definitions.feature_views) {
    if (view.online) create.push_back(view.name);
  }
  for (const auto& old : current.definitions.feature_views) {
    const registry::FeatureView* now = next->definitions.FindFeatureView(old.name);
    if (now == nullptr || !now->online || now->features != old.features) {
      if (old.online) drop.push_back(old.name);
    }
  }
  auto store = online::OpenOnlineStore(config, online::OpenMode::kReadWrite);
  if (!store.ok() && store.status().message().find("/LOCK") != std::string::npos) {
    // A running `headwater serve` owns the embedded store; it applies these changes itself when
    // it picks up the new registry.
    *report << "online store: held by a running server, which will apply the changes\n";
  } else {
    ARROW_RETURN_NOT_OK(store.status());
    ARROW_RETURN_NOT_OK((*store)->DropViews(drop));
    ARROW_RETURN_NOT_OK((*store)->CreateViews(create));
  }
  for (const std::string& name : drop) {
    next->materializations.erase(name);
    if (next->definitions.FindFeatureView(name) != nullptr) {
      *report << "online store: dropped the values of " << name
              << " (its features changed or it is no longer online); materialize it again\n";
    }
  }
  return Status::OK();
}

}  // namespace

Result<ApplyOutcome> ApplyDefinitions(const registry::RepoConfig& config,
                                      registry::Definitions next, bool dry_run, bool partial) {
  // Locked before reading, so a concurrent materialization's marker is not lost.
  std::optional<registry::RegistryLock> lock;
  if (!dry_run) {
    ARROW_ASSIGN_OR_RAISE(auto acquired, registry::RegistryLock::Acquire(config.registry_path));
    lock.emplace(std::move(acquired));
  }
  ARROW_ASSIGN_OR_RAISE(auto current, registry::ReadRegistry(config));
  if (partial) {
    registry::Definitions merged = current.definitions;
    merged.Merge(std::move(next));
    next = std::move(merged);
    ARROW_RETURN_NOT_OK(registry::Validate(config, &next));
  }
  ApplyOutcome outcome;
  outcome.changes = registry::Diff(current.definitions, next);
  outcome.version = current.version;
  if (outcome.changes.empty()) {
    outcome.report = dry_run ? "No changes: the registry matches the definitions.\n"
                             : "No changes: registry version " + std::to_string(current.version) +
                                   " is up to date.\n";
    return outcome;
  }
  if (dry_run) {
    outcome.report = Summary(outcome.changes, "Plan");
    return outcome;
  }
  registry::Registry updated = current;
  updated.project = config.project;
  updated.version = current.version + 1;
  updated.last_updated = SystemClock::Instance().Now();
  updated.definitions = std::move(next);
  std::ostringstream report;
  ARROW_RETURN_NOT_OK(UpdateOnlineStore(config, current, &updated, &report));
  ARROW_RETURN_NOT_OK(registry::WriteRegistry(config.registry_path, updated));
  report << Summary(outcome.changes, "Applied") << "Registry version " << updated.version
         << " written to " << config.registry_path.string() << "\n";
  outcome.version = updated.version;
  outcome.report = report.str();
  return outcome;
}

Result<std::string> Teardown(const registry::RepoConfig& config) {
  std::ostringstream report;
  {
    ARROW_ASSIGN_OR_RAISE(auto store,
                          online::OpenOnlineStore(config, online::OpenMode::kReadWrite));
    ARROW_RETURN_NOT_OK(store->Teardown());
    report << "Removed the online store (" << config.online_store.type << ")\n";
  }
  std::error_code error;
  std::filesystem::remove(config.registry_path.string() + ".lock", error);
  bool removed = std::filesystem::remove(config.registry_path, error);
  if (error) {
    return Status::IOError("cannot remove ", config.registry_path.string(), ": ", error.message());
  }
  report << (removed ? "Removed registry " : "No registry at ") << config.registry_path.string()
         << "\n";
  return report.str();
}

namespace {

// Runs `argv` and returns its exit status and standard output; standard error is inherited.
Result<std::pair<int, std::string>> RunCapturingOutput(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::IOError("cannot create a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    return Status::IOError("cannot run ", argv[0], ": ", std::strerror(spawned));
  }
  std::string output;
  char buffer[65536];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : 128, std::move(output));
}

}  // namespace

registry::PythonExporter PythonExporter() {
  return [](const std::vector<std::filesystem::path>& files)
             -> Result<std::vector<registry::PythonDefinitions>> {
    const char* configured = std::getenv("HEADWATER_PYTHON");
    std::vector<std::string> argv{
        configured != nullptr && *configured != 0 ? configured : HEADWATER_PYTHON, "-m",
        "headwater._export"};
    for (const auto& file : files) argv.push_back(file.string());
    ARROW_ASSIGN_OR_RAISE(auto ran, RunCapturingOutput(argv));
    rapidjson::Document document;
    if (!ParseJson(ran.second, "the Python exporter's output", &document).ok() ||
        !document.IsObject()) {
      return Status::Invalid("running Python definition files with ", argv[0],
                             " failed (exit status ", ran.first,
                             "); is the headwater package installed for it? Set HEADWATER_PYTHON "
                             "to the Python that has it");
    }
    const rapidjson::Value& doc = document;
    if (doc.HasMember("error") && doc["error"].IsString()) {
      return Status::Invalid(doc["error"].GetString());
    }
    std::vector<registry::PythonDefinitions> exported;
    if (!doc.HasMember("files") || !doc["files"].IsArray()) {
      return Status::Invalid("the Python exporter's output has no \"files\"");
    }
    for (const auto& file : doc["files"].GetArray()) {
      registry::PythonDefinitions definitions;
      if (!file.IsObject() || !file.HasMember("yaml") || !file["yaml"].IsString() ||
          !file.HasMember("lines") || !file["lines"].IsArray()) {
        return Status::Invalid("the Python exporter's output is malformed");
      }
      definitions.yaml.assign(file["yaml"].GetString(), file["yaml"].GetStringLength());
      for (const auto& line : file["lines"].GetArray()) {
        definitions.python_lines.push_back(line.IsInt() ? line.GetInt() : 0);
      }
      exported.push_back(std::move(definitions));
    }
    return exported;
  };
}

}  // namespace headwater::cli
