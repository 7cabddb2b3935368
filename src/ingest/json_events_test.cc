#include "headwater/ingest/json_events.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <string>

namespace headwater::ingest {
namespace {

class JsonEventDecoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto schema = arrow::schema({arrow::field("ticker", arrow::utf8()),
                                 arrow::field("price", arrow::float32()),
                                 arrow::field("size", arrow::int16()),
                                 arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO)),
                                 arrow::field("created", arrow::timestamp(arrow::TimeUnit::NANO))});
    decoder_ = JsonEventDecoder::Make(schema, {"ticker", "ts"}, {"ts", "created"}).ValueOrDie();
    registry::RepoConfig config;  // max_event_time_skew 1d
    bounds_ = EventTimeBounds::At(config, *ParseTimestamp("2026-03-02T09:00:00Z"));
  }
  // The reason a message is refused ("" when it is appended).
  std::string Refusal(const std::string& message) {
    const int64_t before = decoder_->rows();
    Status status = decoder_->Append(message, bounds_);
    EXPECT_EQ(decoder_->rows(), before + (status.ok() ? 1 : 0));
    return status.ok() ? "" : status.message();
  }
  std::unique_ptr<JsonEventDecoder> decoder_;
  EventTimeBounds bounds_;
};

TEST_F(JsonEventDecoderTest, GoodMessagesAreAppended) {
  EXPECT_EQ(Refusal(R"({"ticker": "A", "price": 1.5, "size": 3, "ts": "2026-03-02T08:00:00Z"})"),
            "");
  EXPECT_EQ(Refusal(R"({"ticker": "A", "ts": 1772438400000, "created": "2026-03-02T08:00:00Z"})"),
            "");
  auto batch = decoder_->Flush().ValueOrDie();
  ASSERT_TRUE(batch->ValidateFull().ok());
  EXPECT_EQ(batch->num_rows(), 2);
}

TEST_F(JsonEventDecoderTest, DecodingManyMessagesKeepsNoMemoryOfThem) {
  // Found by bench/soak.py: the parsed document's pool kept every message ever decoded, and
  // the server grew by the Kafka input's size. 20,000 messages of 4 KiB, flushed as they go:
  // what stays allocated must not grow with them (it was 80 MB).
  const std::string note(4096, 'x');
  const std::string message =
      R"({"ticker": "A", "ts": "2026-03-02T08:00:00Z", "note": ")" + note + R"("})";
  ASSERT_EQ(Refusal(message), "");
  ASSERT_TRUE(decoder_->Flush().ok());
  const size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_TRUE(decoder_->Append(message, bounds_).ok());
    if (i % 1000 == 999) {
      ASSERT_TRUE(decoder_->Flush().ok());
    }
  }
  ASSERT_TRUE(decoder_->Flush().ok());
  const size_t after = mallinfo2().uordblks;
  EXPECT_LT(after, before + (size_t{16} << 20)) << "grew by " << (after - before) << " bytes";
}

TEST_F(JsonEventDecoderTest, DeepNestingIsRefusedNamingTheLimit) {
  std::string deep = "{\"ticker\": " + std::string(200'000, '[') + std::string(200'000, ']') + "}";
  EXPECT_NE(Refusal(deep).find("more than 64 deep"), std::string::npos);
}

TEST_F(JsonEventDecoderTest, EventTimesOutsideTheBoundsAreRefused) {
  EXPECT_NE(Refusal(R"({"ticker": "A", "ts": "9999-12-31T00:00:00Z"})").find("later than now + 1d"),
            std::string::npos);
  EXPECT_NE(Refusal(R"({"ticker": "A", "ts": "1000-01-01T00:00:00Z"})").find("before 1900"),
            std::string::npos);
  EXPECT_NE(Refusal(R"({"ticker": "A", "ts": -9000000000000000})").find("before 1900"),
            std::string::npos);
  std::string created = Refusal(
      R"({"ticker": "A", "ts": "2026-03-02T08:00:00Z", "created": "2100-01-01T00:00:00Z"})");
  EXPECT_NE(created.find("field 'created'"), std::string::npos) << created;
  EXPECT_EQ(Refusal(R"({"ticker": "A", "ts": "2026-03-03T08:59:59Z"})"), "");  // within now + 1d
}

TEST_F(JsonEventDecoderTest, ValuesBeyondTheirColumnTypeAreRefused) {
  const std::string base = R"({"ticker": "A", "ts": "2026-03-02T08:00:00Z", )";
  EXPECT_NE(Refusal(base + R"("price": 1e300})").find("out of range for float"), std::string::npos);
  EXPECT_NE(Refusal(base + R"("size": 40000})").find("out of range for int16"), std::string::npos);
  EXPECT_NE(Refusal(base + R"("size": -32769})").find("out of range"), std::string::npos);
  EXPECT_EQ(Refusal(base + R"("size": -32768, "price": 3.4e38})"), "");
}

}  // namespace
}  // namespace headwater::ingest
