#pragma once
// Durable file writes: what a crash may leave is the old file or the new one, never a mix.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

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

/// Reads a whole file; NotFound-style IOError naming it when absent.
Result<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace headwater
