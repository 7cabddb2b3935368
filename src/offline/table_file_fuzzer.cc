// libFuzzer target for the table files a user hands to get-historical-features (the entity rows)
// and to write commands: arbitrary bytes as a Parquet file (corrupt footers, wrong or nested
// types, lying lengths) and as a CSV file with typed key and time columns. Each must be read or
// refused with a message naming the file; nothing may crash, hang or throw.
#include <arrow/api.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "headwater/offline/table_file.h"

using namespace headwater;

namespace {

namespace fs = std::filesystem;

fs::path Path(const char* extension) {
  static const fs::path directory = [] {
    fs::path path = fs::temp_directory_path() / ("table_file_fuzzer-" + std::to_string(getpid()));
    fs::create_directories(path);
    return path;
  }();
  return directory / (std::string("entities") + extension);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const fs::path path = Path(data[0] % 2 == 0 ? ".parquet" : ".csv");
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data) + 1, static_cast<std::streamsize>(size - 1));
  auto table = offline::ReadTableFile(
      path, {{"driver_id", arrow::int64()},
             {"event_timestamp", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")}});
  if (!table.ok()) {
    if (table.status().message().find(path.string()) == std::string::npos) std::abort();
    return 0;
  }
  if (!(*table)->Validate().ok()) std::abort();  // what reads is a well-formed table
  return 0;
}
