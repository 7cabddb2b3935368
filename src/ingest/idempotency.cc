#include "headwater/ingest/idempotency.h"

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <arrow/ipc/api.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "headwater/core/clock.h"
#include "headwater/core/file.h"
#include "headwater/core/text.h"

namespace headwater::ingest {
namespace {

namespace fs = std::filesystem;

class KeyConflictDetail : public arrow::StatusDetail {
 public:
  explicit KeyConflictDetail(KeyConflict what) : what_(what) {}
  const char* type_id() const override { return "headwater::KeyConflict"; }
  std::string ToString() const override { return "idempotency key conflict"; }
  KeyConflict what() const { return what_; }

 private:
  KeyConflict what_;
};

int64_t NowMicros() { return SystemClock::Instance().Now().micros; }

Status Conflict(KeyConflict what, std::string message) {
  return Status::AlreadyExists(std::move(message))
      .WithDetail(std::make_shared<KeyConflictDetail>(what));
}

}  // namespace

Status CheckIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 255) {
    return Status::Invalid("an idempotency key has 1 to 255 characters, not ", key.size());
  }
  for (size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return Status::Invalid("an idempotency key is visible ASCII; character ", i + 1,
                             " is not (byte ", static_cast<int>(c), ")");
    }
  }
  return Status::OK();
}

std::string KeyDigest(std::string_view key) { return Sha256Hex(key).substr(0, 16); }

Result<std::string> RequestFingerprint(std::string_view what, const arrow::Table& rows) {
  ARROW_ASSIGN_OR_RAISE(auto sink, arrow::io::BufferOutputStream::Create());
  ARROW_RETURN_NOT_OK(sink->Write(what.data(), static_cast<int64_t>(what.size())));
  ARROW_ASSIGN_OR_RAISE(auto writer,
                        arrow::ipc::MakeStreamWriter(sink, rows.schema()->WithMetadata(nullptr)));
  ARROW_RETURN_NOT_OK(writer->WriteTable(rows));
  ARROW_RETURN_NOT_OK(writer->Close());
  ARROW_ASSIGN_OR_RAISE(auto buffer, sink->Finish());
  return Sha256Hex(std::string_view(reinterpret_cast<const char*>(buffer->data()),
                                    static_cast<size_t>(buffer->size())));
}

std::optional<KeyConflict> KeyConflictOf(const Status& status) {
  const auto& detail = status.detail();
  if (detail == nullptr || std::string_view(detail->type_id()) != "headwater::KeyConflict") {
    return std::nullopt;
  }
  return static_cast<const KeyConflictDetail&>(*detail).what();
}

IdempotencyLedger::~IdempotencyLedger() {
  if (fd_ >= 0) ::close(fd_);
}

void IdempotencyLedger::ReadLines(std::string_view text, int64_t oldest) {
  // "<micros> <key> <fingerprint>\n"; a last line without its newline was torn by a crash (its
  // request never wrote anything) and is ignored.
  while (true) {
    const size_t end = text.find('\n');
    if (end == std::string_view::npos) return;
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    const size_t first = line.find(' ');
    const size_t second = line.rfind(' ');
    if (first == std::string_view::npos || second == first) continue;
    const int64_t micros = std::strtoll(std::string(line.substr(0, first)).c_str(), nullptr, 10);
    if (micros < oldest) continue;
    fingerprints_[std::string(line.substr(first + 1, second - first - 1))] =
        std::string(line.substr(second + 1));
  }
}

Result<std::unique_ptr<IdempotencyLedger>> IdempotencyLedger::Open(const fs::path& path) {
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  if (error) return Status::IOError("cannot create ", path.parent_path().string());
  std::unique_ptr<IdempotencyLedger> ledger(new IdempotencyLedger(path));
  if (fs::exists(path, error)) {
    ARROW_ASSIGN_OR_RAISE(auto text, ReadFile(path));
    ledger->ReadLines(text, NowMicros() - kIdempotencyWindow.micros);
    // Expired keys (and a torn last line) go when the file holds many more lines than keys.
    const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    if (text.size() > (1u << 20) && lines > 2 * ledger->fingerprints_.size()) {
      std::string kept;
      const int64_t now = NowMicros();
      for (const auto& [key, fingerprint] : ledger->fingerprints_) {
        kept += fmt::format("{} {} {}\n", now, key, fingerprint);
      }
      ARROW_RETURN_NOT_OK(WriteFileAtomically(path, kept));
    } else if (!text.empty() && text.back() != '\n') {
      fs::resize_file(path, text.rfind('\n') + 1, error);  // npos + 1: no whole line, 0
    }
  }
  ledger->fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (ledger->fd_ < 0) return Status::IOError("cannot open ", path.string());
  return ledger;
}

Result<bool> IdempotencyLedger::Claim(std::string_view key, std::string_view fingerprint) {
  ARROW_RETURN_NOT_OK(CheckIdempotencyKey(key));
  std::lock_guard lock(mutex_);
  const std::string name(key);
  if (in_progress_.contains(name)) {
    return Conflict(KeyConflict::kInProgress, "a request with idempotency key '" + name +
                                                  "' is in progress; retry when it has answered");
  }
  auto found = fingerprints_.find(name);
  if (found != fingerprints_.end()) {
    if (found->second != fingerprint) {
      return Conflict(KeyConflict::kReusedForAnotherRequest,
                      "idempotency key '" + name + "' was used for a different request");
    }
    in_progress_.insert(name);
    return false;
  }
  const std::string line = fmt::format("{} {} {}\n", NowMicros(), key, fingerprint);
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("cannot write ", path_.string(), ": ", std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return Status::IOError("cannot sync ", path_.string());
  fingerprints_.emplace(name, std::string(fingerprint));
  in_progress_.insert(name);
  return true;
}

void IdempotencyLedger::Release(std::string_view key) {
  std::lock_guard lock(mutex_);
  in_progress_.erase(std::string(key));
}

}  // namespace headwater::ingest
