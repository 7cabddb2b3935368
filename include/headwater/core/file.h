#pragma once
// Durable file writes: what a crash may leave is the old file or the new one, never a mix.

#include <filesystem>
#include <string_view>

#include "headwater/core/status.h"

namespace headwater {

/// Writes `contents` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the directory. On error nothing is left at `path` but what was there.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

/// fsync of a file or (directory = true) a directory.
Status SyncPath(const std::filesystem::path& path, bool directory = false);

/// Reads a whole file; NotFound-style IOError naming it when absent.
Result<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace headwater
