#include "headwater/online/online_reader.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "headwater/core/entity_key.h"
#include "headwater/registry/loader.h"

namespace headwater::online {
namespace {

constexpr int64_t kNow = 1'772'452'800'000'000;  // 2026-03-02T12:00:00Z
constexpr int64_t kHour = 3'600'000'000;

// Stored values in a map: what the reader asks a store for, without a store.
class MapStore final : public OnlineStore {
 public:
  Status CreateViews(const std::vector<std::string>&) override { return Status::OK(); }
  Status DropViews(const std::vector<std::string>&) override { return Status::OK(); }
  Status Teardown() override { return Status::OK(); }
  Result<WriteResult> Write(const std::string& view, const ByteRows& keys,
                            const ByteRows& values) override {
    for (size_t i = 0; i < keys.size(); ++i) {
      rows_[{view, std::string(keys[i])}] = std::string(values[i]);
    }
    return WriteResult{static_cast<int64_t>(keys.size()), 0};
  }
  Status Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
              std::vector<uint8_t>* found) override {
    ++reads;
    values->assign(keys.size(), "");
    found->assign(keys.size(), 0);
    for (size_t i = 0; i < keys.size(); ++i) {
      auto it = rows_.find({std::string(keys[i].view), std::string(keys[i].key)});
      if (it == rows_.end()) continue;
      (*values)[i] = it->second;
      (*found)[i] = 1;
    }
    return Status::OK();
  }
  Status Sync() override { return Status::OK(); }
  Status Scan(const std::string&,
              const std::function<void(std::string_view, std::string_view)>&) override {
    return Status::OK();
  }
  int reads = 0;

 private:
  std::map<std::pair<std::string, std::string>, std::string> rows_;
};

template <typename Builder, typename T>
std::shared_ptr<arrow::Array> Column(const std::vector<std::optional<T>>& values) {
  Builder builder;
  for (const auto& value : values) {
    EXPECT_TRUE((value ? builder.Append(*value) : builder.AppendNull()).ok());
  }
  return builder.Finish().ValueOrDie();
}

class OnlineReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry::ParseDefinitions(R"(
entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
  - {name: city, join_keys: [city], value_type: STRING}
sources:
  - {name: s, path: data/s, timestamp_field: ts}
feature_views:
  - name: stats
    entities: [driver]
    source: s
    ttl: 2h
    schema: [{name: rate, dtype: Float64}, {name: label, dtype: String}]
  - name: local
    entities: [driver, city]
    source: s
    schema: [{name: trips, dtype: Int64}]
)",
                                           "defs.yaml", &definitions_)
                    .ok());
    catalog_ = OnlineCatalog::Make(definitions_).ValueOrDie();
    // driver 1: fresh, label null; driver 2: three hours old (past the 2h ttl).
    Store("stats", {Column<arrow::Int64Builder, int64_t>({1, 2})},
          {Column<arrow::DoubleBuilder, double>({0.5, 0.25}),
           Column<arrow::StringBuilder, std::string>({std::nullopt, "old"})},
          {kNow - kHour, kNow - 3 * kHour});
    Store("local",
          {Column<arrow::Int64Builder, int64_t>({1}),
           Column<arrow::StringBuilder, std::string>({"paris"})},
          {Column<arrow::Int64Builder, int64_t>({42})}, {kNow});
  }

  void Store(const std::string& view, const std::vector<std::shared_ptr<arrow::Array>>& keys,
             const std::vector<std::shared_ptr<arrow::Array>>& values,
             const std::vector<int64_t>& times) {
    ByteRows encoded_keys, encoded_values;
    std::vector<uint8_t> valid;
    ASSERT_TRUE(EncodeEntityKeys(keys, keys[0]->length(), &encoded_keys, &valid).ok());
    ASSERT_TRUE(EncodeFeatureRows(values, catalog_->FindView(view)->schema, times.data(), nullptr,
                                  keys[0]->length(), &encoded_values)
                    .ok());
    ASSERT_TRUE(store_.Write(view, encoded_keys, encoded_values).ok());
  }

  Result<OnlineFeatures> Read(const std::vector<std::string>& references,
                              const arrow::RecordBatch& entities, bool full_names = false) {
    ARROW_ASSIGN_OR_RAISE(auto features, catalog_->ResolveReferences(references));
    rows_ = EntityRowsFromArrow(entities);
    return ReadOnlineFeatures(&store_, features, rows_, full_names, Timestamp{kNow});
  }

  static std::shared_ptr<arrow::RecordBatch> Batch(
      const std::vector<std::pair<std::string, std::shared_ptr<arrow::Array>>>& columns) {
    arrow::FieldVector fields;
    arrow::ArrayVector arrays;
    for (const auto& [name, array] : columns) {
      fields.push_back(arrow::field(name, array->type()));
      arrays.push_back(array);
    }
    return arrow::RecordBatch::Make(arrow::schema(fields), arrays[0]->length(), arrays);
  }

  registry::Definitions definitions_;
  std::shared_ptr<const OnlineCatalog> catalog_;
  MapStore store_;
  EntityRows rows_;
};

TEST_F(OnlineReaderTest, GivesFeastsStatusesAndTheRowsEventTimes) {
  auto entities =
      Batch({{"driver_id", Column<arrow::Int64Builder, int64_t>({1, 2, 3, std::nullopt})}});
  auto read = Read({"stats:rate", "stats:label"}, *entities);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(store_.reads, 1);  // one store call for every row and feature
  using S = FeatureStatus;
  EXPECT_EQ(read->status(0, 0), S::kPresent);
  EXPECT_EQ(read->status(1, 0), S::kNullValue);
  EXPECT_EQ(read->status(0, 1), S::kOutsideMaxAge);
  EXPECT_EQ(read->status(0, 2), S::kNotFound);
  EXPECT_EQ(read->status(0, 3), S::kNotFound);  // a null key reads nothing
  EXPECT_EQ(read->event_time(0, 0).micros, kNow - kHour);
  EXPECT_EQ(read->event_time(0, 2).micros, 0);
  EXPECT_EQ(read->feature_names(), (std::vector<std::string>{"rate", "label"}));
  auto table = read->ToArrow(*entities).ValueOrDie();
  EXPECT_EQ(table->schema()->ToString(), "driver_id: int64\nrate: double\nlabel: string");
  auto rates = std::static_pointer_cast<arrow::DoubleArray>(table->column(1));
  EXPECT_EQ(rates->Value(0), 0.5);
  EXPECT_EQ(rates->null_count(), 3);  // only PRESENT values are values
}

TEST_F(OnlineReaderTest, CompositeKeysAndInt32ColumnsFindTheirRows) {
  auto entities = Batch({{"city", Column<arrow::StringBuilder, std::string>({"paris", "rome"})},
                         {"driver_id", Column<arrow::Int32Builder, int32_t>({1, 1})}});
  auto read = Read({"local:trips", "stats:rate"}, *entities, /*full_names=*/true);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->feature_names(), (std::vector<std::string>{"local__trips", "stats__rate"}));
  EXPECT_EQ(read->status(0, 0), FeatureStatus::kPresent);
  EXPECT_EQ(read->status(0, 1), FeatureStatus::kNotFound);
  EXPECT_EQ(read->status(1, 1), FeatureStatus::kPresent);
}

TEST_F(OnlineReaderTest, AMissingOrMistypedJoinKeyIsRefusedByName) {
  auto without = Batch({{"driver_id", Column<arrow::Int64Builder, int64_t>({1})}});
  auto missing = Read({"local:trips"}, *without);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "entities lack join key 'city' needed by feature view 'local'");
  auto strings = Batch({{"driver_id", Column<arrow::StringBuilder, std::string>({"1"})}});
  auto mistyped = Read({"stats:rate"}, *strings);
  ASSERT_FALSE(mistyped.ok());
  EXPECT_EQ(mistyped.status().message(),
            "entities.driver_id has type string; feature view 'stats' needs Int64 keys");
  auto doubles = Batch({{"driver_id", Column<arrow::DoubleBuilder, double>({1.0})}});
  auto other = Read({"stats:rate"}, *doubles);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().message(),
            "entities.driver_id has type double; feature view 'stats' needs Int64 keys");
  EXPECT_FALSE(catalog_->ResolveReferences({"stats:nope"}).ok());
  EXPECT_FALSE(catalog_->ResolveReferences({}).ok());
}

}  // namespace
}  // namespace headwater::online
