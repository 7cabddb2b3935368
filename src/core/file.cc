#include "headwater/core/file.h"

#include <arrow/io/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

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

// A file stream that starts the disk write of each kWritebackBytes as soon as they are written.
class WritebackFileStream : public arrow::io::OutputStream {
 public:
  explicit WritebackFileStream(std::shared_ptr<arrow::io::FileOutputStream> file)
      : file_(std::move(file)) {}

  Status Write(const void* data, int64_t nbytes) override {
    ARROW_RETURN_NOT_OK(file_->Write(data, nbytes));
    written_ += nbytes;
    if (written_ - handed_ >= kWritebackBytes) {
#ifdef __linux__
      // A hint: an error here leaves the bytes to the fsync, which reports any that matter.
      (void)::sync_file_range(file_->file_descriptor(), handed_, written_ - handed_,
                              SYNC_FILE_RANGE_WRITE);
#endif
      handed_ = written_;
    }
    return Status::OK();
  }
  Status Flush() override { return file_->Flush(); }
  Status Close() override { return file_->Close(); }
  bool closed() const override { return file_->closed(); }
  Result<int64_t> Tell() const override { return file_->Tell(); }

 private:
  static constexpr int64_t kWritebackBytes = 32 << 20;
  std::shared_ptr<arrow::io::FileOutputStream> file_;
  int64_t written_ = 0;
  int64_t handed_ = 0;
};

}  // namespace

Result<std::shared_ptr<arrow::io::OutputStream>> OpenOutputForAtomicWrite(
    const std::filesystem::path& temporary) {
  ARROW_ASSIGN_OR_RAISE(auto file, arrow::io::FileOutputStream::Open(temporary.string()));
  return std::make_shared<WritebackFileStream>(std::move(file));
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
