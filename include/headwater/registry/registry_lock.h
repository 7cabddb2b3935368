#pragma once
// The lock that serialises read-modify-write updates of a registry across processes.

#include <filesystem>
#include <utility>

#include "headwater/core/status.h"

namespace headwater::registry {

/// Holds an exclusive lock on a registry for a read-modify-write (apply, materialization
/// markers), so concurrent commands do not lose each other's updates. Released on destruction.
class RegistryLock {
 public:
  /// Blocks until the lock file beside the registry (`<registry>.lock`) is locked. For a
  /// registry on S3 it holds nothing: its write is a compare-and-swap (registry_store.h).
  static Result<RegistryLock> Acquire(const std::filesystem::path& registry_path);
  RegistryLock(RegistryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RegistryLock& operator=(RegistryLock&&) = delete;
  ~RegistryLock();

 private:
  explicit RegistryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace headwater::registry
