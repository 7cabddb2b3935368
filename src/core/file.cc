#include "headwater/core/file.h"

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

// A file stream for large outputs, written once and read later. The caller copies into one of a
// few aligned buffers and goes on (encoding the next row group) while a thread of the stream's own
// writes the previous buffer. Whole buffers are written with O_DIRECT where the file system takes
// it: straight from the buffer to the disk, without copying each byte into a fresh page-cache page
// (on this machine that copy ran at 0.5-0.8 GB/s, a core busy for over a second per GB). The rest
// goes through the page cache, every kWritebackBytes of it handed to the disk at once
// (sync_file_range), so the fsync ending the atomic write waits for the last piece only. The first
// error of a write is returned by the next Write, Flush or Close.
class BackgroundFileStream : public arrow::io::OutputStream {
 public:
  static constexpr int64_t kAlignment = 4096;  // of direct writes' memory, length and offset
  static constexpr int64_t kBufferBytes = 8 << 20;
  static constexpr int kBuffers = 4;

  // `memory`: kBuffers * kBufferBytes from std::aligned_alloc(kAlignment, ...), owned from here.
  BackgroundFileStream(int fd, bool direct, uint8_t* memory)
      : fd_(fd), direct_(direct), memory_(memory), writer_([this] { WriteBuffers(); }) {
    for (int b = kBuffers - 1; b >= 0; --b) free_.push_back(b);
  }

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
    const auto* bytes = static_cast<const uint8_t*>(data);
    while (nbytes > 0) {
      if (filling_ < 0) ARROW_RETURN_NOT_OK(TakeFreeBuffer());
      const int64_t n = std::min(nbytes, kBufferBytes - filled_);
      std::memcpy(memory_.get() + filling_ * kBufferBytes + filled_, bytes, static_cast<size_t>(n));
      filled_ += n;
      position_ += n;
      bytes += n;
      nbytes -= n;
      if (filled_ == kBufferBytes) ARROW_RETURN_NOT_OK(HandOver());
    }
    return Status::OK();
  }

  // Waits until every byte given is in the file.
  Status Flush() override {
    if (filled_ > 0) ARROW_RETURN_NOT_OK(HandOver());
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return (full_.empty() && !writing_) || !error_.ok(); });
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
  static constexpr int64_t kWritebackBytes = 32 << 20;

  Status TakeFreeBuffer() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !free_.empty() || !error_.ok(); });
    ARROW_RETURN_NOT_OK(error_);
    filling_ = free_.back();
    free_.pop_back();
    filled_ = 0;
    return Status::OK();
  }

  Status HandOver() {
    {
      std::lock_guard lock(mutex_);
      ARROW_RETURN_NOT_OK(error_);
      full_.emplace_back(filling_, filled_);
    }
    filling_ = -1;
    filled_ = 0;
    changed_.notify_all();
    return Status::OK();
  }

  // On the stream's thread: one buffer into the file.
  Status WriteAll(const uint8_t* data, int64_t size) {
    if (direct_ && size % kAlignment != 0) StopDirectWrites();  // the last piece
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

  // The rest of the file goes through the page cache.
  void StopDirectWrites() {
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags >= 0) (void)::fcntl(fd_, F_SETFL, flags & ~O_DIRECT);
    direct_ = false;
  }

  void WriteBuffers() {
    std::unique_lock lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return !full_.empty() || stopping_; });
      if (full_.empty()) return;
      const auto [buffer, size] = full_.front();
      full_.pop_front();
      writing_ = true;
      const bool failed = !error_.ok();
      lock.unlock();
      Status written =
          failed ? Status::OK() : WriteAll(memory_.get() + buffer * kBufferBytes, size);
      lock.lock();
      if (error_.ok()) error_ = written;
      free_.push_back(buffer);
      writing_ = false;
      changed_.notify_all();
    }
  }

  int fd_;
  // The caller's side.
  int filling_ = -1;  // the buffer being filled, or none
  int64_t filled_ = 0;
  int64_t position_ = 0;
  // The stream's thread's own.
  bool direct_;
  int64_t buffered_ = 0;  // written through the page cache and not yet handed to the disk
  // Shared, under mutex_.
  struct FreeMemory {
    void operator()(uint8_t* memory) const { std::free(memory); }
  };
  std::unique_ptr<uint8_t, FreeMemory> memory_;  // kBuffers buffers of kBufferBytes
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<int, int64_t>> full_;  // buffers to write, with their sizes
  std::vector<int> free_;
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
  auto* memory = static_cast<uint8_t*>(
      std::aligned_alloc(Stream::kAlignment, Stream::kBufferBytes * Stream::kBuffers));
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
