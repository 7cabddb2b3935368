// libFuzzer target for the files a stream pipeline reads back after a restart: arbitrary bytes as
// a write-ahead-log segment (as found, and wrapped as one record with a valid length and CRC, so
// the Arrow IPC payload itself is fuzzed), and as a window operator's checkpointed state. Each
// must be read, cut off (a torn tail) or refused with a message; nothing may crash or hang.
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "headwater/engine/window_aggregator.h"
#include "headwater/ingest/write_ahead_log.h"

using namespace headwater;

namespace {

namespace fs = std::filesystem;

void Refused(const Status& status) {
  if (!status.ok() && status.message().empty()) std::abort();
}

const fs::path& Directory() {
  static const fs::path directory = [] {
    fs::path path = fs::temp_directory_path() / ("stored_state_fuzzer-" + std::to_string(getpid()));
    fs::create_directories(path);
    return path;
  }();
  return directory;
}

void ReplaySegment(const std::string& bytes) {
  fs::remove_all(Directory());
  fs::create_directories(Directory());
  std::ofstream(Directory() / "wal-00000000000000000000.log", std::ios::binary) << bytes;
  auto wal = ingest::WriteAheadLog::Open(Directory());
  Refused(wal.status());
  if (!wal.ok()) return;
  int64_t last = 0;
  Status replayed = (*wal)->Replay(0, [&](std::shared_ptr<arrow::RecordBatch>, int64_t position) {
    if (position <= last) std::abort();  // positions only move forward
    last = position;
    return Status::OK();
  });
  Refused(replayed);
  if (last > (*wal)->end()) std::abort();
}

std::string Record(const std::string& payload) {
  const uint32_t length = static_cast<uint32_t>(payload.size());
  const uint32_t crc = static_cast<uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(length)));
  std::string record(8, '\0');
  std::memcpy(record.data(), &length, 4);
  std::memcpy(record.data() + 4, &crc, 4);
  return record + payload;
}

void RestoreOperator(const std::string& bytes) {
  using engine::Aggregation;
  constexpr int64_t kMinute = 60'000'000;  // the seed corpus's view: price sum 10m and max 20m
  std::vector<engine::AggregateSpec> specs = {
      // sliding by 5m, size count 5m
      {0, Aggregation::kSum, Duration{10 * kMinute}, Duration{5 * kMinute}},
      {0, Aggregation::kMax, Duration{20 * kMinute}, Duration{5 * kMinute}},
      {1, Aggregation::kCount, Duration{5 * kMinute}, Duration{5 * kMinute}}};
  auto op = engine::WindowAggregator::Make(specs, 2).ValueOrDie();
  Status restored = op.Restore(bytes);
  Refused(restored);
  if (!restored.ok()) return;
  // What restores saves, and that restores to the same state.
  auto again = engine::WindowAggregator::Make(specs, 2).ValueOrDie();
  if (!again.Restore(op.Save()).ok() || again.Save() != op.Save()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      ReplaySegment(bytes);
      break;
    case 1:
      ReplaySegment(Record(bytes));
      break;
    default:
      RestoreOperator(bytes);
  }
  return 0;
}
