#pragma once
// Durable file writes: what a crash may leave is the old file or the new one, never a mix.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "headwater/core/status.h"

namespace headwater {

/// Writes `contents` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the directory. On error nothing is left at `path` but what was there.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

/// fsync of a file or (directory = true) a directory.
Status SyncPath(const std::filesystem::path& path, bool directory = false);

/// The number in a file name "<prefix><exactly `digits` decimal digits><suffix>", or nullopt
/// for any other name (so a stray file in a state directory is ignored, never misread).
std::optional<int64_t> NumberInFileName(std::string_view name, std::string_view prefix,
                                        size_t digits, std::string_view suffix);

/// Reads a whole file; IOError naming it and the reason when it is absent, a directory or
/// unreadable (a symbolic link loop, permissions).
Result<std::string> ReadFile(const std::filesystem::path& path);

/// The paths directly inside `directory`, unsorted; IOError naming it when it cannot be listed.
/// Never throws (the range-for over std::filesystem::directory_iterator does on a failed step).
Result<std::vector<std::filesystem::path>> ListDirectory(const std::filesystem::path& directory);

/// `directory / name` when `name` is one ordinary path component (not empty, ".", "..", and no
/// '/' or NUL), so the result is provably inside `directory`; Invalid otherwise. Every path built
/// from a name (a view's offline dataset, a source's stream state) is built by this.
Result<std::filesystem::path> ChildPath(const std::filesystem::path& directory,
                                        std::string_view name);

}  // namespace headwater
