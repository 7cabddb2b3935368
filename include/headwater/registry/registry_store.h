#pragma once
// The persistent registry: one JSON file, replaced atomically on every write.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "headwater/core/clock.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::registry {

/// Serialises a registry as JSON (the registry file format and `registry-dump` output). With
/// `indent` > 0 the text is pretty-printed. Source locations are not stored.
std::string RegistryToJson(const Registry& registry, int indent = 2);

/// Parses what RegistryToJson wrote. `what` names the text in errors. Bounded like every JSON
/// input (core/json_reader.h); every object name must pass CheckName.
Result<Registry> RegistryFromJson(const std::string& text, const std::string& what);

/// Reads `config.registry_path`; a missing file is an empty registry of `config.project`
/// (version 0). Refuses another project's registry, a damaged one and a directory in its place.
/// A stream view's `windows` is derived from `config` and its name (WindowsSource), never taken
/// from the file.
Result<Registry> ReadRegistry(const RepoConfig& config);

/// Writes the registry file atomically: a temporary file beside it is written, flushed to disk
/// and renamed over the old one, so a crash leaves either the old or the new registry whole.
Status WriteRegistry(const std::filesystem::path& path, const Registry& registry);

/// Holds an exclusive lock on a registry for a read-modify-write (apply, materialization
/// markers), so concurrent commands do not lose each other's updates. Released on destruction.
class RegistryLock {
 public:
  /// Blocks until the lock file beside the registry (`<registry>.lock`) is locked.
  static Result<RegistryLock> Acquire(const std::filesystem::path& registry_path);
  RegistryLock(RegistryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RegistryLock& operator=(RegistryLock&&) = delete;
  ~RegistryLock();

 private:
  explicit RegistryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// One difference between two sets of definitions.
struct Change {
  enum class Kind { kAdd, kUpdate, kDelete };
  Kind kind;
  /// "entity", "data_source", "feature_view" or "feature_service".
  std::string object_type;
  std::string name;
  /// For updates, the fields that differ.
  std::vector<std::string> fields;
};

/// What applying `after` over `before` changes, objects in definition order, deletions last.
std::vector<Change> Diff(const Definitions& before, const Definitions& after);

/// One line per change: "+ feature_view driver_stats", "~ entity driver (description)".
std::string FormatChanges(const std::vector<Change>& changes);

}  // namespace headwater::registry
