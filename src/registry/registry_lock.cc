#include "headwater/registry/registry_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "headwater/core/object_store.h"

namespace headwater::registry {

Result<RegistryLock> RegistryLock::Acquire(const std::filesystem::path& registry_path) {
  // A registry on S3 is guarded by its compare-and-swap write (registry_store.h), not a lock.
  if (storage::IsObjectUri(registry_path)) return RegistryLock(-1);
  std::error_code error;
  std::filesystem::create_directories(registry_path.parent_path(), error);
  std::string lock_path = registry_path.string() + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot open lock file ", lock_path);
  if (::flock(fd, LOCK_EX) != 0) {
    ::close(fd);
    return Status::IOError("cannot lock ", lock_path);
  }
  return RegistryLock(fd);
}

RegistryLock::~RegistryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

}  // namespace headwater::registry
