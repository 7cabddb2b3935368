#include "headwater/ingest/write_ahead_log.h"

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "headwater/core/clock.h"
#include "headwater/core/file.h"
#include "headwater/ingest/idempotency.h"

namespace headwater::ingest {
namespace {

namespace fs = std::filesystem;
constexpr size_t kHeader = 8;
constexpr uint32_t kMaxRecord = 1u << 30;
constexpr std::string_view kKeyMetadata = "headwater.idempotency_key";

int64_t NowMicros() { return SystemClock::Instance().Now().micros; }

uint32_t Crc(std::string_view bytes) {
  return static_cast<uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Segments by their first position.
Result<std::map<int64_t, fs::path>> ListSegments(const fs::path& directory) {
  std::map<int64_t, fs::path> segments;
  ARROW_ASSIGN_OR_RAISE(auto entries, ListDirectory(directory));
  for (const fs::path& entry : entries) {
    auto start = NumberInFileName(entry.filename().string(), "wal-", 20, ".log");
    if (start) segments[*start] = entry;
  }
  return segments;
}

// The length of the whole records at the start of `bytes`.
size_t ValidPrefix(std::string_view bytes) {
  size_t at = 0;
  while (bytes.size() - at >= kHeader) {
    uint32_t length, crc;
    std::memcpy(&length, bytes.data() + at, 4);
    std::memcpy(&crc, bytes.data() + at + 4, 4);
    if (length > kMaxRecord || bytes.size() - at - kHeader < length) break;
    if (Crc(bytes.substr(at + kHeader, length)) != crc) break;
    at += kHeader + length;
  }
  return at;
}

// Calls visit(reader of the record's Arrow IPC stream, offset past the record) for each whole
// record of a segment's `bytes` from offset `at`, stopping at the first error.
Status ForEachRecord(
    std::string_view bytes, size_t at,
    const std::function<Status(arrow::ipc::RecordBatchStreamReader&, size_t)>& visit) {
  const size_t valid = ValidPrefix(bytes);
  while (at < valid) {
    uint32_t length;
    std::memcpy(&length, bytes.data() + at, 4);
    auto payload = std::make_shared<arrow::Buffer>(
        reinterpret_cast<const uint8_t*>(bytes.data() + at + kHeader), length);
    ARROW_ASSIGN_OR_RAISE(auto reader, arrow::ipc::RecordBatchStreamReader::Open(
                                           std::make_shared<arrow::io::BufferReader>(payload)));
    at += kHeader + length;
    ARROW_RETURN_NOT_OK(visit(*reader, at));
  }
  return Status::OK();
}

}  // namespace

WriteAheadLog::~WriteAheadLog() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(const fs::path& directory) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) return Status::IOError("cannot create ", directory.string(), ": ", error.message());
  std::unique_ptr<WriteAheadLog> log(new WriteAheadLog(directory));
  ARROW_ASSIGN_OR_RAISE(auto segments, ListSegments(directory));
  ARROW_RETURN_NOT_OK(log->ReadKeys(segments));
  if (segments.empty()) {
    ARROW_RETURN_NOT_OK(log->OpenSegment(0));
    return log;
  }
  auto last = std::prev(segments.end());
  ARROW_ASSIGN_OR_RAISE(auto bytes, ReadFile(last->second));
  const size_t valid = ValidPrefix(bytes);
  if (valid < bytes.size()) {
    // A torn record: its push was never acknowledged.
    fs::resize_file(last->second, valid, error);
    if (error) return Status::IOError("cannot truncate ", last->second.string());
  }
  log->segment_start_ = last->first;
  log->end_ = last->first + static_cast<int64_t>(valid);
  log->fd_ = ::open(last->second.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (log->fd_ < 0) return Status::IOError("cannot open ", last->second.string());
  return log;
}

Status WriteAheadLog::ReadKeys(const std::map<int64_t, fs::path>& segments) {
  const int64_t oldest = NowMicros() - kIdempotencyWindow.micros;
  std::error_code error;
  if (fs::exists(directory_ / "keys", error)) {
    ARROW_ASSIGN_OR_RAISE(auto text, ReadFile(directory_ / "keys"));
    std::string_view rest = text;
    while (!rest.empty()) {
      const size_t end = std::min(rest.find('\n'), rest.size());
      std::string_view line = rest.substr(0, end);
      rest.remove_prefix(std::min(end + 1, rest.size()));
      const size_t space = line.find(' ');
      if (space == std::string_view::npos) continue;
      const int64_t micros = std::strtoll(std::string(line.substr(0, space)).c_str(), nullptr, 10);
      if (micros >= oldest) keys_[std::string(line.substr(space + 1))] = micros;
    }
  }
  for (const auto& segment : segments) {
    const fs::path& path = segment.second;  // not a structured binding: the lambda uses it
    ARROW_ASSIGN_OR_RAISE(auto bytes, ReadFile(path));
    Status read = ForEachRecord(bytes, 0, [&](arrow::ipc::RecordBatchStreamReader& reader, size_t) {
      auto metadata = reader.schema()->metadata();
      if (metadata == nullptr) return Status::OK();
      auto key = metadata->Get(kKeyMetadata);
      if (key.ok()) keys_.emplace(*key, NowMicros());  // kept a window from now: at least
      return Status::OK();
    });
    if (!read.ok()) {
      return Status::IOError("damaged record in ", path.string(), ": ", read.message());
    }
  }
  return Status::OK();
}

Status WriteAheadLog::OpenSegment(int64_t start) {
  const fs::path path = directory_ / fmt::format("wal-{:020d}.log", start);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create ", path.string());
  ARROW_RETURN_NOT_OK(SyncPath(directory_, /*directory=*/true));
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  segment_start_ = start;
  end_ = start;
  return Status::OK();
}

Result<int64_t> WriteAheadLog::Append(const arrow::RecordBatch& batch,
                                      std::string_view idempotency_key) {
  std::shared_ptr<arrow::RecordBatch> keyed;
  if (!idempotency_key.empty()) {
    auto metadata = batch.schema()->metadata() ? batch.schema()->metadata()->Copy()
                                               : std::make_shared<arrow::KeyValueMetadata>();
    metadata->Append(std::string(kKeyMetadata), std::string(idempotency_key));
    keyed = batch.ReplaceSchemaMetadata(std::move(metadata));
  }
  const arrow::RecordBatch& logged = keyed ? *keyed : batch;
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
  ARROW_RETURN_NOT_OK(sink->Write(std::string(kHeader, '\0')));
  ARROW_ASSIGN_OR_RAISE(auto writer, arrow::ipc::MakeStreamWriter(sink, logged.schema()));
  ARROW_RETURN_NOT_OK(writer->WriteRecordBatch(logged));
  ARROW_RETURN_NOT_OK(writer->Close());
  ARROW_ASSIGN_OR_RAISE(auto buffer, sink->Finish());
  std::string record(reinterpret_cast<const char*>(buffer->data()),
                     static_cast<size_t>(buffer->size()));
  const uint32_t length = static_cast<uint32_t>(record.size() - kHeader);
  if (length > kMaxRecord) return Status::Invalid("a push of ", length, " bytes is too large");
  const uint32_t crc = Crc(std::string_view(record).substr(kHeader));
  std::memcpy(record.data(), &length, 4);
  std::memcpy(record.data() + 4, &crc, 4);

  std::lock_guard lock(mutex_);
  size_t written = 0;
  while (written < record.size()) {
    ssize_t n = ::write(fd_, record.data() + written, record.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Cut back what part of the record got out, so the log stays whole.
      const auto segment_end = static_cast<off_t>(end_ - segment_start_);
      if (::ftruncate(fd_, segment_end) != 0) {
        return Status::IOError("cannot write the write-ahead log, nor cut it back");
      }
      return Status::IOError("cannot write the write-ahead log: ", std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return Status::IOError("cannot sync the write-ahead log");
  end_ += static_cast<int64_t>(record.size());
  if (!idempotency_key.empty()) keys_[std::string(idempotency_key)] = NowMicros();
  return end_;
}

bool WriteAheadLog::Contains(std::string_view idempotency_key) const {
  std::lock_guard lock(mutex_);
  auto found = keys_.find(std::string(idempotency_key));
  return found != keys_.end() && found->second >= NowMicros() - kIdempotencyWindow.micros;
}

Status WriteAheadLog::Replay(
    int64_t from,
    const std::function<Status(std::shared_ptr<arrow::RecordBatch>, int64_t)>& visit) {
  ARROW_ASSIGN_OR_RAISE(auto segments, ListSegments(directory_));
  for (auto it = segments.begin(); it != segments.end(); ++it) {
    auto next = std::next(it);
    if (next != segments.end() && next->first <= from) continue;  // wholly before `from`
    ARROW_ASSIGN_OR_RAISE(auto bytes, ReadFile(it->second));
    const size_t at = from > it->first ? static_cast<size_t>(from - it->first) : 0;
    ARROW_RETURN_NOT_OK(
        ForEachRecord(bytes, at, [&](arrow::ipc::RecordBatchStreamReader& reader, size_t past) {
          std::shared_ptr<arrow::RecordBatch> batch;
          ARROW_RETURN_NOT_OK(reader.ReadNext(&batch));
          if (batch == nullptr) return Status::IOError("empty record in ", it->second.string());
          ARROW_ASSIGN_OR_RAISE(batch, batch->CopyTo(arrow::default_cpu_memory_manager()));
          return visit(std::move(batch), it->first + static_cast<int64_t>(past));
        }));
  }
  return Status::OK();
}

Status WriteAheadLog::Release(int64_t position) {
  std::lock_guard lock(mutex_);
  if (end_ > segment_start_) ARROW_RETURN_NOT_OK(OpenSegment(end_));
  ARROW_ASSIGN_OR_RAISE(auto segments, ListSegments(directory_));
  std::vector<fs::path> released;
  for (auto it = segments.begin(); it != segments.end(); ++it) {
    auto next = std::next(it);
    if (next == segments.end() || next->first > position) break;
    released.push_back(it->second);
  }
  if (released.empty()) return Status::OK();
  if (!keys_.empty()) {  // the keys outlive their records: kept before the records go
    const int64_t oldest = NowMicros() - kIdempotencyWindow.micros;
    std::erase_if(keys_, [&](const auto& key) { return key.second < oldest; });
    std::string text;
    for (const auto& [key, micros] : keys_) text += fmt::format("{} {}\n", micros, key);
    ARROW_RETURN_NOT_OK(WriteFileAtomically(directory_ / "keys", text));
  }
  for (const fs::path& path : released) {
    std::error_code error;
    fs::remove(path, error);
  }
  return Status::OK();
}

int64_t WriteAheadLog::end() const {
  std::lock_guard lock(mutex_);
  return end_;
}

}  // namespace headwater::ingest
