#include "headwater/engine/point_in_time_join.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <random>

#include "headwater/engine/parallel_for.h"

namespace headwater::engine {
namespace {

std::shared_ptr<arrow::Array> Ints(const std::vector<int64_t>& values) {
  arrow::Int64Builder builder;
  EXPECT_TRUE(builder.AppendValues(values).ok());
  return builder.Finish().ValueOrDie();
}

std::shared_ptr<arrow::Array> Strings(const std::vector<std::string>& values) {
  arrow::StringBuilder builder;
  EXPECT_TRUE(builder.AppendValues(values).ok());
  return builder.Finish().ValueOrDie();
}

std::vector<KeyColumn> Keys(std::vector<std::shared_ptr<arrow::Array>> arrays) {
  std::vector<KeyColumn> keys;
  for (auto& array : arrays) keys.push_back(KeyColumn::Make(array).ValueOrDie());
  return keys;
}

struct FeatureRows {
  std::vector<std::shared_ptr<arrow::Array>> keys;
  std::vector<int64_t> event_times;
  std::vector<int64_t> created_times;  // empty: no created column
};

// Runs the join with the feature rows split into `batches` batches, consumed on `threads`
// threads at once (a scratch per thread) into the one candidate table.
std::vector<int64_t> Join(std::vector<std::shared_ptr<arrow::Array>> entity_keys,
                          std::vector<int64_t> entity_times, const FeatureRows& features,
                          int64_t ttl = 0, int batches = 1, int threads = 1) {
  auto join =
      PointInTimeJoin::Make(Keys(entity_keys), entity_times, Duration{ttl}, threads).ValueOrDie();
  const int64_t n = static_cast<int64_t>(features.event_times.size());
  const int64_t per_batch = std::max<int64_t>((n + batches - 1) / std::max(batches, 1), 1);
  std::vector<JoinScratch> scratches(static_cast<size_t>(threads));
  EXPECT_TRUE(ParallelFor((n + per_batch - 1) / per_batch, threads, [&](int64_t batch, int worker) {
                const int64_t start = batch * per_batch;
                const int64_t length = std::min(per_batch, n - start);
                std::vector<std::shared_ptr<arrow::Array>> sliced;
                for (auto& key : features.keys) sliced.push_back(key->Slice(start, length));
                join->Consume(&scratches[static_cast<size_t>(worker)], Keys(sliced),
                              features.event_times.data() + start, nullptr,
                              features.created_times.empty()
                                  ? nullptr
                                  : features.created_times.data() + start,
                              length, start);
                return Status::OK();
              }).ok());
  return join->Finish().ValueOrDie();
}

TEST(PointInTimeJoinTest, TakesLatestRowAtOrBeforeEntityTime) {
  FeatureRows features{{Ints({1, 1, 1, 2})}, {10, 20, 30, 15}, {}};
  auto result = Join({Ints({1, 1, 1, 2, 2})}, {5, 20, 25, 15, 14}, features);
  EXPECT_EQ(result, (std::vector<int64_t>{-1, 1, 1, 3, -1}));
}

TEST(PointInTimeJoinTest, TtlWindowIsInclusiveAtBothEnds) {
  FeatureRows features{{Ints({1})}, {100}, {}};
  // ttl 10: entity times 100 and 110 qualify, 111 does not; 99 is before the row.
  auto result = Join({Ints({1, 1, 1, 1})}, {100, 110, 111, 99}, features, /*ttl=*/10);
  EXPECT_EQ(result, (std::vector<int64_t>{0, 0, -1, -1}));
}

TEST(PointInTimeJoinTest, TtlZeroMeansNoLimit) {
  FeatureRows features{{Ints({1})}, {0}, {}};
  EXPECT_EQ(Join({Ints({1})}, {int64_t{1} << 50}, features), std::vector<int64_t>{0});
}

TEST(PointInTimeJoinTest, OlderRowDoesNotWinWhenLatestIsOutsideTtl) {
  // The latest row at or before t is outside the TTL: nothing matches, even if an older row
  // were (impossibly) inside; and a newer row within the TTL wins over an older one.
  FeatureRows features{{Ints({1, 1})}, {50, 95}, {}};
  EXPECT_EQ(Join({Ints({1, 1})}, {100, 200}, features, /*ttl=*/10), (std::vector<int64_t>{1, -1}));
}

TEST(PointInTimeJoinTest, TieOnEventTimeGoesToLatestCreated) {
  FeatureRows features{{Ints({1, 1, 1})}, {10, 10, 10}, {5, 7, 6}};
  EXPECT_EQ(Join({Ints({1})}, {10}, features), std::vector<int64_t>{1});
}

TEST(PointInTimeJoinTest, FullTieGoesToRowReadLast) {
  FeatureRows features{{Ints({1, 1, 1})}, {10, 10, 10}, {5, 5, 5}};
  EXPECT_EQ(Join({Ints({1})}, {10}, features), std::vector<int64_t>{2});
  // Also without a created column, and when the rows arrive in different partials.
  FeatureRows no_created{{Ints({1, 1, 1})}, {10, 10, 10}, {}};
  EXPECT_EQ(Join({Ints({1})}, {10}, no_created, 0, /*batches=*/3), std::vector<int64_t>{2});
}

TEST(PointInTimeJoinTest, DuplicateEntityRowsEachGetTheAnswerInInputOrder) {
  FeatureRows features{{Ints({7, 7})}, {1, 3}, {}};
  EXPECT_EQ(Join({Ints({7, 7, 7, 7})}, {3, 2, 3, 2}, features), (std::vector<int64_t>{1, 0, 1, 0}));
}

TEST(PointInTimeJoinTest, CompositeKeysMatchOnEveryPart) {
  FeatureRows features{{Ints({1, 1, 2}), Strings({"a", "b", "a"})}, {1, 2, 3}, {}};
  auto result =
      Join({Ints({1, 1, 2, 2}), Strings({"a", "b", "a", "b"})}, {10, 10, 10, 10}, features);
  EXPECT_EQ(result, (std::vector<int64_t>{0, 1, 2, -1}));
}

TEST(PointInTimeJoinTest, Int32FeatureKeysMatchInt64EntityKeys) {
  arrow::Int32Builder builder;
  ASSERT_TRUE(builder.AppendValues({5, 6}).ok());
  FeatureRows features{{builder.Finish().ValueOrDie()}, {1, 1}, {}};
  EXPECT_EQ(Join({Ints({6, 5})}, {1, 1}, features), (std::vector<int64_t>{1, 0}));
}

TEST(PointInTimeJoinTest, ViewWithoutEntitiesJoinsOnTimeOnly) {
  FeatureRows features{{}, {1, 5, 9}, {}};
  EXPECT_EQ(Join({}, {0, 5, 100}, features), (std::vector<int64_t>{-1, 1, 2}));
}

TEST(PointInTimeJoinTest, NullFeatureKeysNeverMatch) {
  arrow::Int64Builder builder;
  ASSERT_TRUE(builder.AppendNull().ok());
  ASSERT_TRUE(builder.Append(1).ok());
  FeatureRows features{{builder.Finish().ValueOrDie()}, {5, 1}, {}};
  EXPECT_EQ(Join({Ints({1})}, {10}, features), std::vector<int64_t>{1});
}

// The operator against a direct reading of the rule, on random data with many ties.
TEST(PointInTimeJoinTest, MatchesBruteForceOnRandomData) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 20; ++round) {
    const int num_keys = 1 + static_cast<int>(random() % 6);
    const int64_t ttl = random() % 3 == 0 ? 0 : static_cast<int64_t>(random() % 20);
    std::vector<int64_t> entity_keys, entity_times, feature_keys, feature_times, created;
    for (int i = 0; i < 200; ++i) {
      entity_keys.push_back(random() % (num_keys + 1));
      entity_times.push_back(random() % 60);
    }
    for (int i = 0; i < 300; ++i) {
      feature_keys.push_back(random() % num_keys);
      feature_times.push_back(random() % 60);
      created.push_back(random() % 3);
    }
    FeatureRows features{{Ints(feature_keys)}, feature_times, created};
    auto result = Join({Ints(entity_keys)}, entity_times, features, ttl, /*batches=*/4);
    for (size_t e = 0; e < entity_keys.size(); ++e) {
      int64_t best = -1;
      for (size_t f = 0; f < feature_keys.size(); ++f) {
        if (feature_keys[f] != entity_keys[e] || feature_times[f] > entity_times[e]) continue;
        if (best < 0 || std::tie(feature_times[f], created[f]) >=
                            std::tie(feature_times[best], created[best])) {
          best = static_cast<int64_t>(f);
        }
      }
      if (best >= 0 && ttl > 0 && feature_times[best] < entity_times[e] - ttl) best = -1;
      ASSERT_EQ(result[e], best) << "round " << round << " entity row " << e;
    }
  }
}

// Enough entity rows that the key index, the sort by key and the merge split into ranges and
// partitions per thread: every thread count gives the rule's answer, found here key by key.
TEST(PointInTimeJoinTest, ManyEntityRowsOnManyThreadsMatchTheRule) {
  std::mt19937_64 random(3);
  const int64_t num_keys = 40'000;
  const int64_t ttl = 50;
  std::vector<int64_t> entity_keys, entity_times, feature_keys, feature_times, created;
  for (int i = 0; i < 300'000; ++i) {
    entity_keys.push_back(static_cast<int64_t>(random() % (num_keys + 100)));  // some never seen
    entity_times.push_back(static_cast<int64_t>(random() % 400));
  }
  std::vector<std::vector<int64_t>> rows_of_key(num_keys);
  for (int i = 0; i < 200'000; ++i) {
    feature_keys.push_back(static_cast<int64_t>(random() % num_keys));
    feature_times.push_back(static_cast<int64_t>(random() % 400));
    created.push_back(static_cast<int64_t>(random() % 2));
    rows_of_key[feature_keys.back()].push_back(i);
  }
  std::vector<int64_t> expected(entity_keys.size(), -1);
  for (size_t e = 0; e < entity_keys.size(); ++e) {
    if (entity_keys[e] >= num_keys) continue;
    int64_t best = -1;
    for (int64_t f : rows_of_key[entity_keys[e]]) {
      if (feature_times[f] > entity_times[e]) continue;
      if (best < 0 ||
          std::tie(feature_times[f], created[f]) >= std::tie(feature_times[best], created[best])) {
        best = f;
      }
    }
    if (best >= 0 && feature_times[best] < entity_times[e] - ttl) best = -1;
    expected[e] = best;
  }
  FeatureRows features{{Ints(feature_keys)}, feature_times, created};
  for (int threads : {1, 2, 3, 8}) {
    EXPECT_EQ(Join({Ints(entity_keys)}, entity_times, features, ttl, /*batches=*/16, threads),
              expected)
        << threads << " threads";
  }
}

}  // namespace
}  // namespace headwater::engine
