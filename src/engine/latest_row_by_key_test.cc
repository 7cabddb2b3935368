#include "headwater/engine/latest_row_by_key.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace headwater::engine {
namespace {

ByteRows Keys(const std::vector<std::string>& keys) {
  ByteRows rows;
  for (const auto& key : keys) {
    rows.data += key;
    rows.FinishRow();
  }
  return rows;
}

TEST(LatestRowByKeyTest, KeepsGreatestEventThenCreatedThenRow) {
  LatestRowByKey latest;
  auto keys = Keys({"a", "b", "a", "a", "b", "c"});
  uint8_t selected[] = {1, 1, 1, 1, 1, 0};
  int64_t events[] = {5, 1, 5, 4, 1, 9};
  int64_t created[] = {1, 0, 2, 9, 0, 0};
  latest.Consume(keys, selected, events, created, 100);
  ASSERT_EQ(latest.size(), 2u);  // "c" was not selected
  std::map<std::string, int64_t> rows;
  for (size_t i = 0; i < latest.size(); ++i)
    rows[std::string(latest.key(i))] = latest.candidate(i).row_number;
  EXPECT_EQ(rows["a"], 102);  // created 2 beats created 1 at event 5
  EXPECT_EQ(rows["b"], 104);  // full tie: the later row
}

TEST(LatestRowByKeyTest, MergedPartialsEqualOneInstance) {
  std::mt19937 random(5);
  std::vector<std::string> names;
  std::vector<int64_t> events;
  for (int i = 0; i < 5000; ++i) {
    names.push_back("k" + std::to_string(random() % 700));
    events.push_back(random() % 50);
  }
  std::vector<uint8_t> selected(names.size(), 1);
  LatestRowByKey whole, left, right;
  whole.Consume(Keys(names), selected.data(), events.data(), nullptr, 0);
  const size_t half = names.size() / 2;
  left.Consume(Keys({names.begin(), names.begin() + half}), selected.data(), events.data(), nullptr,
               0);
  right.Consume(Keys({names.begin() + half, names.end()}), selected.data(), events.data() + half,
                nullptr, static_cast<int64_t>(half));
  left.Merge(right);
  ASSERT_EQ(left.size(), whole.size());
  std::map<std::string, int64_t> a, b;
  for (size_t i = 0; i < whole.size(); ++i)
    a[std::string(whole.key(i))] = whole.candidate(i).row_number;
  for (size_t i = 0; i < left.size(); ++i)
    b[std::string(left.key(i))] = left.candidate(i).row_number;
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace headwater::engine
