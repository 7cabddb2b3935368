#include "headwater/ingest/idempotency.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace headwater::ingest {
namespace {

namespace fs = std::filesystem;

class IdempotencyLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            ("hw_ledger_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()) /
            "idempotency.log";
    fs::remove_all(path_.parent_path());
  }
  void TearDown() override { fs::remove_all(path_.parent_path()); }
  fs::path path_;
};

TEST_F(IdempotencyLedgerTest, ARetryIsRecognisedAndAReusedKeyRefused) {
  {
    auto ledger = IdempotencyLedger::Open(path_).ValueOrDie();
    EXPECT_TRUE(ledger->Claim("k1", "aaaa").ValueOrDie());  // new: logged
    auto twice = ledger->Claim("k1", "aaaa");               // a copy while the first runs
    ASSERT_FALSE(twice.ok());
    EXPECT_EQ(KeyConflictOf(twice.status()), KeyConflict::kInProgress);
    ledger->Release("k1");
    EXPECT_FALSE(ledger->Claim("k1", "aaaa").ValueOrDie());  // a retry
    ledger->Release("k1");
    auto other = ledger->Claim("k1", "bbbb");
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(KeyConflictOf(other.status()), KeyConflict::kReusedForAnotherRequest);
    EXPECT_NE(other.status().message().find("'k1'"), std::string::npos);
  }
  // A crash tore a last line: it is ignored (its request wrote nothing) and cut off.
  std::ofstream(path_, std::ios::app) << "123 k2 cc";
  auto ledger = IdempotencyLedger::Open(path_).ValueOrDie();
  EXPECT_FALSE(ledger->Claim("k1", "aaaa").ValueOrDie());  // remembered across a restart
  EXPECT_TRUE(ledger->Claim("k2", "cccc").ValueOrDie());
}

TEST_F(IdempotencyLedgerTest, KeysAreVisibleAsciiOfAtMost255Characters) {
  auto ledger = IdempotencyLedger::Open(path_).ValueOrDie();
  for (std::string bad : {std::string(), std::string(256, 'a'), std::string("a b"),
                          std::string("a\nb"), std::string("caf\xc3\xa9")}) {
    auto claimed = ledger->Claim(bad, "f");
    ASSERT_FALSE(claimed.ok()) << bad;
    EXPECT_TRUE(claimed.status().IsInvalid()) << bad;
  }
  EXPECT_TRUE(ledger->Claim("3f2b6c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c", "f").ok());
  EXPECT_TRUE(CheckIdempotencyKey(std::string(255, '~')).ok());
}

TEST(RequestFingerprintTest, DiffersWithTheRowsAndTheTarget) {
  auto table = [](int64_t value) {
    arrow::Int64Builder builder;
    EXPECT_TRUE(builder.Append(value).ok());
    return arrow::Table::Make(arrow::schema({arrow::field("x", arrow::int64())}),
                              {builder.Finish().ValueOrDie()});
  };
  const std::string a = RequestFingerprint("push s", *table(1)).ValueOrDie();
  EXPECT_EQ(a, RequestFingerprint("push s", *table(1)).ValueOrDie());
  EXPECT_NE(a, RequestFingerprint("push s", *table(2)).ValueOrDie());
  EXPECT_NE(a, RequestFingerprint("push t", *table(1)).ValueOrDie());
  EXPECT_EQ(KeyDigest("k").size(), 16u);
}

}  // namespace
}  // namespace headwater::ingest
