#include "headwater/core/file.h"

#include <arrow/buffer.h>
#include <arrow/io/file.h>
#include <arrow/util/io_util.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "headwater/core/object_store.h"

namespace headwater {

Status SyncPath(const std::filesystem::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return Status::IOError("cannot open ", path.string(), " to sync");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError("cannot sync ", path.string());
  return Status::OK();
}

namespace {

std::atomic<DurableWriteObserver*> observer{nullptr};

Status Observe(DurableStep step, const std::filesystem::path& path) {
  DurableWriteObserver* current = observer.load(std::memory_order_acquire);
  return current == nullptr ? Status::OK() : current->Before(step, path);
}

}  // namespace

void SetDurableWriteObserverForTesting(DurableWriteObserver* installed) {
  observer.store(installed, std::memory_order_release);
}

namespace {

std::atomic<uint64_t> sequence{0};

// An object is written to a local temporary file, then uploaded: S3 shows an object only once its
// upload completes, so the upload is the rename. Its durability is the object store's.
Status WriteObjectAtomically(
    const std::filesystem::path& uri,
    const std::function<Status(const std::filesystem::path& temporary)>& write) {
  std::error_code error;
  const std::filesystem::path temporary =
      std::filesystem::temp_directory_path(error) /
      (".headwater-upload." + std::to_string(::getpid()) + "." +
       std::to_string(sequence.fetch_add(1)) + "." + uri.filename().string());
  if (error) return Status::IOError("no temporary directory to stage ", uri.string(), " in");
  Status written = [&]() -> Status {
    ARROW_RETURN_NOT_OK(Observe(DurableStep::kWriteTemporary, uri));
    ARROW_RETURN_NOT_OK(write(temporary));
    ARROW_RETURN_NOT_OK(Observe(DurableStep::kRename, uri));
    return storage::Upload(temporary, uri);
  }();
  std::filesystem::remove(temporary, error);
  return written;
}

}  // namespace

Status WriteFileAtomically(
    const std::filesystem::path& path,
    const std::function<Status(const std::filesystem::path& temporary)>& write) {
  if (storage::IsObjectUri(path)) return WriteObjectAtomically(path, write);
  std::error_code error;
  const std::filesystem::path directory =
      path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::filesystem::create_directories(directory, error);
  if (error) return Status::IOError("cannot create ", directory.string(), ": ", error.message());
  // Unique per call, so concurrent writers of one name in a process never share a temporary.
  const std::filesystem::path temporary =
      directory / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                   std::to_string(sequence.fetch_add(1)));
  auto steps = [&]() -> Status {
    ARROW_RETURN_NOT_OK(Observe(DurableStep::kWriteTemporary, path));
    ARROW_RETURN_NOT_OK(write(temporary));
    ARROW_RETURN_NOT_OK(Observe(DurableStep::kSyncTemporary, path));
    ARROW_RETURN_NOT_OK(SyncPath(temporary));
    ARROW_RETURN_NOT_OK(Observe(DurableStep::kRename, path));
    std::filesystem::rename(temporary, path, error);
    if (error) return Status::IOError("cannot replace ", path.string(), ": ", error.message());
    return Status::OK();
  };
  Status written = steps();
  if (!written.ok()) {
    std::filesystem::remove(temporary, error);
    return written;
  }
  // The rename is durable only once the directory entry is on disk.
  ARROW_RETURN_NOT_OK(Observe(DurableStep::kSyncDirectory, path));
  return SyncPath(directory, /*directory=*/true);
}

namespace {

// A file stream for large outputs, written once and read later. The caller hands its buffers over
// (Arrow's Write of a Buffer may keep a reference instead of copying; the Parquet writer gives each
// column chunk so) and goes on encoding the next row group; a thread of the stream's own copies
// them into one aligned buffer and writes it. Copying on the caller's thread measured as a tenth of
// a second of a 10M-row output with the encoder's threads idle, waiting for the next row group.
// Whole buffers are written with O_DIRECT where the file system takes it: straight from the buffer
// to the disk, without copying each byte into a fresh page-cache page (on this machine that copy
// ran at 0.5-0.8 GB/s, a core busy for over a second per GB). The rest goes through the page
// cache, every kWritebackBytes of it handed to the disk at once (sync_file_range), so the fsync
// ending the atomic write waits for the last piece only. The first error of a write is returned
// by the next Write, Flush or Close.
class BackgroundFileStream : public arrow::io::OutputStream {
 public:
  static constexpr int64_t kAlignment = 4096;  // of direct writes' memory, length and offset
  static constexpr int64_t kBufferBytes = 8 << 20;

  // `memory`: kBufferBytes from std::aligned_alloc(kAlignment, ...), owned from here.
  BackgroundFileStream(int fd, bool direct, uint8_t* memory)
      : fd_(fd), direct_(direct), memory_(memory), writer_([this] { WriteBuffers(); }) {}

  ~BackgroundFileStream() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    writer_.join();
    if (fd_ >= 0) ::close(fd_);
  }

  Status Write(const void* data, int64_t nbytes) override {
    if (nbytes >= kReferenceBytes) {
      ARROW_ASSIGN_OR_RAISE(std::shared_ptr<arrow::Buffer> copy, arrow::AllocateBuffer(nbytes));
      std::memcpy(copy->mutable_data(), data, static_cast<size_t>(nbytes));
      return Write(copy);
    }
    const auto* bytes = static_cast<const uint8_t*>(data);
    small_.insert(small_.end(), bytes, bytes + nbytes);
    position_ += nbytes;
    return small_.size() >= static_cast<size_t>(kReferenceBytes) ? HandOverSmall() : Status::OK();
  }

  // Kept, not copied: a Buffer is immutable once written.
  Status Write(const std::shared_ptr<arrow::Buffer>& data) override {
    if (data->size() < kReferenceBytes) return Write(data->data(), data->size());
    ARROW_RETURN_NOT_OK(HandOverSmall());
    position_ += data->size();
    return HandOver(data);
  }

  // Waits until every byte given is in the file.
  Status Flush() override {
    ARROW_RETURN_NOT_OK(HandOverSmall());
    ARROW_RETURN_NOT_OK(HandOver(nullptr));  // the writer's partly filled buffer too
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return (pieces_.empty() && !writing_) || !error_.ok(); });
    return error_;
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    Status flushed = Flush();
    const int closed = ::close(fd_);
    fd_ = -1;
    if (!flushed.ok()) return flushed;
    return closed == 0 ? Status::OK() : arrow::internal::IOErrorFromErrno(errno, "closing file");
  }
  bool closed() const override { return fd_ < 0; }
  Result<int64_t> Tell() const override { return position_; }

 private:
  static constexpr int64_t kReferenceBytes = 64 << 10;  // smaller writes are gathered, then kept
  static constexpr int64_t kQueuedBytes = 32 << 20;     // handed over and not yet written
  static constexpr int64_t kWritebackBytes = 32 << 20;

  Status HandOverSmall() {
    if (small_.empty()) return Status::OK();
    return HandOver(arrow::Buffer::FromVector(std::exchange(small_, {})));
  }

  // Queues `piece` (nullptr: write out the partly filled buffer), waiting while kQueuedBytes are.
  Status HandOver(std::shared_ptr<arrow::Buffer> piece) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return queued_ < kQueuedBytes || !error_.ok(); });
      ARROW_RETURN_NOT_OK(error_);
      if (piece != nullptr) queued_ += piece->size();
      pieces_.push_back(std::move(piece));
    }
    changed_.notify_all();
    return Status::OK();
  }

  // On the stream's thread: `size` bytes of the aligned buffer into the file.
  Status WriteAll(int64_t size) {
    if (direct_ && size % kAlignment != 0) StopDirectWrites();  // the last piece
    const uint8_t* data = memory_.get();
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, static_cast<size_t>(size));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL && direct_) {  // refused direct (or a short write before)
        StopDirectWrites();
        continue;
      }
      if (n < 0) return arrow::internal::IOErrorFromErrno(errno, "Error writing bytes to file");
      data += n;
      size -= n;
      if (!direct_) buffered_ += n;
    }
    if (buffered_ >= kWritebackBytes) {
#ifdef __linux__
      // A hint: an error here leaves the bytes to the fsync, which reports any that matter.
      (void)::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
      buffered_ = 0;
    }
    return Status::OK();
  }

  // On the stream's thread: `piece` copied into the aligned buffer, each full one written.
  Status Take(const arrow::Buffer* piece) {
    if (piece == nullptr) {
      const int64_t size = std::exchange(held_, 0);
      return size > 0 ? WriteAll(size) : Status::OK();
    }
    const uint8_t* bytes = piece->data();
    int64_t left = piece->size();
    while (left > 0) {
      const int64_t n = std::min(left, kBufferBytes - held_);
      std::memcpy(memory_.get() + held_, bytes, static_cast<size_t>(n));
      held_ += n;
      bytes += n;
      left -= n;
      if (held_ == kBufferBytes) {
        held_ = 0;
        ARROW_RETURN_NOT_OK(WriteAll(kBufferBytes));
      }
    }
    return Status::OK();
  }

  // The rest of the file goes through the page cache.
  void StopDirectWrites() {
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
    direct_ = false;
  }

  void WriteBuffers() {
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return !pieces_.empty() || stopping_; });
      if (pieces_.empty()) return;
      std::shared_ptr<arrow::Buffer> piece = std::move(pieces_.front());
      pieces_.pop_front();
      writing_ = true;
      const bool failed = !error_.ok();
      lock.unlock();
      Status written = failed ? Status::OK() : Take(piece.get());
      const int64_t size = piece == nullptr ? 0 : piece->size();
      piece.reset();  // its memory goes back before the caller may queue more
      lock.lock();
      if (error_.ok()) error_ = written;
      queued_ -= size;
      writing_ = false;
      changed_.notify_all();
    }
  }

  int fd_;
  // The caller's side.
  std::vector<uint8_t> small_;  // writes smaller than kReferenceBytes, gathered
  int64_t position_ = 0;
  // The stream's thread's own.
  bool direct_;
  int64_t held_ = 0;      // bytes in the aligned buffer
  int64_t buffered_ = 0;  // written through the page cache and not yet handed to the disk
  struct FreeMemory {
    void operator()(uint8_t* memory) const { std::free(memory); }
  };
  std::unique_ptr<uint8_t, FreeMemory> memory_;  // kBufferBytes, aligned
  // Shared, under mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<arrow::Buffer>> pieces_;  // to write, in order
  int64_t queued_ = 0;                                 // their bytes
  bool writing_ = false;
  bool stopping_ = false;
  Status error_;
  std::thread writer_;  // last: starts once the members above exist
};

}  // namespace

Result<std::shared_ptr<arrow::io::OutputStream>> OpenOutputForAtomicWrite(
    const std::filesystem::path& temporary) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  int fd = ::open(temporary.c_str(), kFlags | O_DIRECT, 0644);
  const bool direct = fd >= 0;
  if (!direct) fd = ::open(temporary.c_str(), kFlags, 0644);  // no direct writes here
  if (fd < 0) {
    return arrow::internal::IOErrorFromErrno(errno, "Failed to open local file '",
                                             temporary.string(), "'");
  }
  using Stream = BackgroundFileStream;
  auto* memory =
      static_cast<uint8_t*>(std::aligned_alloc(Stream::kAlignment, Stream::kBufferBytes));
  if (memory == nullptr) {
    ::close(fd);
    return Status::OutOfMemory("no memory to buffer the writes of ", temporary.string());
  }
  return std::make_shared<Stream>(fd, direct, memory);
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  return WriteFileAtomically(path, [&](const std::filesystem::path& temporary) -> Status {
    errno = 0;
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      return Status::IOError("cannot write ", temporary.string(), ": ",
                             errno != 0 ? std::strerror(errno) : "write failed");
    }
    return Status::OK();
  });
}

std::optional<int64_t> NumberInFileName(std::string_view name, std::string_view prefix,
                                        size_t digits, std::string_view suffix) {
  if (digits == 0 || name.size() != prefix.size() + digits + suffix.size() ||
      !name.starts_with(prefix) || !name.ends_with(suffix)) {
    return std::nullopt;
  }
  int64_t number = 0;
  for (char c : name.substr(prefix.size(), digits)) {
    if (c < '0' || c > '9' || number > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
    number = number * 10 + (c - '0');
  }
  return number;
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  if (storage::IsObjectUri(path)) return storage::ReadObject(path);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return Status::IOError(path.string(), " is a directory, not a file");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IOError("cannot read ", path.string(), ": ",
                           errno != 0 ? std::strerror(errno) : "cannot open");
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read ", path.string());
  return text.str();
}

Result<std::vector<std::filesystem::path>> ListDirectory(const std::filesystem::path& directory) {
  if (storage::IsObjectUri(directory)) return storage::ListObjects(directory);
  std::vector<std::filesystem::path> entries;
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error), end;
  for (; !error && it != end; it.increment(error)) entries.push_back(it->path());
  if (error) return Status::IOError("cannot list ", directory.string(), ": ", error.message());
  return entries;
}

Result<std::filesystem::path> ChildPath(const std::filesystem::path& directory,
                                        std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Status::Invalid("'", name, "' is not a single file name, so it cannot name an entry of ",
                           directory.string());
  }
  return directory / std::filesystem::path(name);
}

}  // namespace headwater
