#include "headwater/engine/key_index.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>

#include "headwater/engine/dense_id_table.h"

namespace headwater::engine {
namespace {

std::shared_ptr<arrow::Array> Ints(const std::vector<std::optional<int64_t>>& values) {
  arrow::Int64Builder builder;
  for (const auto& value : values) {
    EXPECT_TRUE((value ? builder.Append(*value) : builder.AppendNull()).ok());
  }
  return builder.Finish().ValueOrDie();
}

std::shared_ptr<arrow::Array> Strings(const std::vector<std::string>& values) {
  arrow::StringBuilder builder;
  EXPECT_TRUE(builder.AppendValues(values).ok());
  return builder.Finish().ValueOrDie();
}

std::vector<KeyColumn> Columns(const std::vector<std::shared_ptr<arrow::Array>>& arrays) {
  std::vector<KeyColumn> columns;
  for (const auto& array : arrays) columns.push_back(KeyColumn::Make(array).ValueOrDie());
  return columns;
}

std::vector<int32_t> Probe(const KeyIndex& index,
                           const std::vector<std::shared_ptr<arrow::Array>>& arrays) {
  std::vector<int32_t> ids(static_cast<size_t>(arrays[0]->length()));
  std::vector<uint64_t> hashes;
  index.Probe(Columns(arrays), arrays[0]->length(), ids.data(), &hashes);
  return ids;
}

TEST(DenseIdTableTest, GivesIdsInFirstInsertionOrderAndFindsThemAfterGrowing) {
  DenseIdTable table;
  std::vector<std::string> keys;
  auto id_of = [&](const std::string& key, bool* inserted) {
    return table.FindOrInsert(
        std::hash<std::string>{}(key), [&](int32_t id) { return keys[id] == key; }, inserted);
  };
  bool inserted = false;
  for (int i = 0; i < 10'000; ++i) {  // grows from 16 slots many times
    keys.push_back("key" + std::to_string(i));
    ASSERT_EQ(id_of(keys.back(), &inserted), i);
    ASSERT_TRUE(inserted);
  }
  for (int i = 0; i < 10'000; i += 97) {
    ASSERT_EQ(id_of(keys[i], &inserted), i);
    EXPECT_FALSE(inserted);
  }
  EXPECT_EQ(table.size(), 10'000);
  const std::string absent = "nope";
  EXPECT_EQ(
      table.Find(std::hash<std::string>{}(absent), [&](int32_t id) { return keys[id] == absent; }),
      DenseIdTable::kAbsent);
}

TEST(DenseIdTableTest, EqualHashesAreToldApartByTheCallersKeys) {
  DenseIdTable table;
  std::vector<std::string> keys = {"a", "b", "c"};
  bool inserted = false;
  for (int32_t i = 0; i < 3; ++i) {  // every key hashes to 42
    EXPECT_EQ(table.FindOrInsert(
                  42, [&](int32_t id) { return keys[id] == keys[i]; }, &inserted),
              i);
  }
  EXPECT_EQ(table.Find(42, [&](int32_t id) { return keys[id] == "b"; }), 1);
  EXPECT_EQ(table.Find(42, [&](int32_t id) { return keys[id] == "c"; }), 2);
}

TEST(KeyIndexTest, IntegerKeysGetDenseIdsAndProbesFindThem) {
  auto index = KeyIndex::Build(Columns({Ints({7, 3, 7, std::nullopt, 9})}), 5).ValueOrDie();
  EXPECT_EQ(index.size(), 3);
  EXPECT_EQ(index.row_ids(), (std::vector<int32_t>{0, 1, 0, -1, 2}));
  EXPECT_EQ(Probe(index, {Ints({9, 8, 7, std::nullopt})}), (std::vector<int32_t>{2, -1, 0, -1}));
}

TEST(KeyIndexTest, CompositeKeysMatchOnEveryPart) {
  auto index =
      KeyIndex::Build(Columns({Ints({1, 1, 2}), Strings({"x", "y", "x"})}), 3).ValueOrDie();
  EXPECT_EQ(index.size(), 3);
  EXPECT_EQ(Probe(index, {Ints({1, 2, 2, 1}), Strings({"y", "x", "y", "x"})}),
            (std::vector<int32_t>{1, 2, -1, 0}));
}

TEST(KeyIndexTest, Int32ProbesFindInt64Keys) {
  auto index = KeyIndex::Build(Columns({Ints({5, 6})}), 2).ValueOrDie();
  arrow::Int32Builder builder;
  ASSERT_TRUE(builder.AppendValues({6, 5, 4}).ok());
  EXPECT_EQ(Probe(index, {builder.Finish().ValueOrDie()}), (std::vector<int32_t>{1, 0, -1}));
}

TEST(KeyIndexTest, NoKeyColumnsIsOneKey) {
  auto index = KeyIndex::Build({}, 4).ValueOrDie();
  EXPECT_EQ(index.size(), 1);
  EXPECT_EQ(index.row_ids(), (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(KeyIndexTest, AgreesWithAMapOnRandomStringKeys) {
  std::mt19937 random(11);
  std::vector<std::string> build, probe;
  for (int i = 0; i < 20'000; ++i) build.push_back("k" + std::to_string(random() % 3000));
  for (int i = 0; i < 20'000; ++i) probe.push_back("k" + std::to_string(random() % 4000));
  auto index = KeyIndex::Build(Columns({Strings(build)}), 20'000).ValueOrDie();
  std::map<std::string, int32_t> expected;
  for (size_t row = 0; row < build.size(); ++row) {
    expected.emplace(build[row], static_cast<int32_t>(expected.size()));
    ASSERT_EQ(index.row_ids()[row], expected[build[row]]);
  }
  const auto ids = Probe(index, {Strings(probe)});
  for (size_t row = 0; row < probe.size(); ++row) {
    auto it = expected.find(probe[row]);
    ASSERT_EQ(ids[row], it == expected.end() ? -1 : it->second) << probe[row];
  }
}

// The rows' hashes are computed in ranges on several threads: the ids are the same as on one,
// for composite keys with nulls.
TEST(KeyIndexTest, BuildingOnManyThreadsGivesTheSameIds) {
  std::mt19937_64 random(3);
  std::vector<std::optional<int64_t>> numbers;
  std::vector<std::string> names;
  for (int64_t i = 0; i < 300'000; ++i) {
    const uint64_t r = random();
    numbers.push_back(r % 97 == 0 ? std::nullopt : std::optional<int64_t>(r % 5000));
    names.push_back("n" + std::to_string(r % 7));
  }
  auto one = KeyIndex::Build(Columns({Ints(numbers), Strings(names)}), 300'000).ValueOrDie();
  for (int threads : {2, 3, 8}) {
    auto many =
        KeyIndex::Build(Columns({Ints(numbers), Strings(names)}), 300'000, threads).ValueOrDie();
    EXPECT_EQ(many.row_ids(), one.row_ids()) << threads << " threads";
    EXPECT_EQ(many.size(), one.size());
  }
  EXPECT_GT(one.size(), 30'000);
}

TEST(KeyIndexTest, RefusesAKeyColumnOfAnotherType) {
  arrow::DoubleBuilder builder;
  ASSERT_TRUE(builder.Append(1.5).ok());
  EXPECT_FALSE(KeyColumn::Make(builder.Finish().ValueOrDie()).ok());
}

}  // namespace
}  // namespace headwater::engine
