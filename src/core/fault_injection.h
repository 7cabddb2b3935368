#pragma once
// Power loss, simulated at the one door every durable file goes through (core/file.h): the
// process "crashes" at the n-th step of all atomic writes — that step and every later one fail,
// as if nothing ran after it — and CutPower then does what a power cut does to what was not
// synced: a file renamed into place whose directory was not synced yet loses the rename. Test
// support only (RocksDB's FaultInjectionTestFS, at the level of our one write).

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "headwater/core/file.h"

namespace headwater {

class PowerLossAtStep final : public DurableWriteObserver {
 public:
  /// Crashes at step `crash_at` (0-based, counted over all atomic writes from now on); a value
  /// past the last step never crashes, which counts the steps.
  explicit PowerLossAtStep(int64_t crash_at) : crash_at_(crash_at) {
    SetDurableWriteObserverForTesting(this);
  }
  ~PowerLossAtStep() override { SetDurableWriteObserverForTesting(nullptr); }
  PowerLossAtStep(const PowerLossAtStep&) = delete;
  PowerLossAtStep& operator=(const PowerLossAtStep&) = delete;

  Status Before(DurableStep step, const std::filesystem::path& path) override {
    if (steps_++ >= crash_at_) return Status::IOError("simulated crash before writing ", path);
    switch (step) {
      case DurableStep::kWriteTemporary:
        if (!unsynced_.count(path)) before_[path] = Contents(path);
        break;
      case DurableStep::kRename:
        unsynced_[path] = true;  // renamed next; durable only after the directory sync
        break;
      case DurableStep::kSyncDirectory:
        unsynced_.erase(path);  // the sync runs next and makes the rename durable
        before_.erase(path);
        break;
      case DurableStep::kSyncTemporary:
        break;
    }
    return Status::OK();
  }

  /// Undoes every rename whose directory was not synced: the old file comes back, or none.
  void CutPower() {
    for (const auto& [path, renamed] : unsynced_) {
      const std::optional<std::string>& old = before_[path];
      std::error_code error;
      if (old) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << *old;
      } else {
        std::filesystem::remove(path, error);
      }
    }
    unsynced_.clear();
  }

  bool crashed() const { return steps_ > crash_at_; }
  int64_t steps() const { return steps_; }

 private:
  static std::optional<std::string> Contents(const std::filesystem::path& path) {
    auto read = ReadFile(path);
    return read.ok() ? std::optional<std::string>(*read) : std::nullopt;
  }

  int64_t crash_at_;
  int64_t steps_ = 0;
  std::map<std::filesystem::path, std::optional<std::string>> before_;
  std::map<std::filesystem::path, bool> unsynced_;
};

}  // namespace headwater
