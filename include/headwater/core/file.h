#pragma once
// Durable file writes: what a crash may leave is the old file or the new one, never a mix.

#include <arrow/io/type_fwd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "headwater/core/status.h"

namespace headwater {

/// The steps of the one atomic write, in order.
enum class DurableStep : uint8_t {
  kWriteTemporary,  // the new contents go to a temporary file beside the target
  kSyncTemporary,   // fsync of the temporary file: its contents are durable
  kRename,          // rename over the target: visible, not yet durable
  kSyncDirectory,   // fsync of the directory: the new name is durable
};

/// The one door for durability: writes a file so that a crash leaves the old file or the new
/// one whole, never a mix and never a name without its data. `write` fills a temporary file
/// beside `path` (hidden, ".<name>.tmp.<pid>.<n>", so no reader lists it), which is synced,
/// renamed over `path`, and then the directory is synced. Everything a promise depends on —
/// the registry and its markers, checkpoints, stream part files and dead letters, offline
/// appends, backfills — is written through it. On an error before the rename, `path` is as it
/// was and the temporary file is removed. An S3 URI (core/object_store.h) is written to a local
/// temporary file and uploaded: the upload is the rename (S3 shows an object whole, once its
/// upload completes), and the object store keeps it durable.
Status WriteFileAtomically(
    const std::filesystem::path& path,
    const std::function<Status(const std::filesystem::path& temporary)>& write);
/// The same for contents held in memory.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

/// Sees every atomic write's steps (tests only): RocksDB's FaultInjectionTestFS idea, at the
/// one door. `Before` returning an error stops that write there, as a crash would, and the
/// error goes to the writer's caller. src/core/fault_injection.h simulates power loss with it.
class DurableWriteObserver {
 public:
  virtual ~DurableWriteObserver() = default;
  virtual Status Before(DurableStep step, const std::filesystem::path& path) = 0;
};
/// Installs `observer` for every atomic write in the process; nullptr removes it. Tests only:
/// not synchronised with writes in flight.
void SetDurableWriteObserverForTesting(DurableWriteObserver* observer);

/// A new file `temporary` (the one WriteFileAtomically hands its `write`) opened as a stream for
/// large outputs, written once and read later. Buffers written (Write of an arrow::Buffer of 64 KiB
/// or more) are kept, not copied, and smaller writes gathered; a thread of the stream's own copies
/// them into an aligned 8 MiB buffer and writes it to the file, so the caller goes on encoding
/// meanwhile (at most 32 MiB wait). Whole buffers are written with O_DIRECT where the file system
/// takes it (disk straight from the buffer: no copy into fresh page-cache pages, 815 MB of training
/// data 6.0 -> 4.6 s on this machine); the rest goes through the page cache, every 32 MiB handed
/// to the disk at once (sync_file_range) so the fsync that ends the atomic write waits for the last
/// piece only. The output is therefore not left in the page cache. Close() waits for every byte;
/// the first failed write is reported by the next call.
Result<std::shared_ptr<arrow::io::OutputStream>> OpenOutputForAtomicWrite(
    const std::filesystem::path& temporary);

/// fsync of a file or (directory = true) a directory.
Status SyncPath(const std::filesystem::path& path, bool directory = false);

/// The number in a file name "<prefix><exactly `digits` decimal digits><suffix>", or nullopt
/// for any other name (so a stray file in a state directory is ignored, never misread).
std::optional<int64_t> NumberInFileName(std::string_view name, std::string_view prefix,
                                        size_t digits, std::string_view suffix);

/// Reads a whole file (or object); IOError naming it and the reason when it is absent, a
/// directory or unreadable (a symbolic link loop, permissions).
Result<std::string> ReadFile(const std::filesystem::path& path);

/// The paths directly inside `directory` (or under an S3 prefix), unsorted; IOError naming it
/// when it cannot be listed.
/// Never throws (the range-for over std::filesystem::directory_iterator does on a failed step).
Result<std::vector<std::filesystem::path>> ListDirectory(const std::filesystem::path& directory);

/// `directory / name` when `name` is one ordinary path component (not empty, ".", "..", and no
/// '/' or NUL), so the result is provably inside `directory`; Invalid otherwise. Every path built
/// from a name (a view's offline dataset, a source's stream state) is built by this.
Result<std::filesystem::path> ChildPath(const std::filesystem::path& directory,
                                        std::string_view name);

}  // namespace headwater
