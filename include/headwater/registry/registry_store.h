#pragma once
// The persistent registry: one JSON file (registry_codec.h), replaced atomically on every write.
// Read-modify-write updates hold a RegistryLock (registry_lock.h); on S3, where no lock is
// shared between machines, the write is a compare-and-swap on the object instead.

#include <filesystem>
#include <string>

#include "headwater/core/clock.h"
#include "headwater/registry/definitions.h"
#include "headwater/registry/registry_codec.h"
#include "headwater/registry/repo_config.h"

namespace headwater::registry {

/// Reads `config.registry_path`; a missing file is an empty registry of `config.project`
/// (version 0). Refuses another project's registry, a damaged one and a directory in its place.
/// A stream view's `windows` is derived from `config` and its name (WindowsSource), never taken
/// from the file.
Result<Registry> ReadRegistry(const RepoConfig& config);

/// Writes the registry file atomically: a temporary file beside it is written, flushed to disk
/// and renamed over the old one, so a crash leaves either the old or the new registry whole.
/// A registry on S3 is written by compare-and-swap instead of under a lock: only if the object is
/// still the one `registry` was read from (`revision`); AlreadyExists, with nothing written, if
/// another command wrote it in between.
Status WriteRegistry(const std::filesystem::path& path, const Registry& registry);

}  // namespace headwater::registry
