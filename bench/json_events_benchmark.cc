// Kafka message decoding alone: JSON trade messages, as bench/stream.py produces them, through
// JsonEventDecoder into Arrow batches of 10,000 rows, one thread.
// Usage: json_events_benchmark [MESSAGES]; prints one JSON line.
#include <arrow/api.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "headwater/ingest/json_events.h"

using namespace headwater;

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::stoi(argv[1]) : 1'000'000;
  std::mt19937_64 random(42);
  constexpr int64_t kStartMillis = 1'772'442'000'000;
  std::vector<std::string> texts;
  texts.reserve(static_cast<size_t>(messages));
  for (int i = 0; i < messages; ++i) {
    texts.push_back(
        "{\"ticker\": \"T" + std::to_string(random() % 10'000) +
        "\", \"price\": " + std::to_string(100 + static_cast<int>(random() % 10'000) / 100.0) +
        ", \"timestamp\": " + std::to_string(kStartMillis + i / 10 - random() % 2000) + "}");
  }
  auto schema =
      arrow::schema({arrow::field("ticker", arrow::utf8()), arrow::field("price", arrow::float64()),
                     arrow::field("timestamp", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
  auto decoder =
      ingest::JsonEventDecoder::Make(schema, {"ticker", "timestamp"}, {"timestamp"}).ValueOrDie();
  ingest::EventTimeBounds bounds;
  bounds.latest = Timestamp{(kStartMillis + 86'400'000) * 1000};
  int64_t rows = 0;
  const auto started = std::chrono::steady_clock::now();
  for (const std::string& text : texts) {
    if (!decoder->Append(text, bounds).ok()) return 1;
    if (decoder->rows() == 10'000) rows += decoder->Flush().ValueOrDie()->num_rows();
  }
  rows += decoder->Flush().ValueOrDie()->num_rows();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "{\"messages\": %d, \"rows\": %lld, \"seconds\": %.3f, \"messages_per_second\": %.0f}\n",
      messages, static_cast<long long>(rows), seconds, messages / seconds);
  return rows == messages ? 0 : 1;
}
