// libFuzzer target: arbitrary Kafka message bytes into the JSON event decoder. Every message
// must be either appended whole or refused with a reason; the batch must stay well-formed.
#include <arrow/api.h>

#include <cstdio>
#include <cstdlib>

#include "headwater/ingest/json_events.h"

using namespace headwater;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto decoder = [] {
    auto schema = arrow::schema(
        {arrow::field("ticker", arrow::utf8()), arrow::field("price", arrow::float64()),
         arrow::field("size", arrow::int32()), arrow::field("ok", arrow::boolean()),
         arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MILLI))});
    auto made = ingest::JsonEventDecoder::Make(schema, {"ticker", "timestamp"}, {"timestamp"});
    if (!made.ok()) std::abort();
    return std::move(*made);
  }();
  const int64_t before = decoder->rows();
  static const auto bounds = [] {
    registry::RepoConfig config;  // the default max_event_time_skew
    return ingest::EventTimeBounds::At(config, Timestamp{1'780'000'000'000'000});
  }();
  Status appended =
      decoder->Append(std::string_view(reinterpret_cast<const char*>(data), size), bounds);
  if (appended.ok() != (decoder->rows() == before + 1)) std::abort();
  if (!appended.ok() && appended.message().empty()) std::abort();
  if (decoder->rows() >= 64) {
    auto batch = decoder->Flush();
    if (!batch.ok() || !(*batch)->ValidateFull().ok() || (*batch)->num_rows() != 64) std::abort();
  }
  return 0;
}
