#pragma once
// Time is injected: nothing below the CLI and server reads the wall clock directly. Code that
// needs "now" takes a Clock; tests pass a ManualClock.

#include <atomic>

#include "headwater/core/time.h"

namespace headwater {

/// Source of the current (processing) time.
class Clock {
 public:
  virtual ~Clock() = default;
  /// The current UTC instant.
  virtual Timestamp Now() const = 0;
};

/// The machine's real-time clock.
class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
  /// A process-wide instance.
  static const SystemClock& Instance();
};

/// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : now_(start.micros) {}
  Timestamp Now() const override { return Timestamp{now_.load()}; }
  void Set(Timestamp now) { now_.store(now.micros); }
  void Advance(Duration by) { now_.fetch_add(by.micros); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace headwater
