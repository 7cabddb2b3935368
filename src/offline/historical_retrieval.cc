#include "headwater/offline/historical_retrieval.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/util/bitmap_ops.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "headwater/core/time.h"
#include "headwater/engine/feature_columns.h"
#include "headwater/engine/on_demand.h"
#include "headwater/engine/parallel_for.h"
#include "headwater/engine/point_in_time_join.h"
#include "headwater/offline/parquet_dataset.h"
#include "headwater/registry/feature_reference.h"
#include "headwater/registry/source_schema.h"

namespace headwater::offline {
namespace {

using registry::DataSource;
using registry::Definitions;
using registry::FeatureView;
using registry::FeatureViewProjection;

Result<std::shared_ptr<arrow::Array>> Flatten(const std::shared_ptr<arrow::ChunkedArray>& column) {
  if (column->num_chunks() == 1) return column->chunk(0);
  if (column->num_chunks() == 0) return arrow::MakeEmptyArray(column->type());
  return arrow::Concatenate(column->chunks());
}

Result<std::vector<engine::KeyColumn>> KeyColumns(const arrow::Table& table,
                                                  const std::vector<std::string>& names) {
  std::vector<engine::KeyColumn> keys;
  for (const std::string& name : names) {
    ARROW_ASSIGN_OR_RAISE(auto array, Flatten(table.GetColumnByName(name)));
    ARROW_ASSIGN_OR_RAISE(auto key, engine::KeyColumn::Make(array));
    keys.push_back(std::move(key));
  }
  return keys;
}

// The entity rows' join keys for one view, checked for presence, type and nulls.
Result<std::vector<engine::KeyColumn>> EntityKeys(const Definitions& definitions,
                                                  const FeatureView& view,
                                                  const arrow::Table& entity_rows) {
  std::vector<std::string> names;
  for (const std::string& entity_name : view.entities) {
    const registry::Entity* entity = definitions.FindEntity(entity_name);
    if (entity == nullptr) {
      return Status::Invalid("feature view '", view.name, "' names unknown entity '", entity_name,
                             "'; run `headwater apply`");
    }
    auto column = entity_rows.GetColumnByName(entity->join_key);
    if (column == nullptr) {
      return Status::Invalid("the entity rows have no column '", entity->join_key,
                             "' (join key of entity '", entity_name, "', needed by feature view '",
                             view.name, "')");
    }
    auto type = FromArrowType(*column->type());
    if (!type.ok() || type->is_array || !KeyKindsCompatible(type->kind, entity->value_type)) {
      return Status::TypeError("entity column '", entity->join_key, "' is ",
                               column->type()->ToString(), " but entity '", entity_name,
                               "' declares ", FormatFeatureType({entity->value_type, false}));
    }
    if (column->null_count() > 0) {
      ARROW_ASSIGN_OR_RAISE(auto flat, Flatten(column));
      int64_t row = 0;
      while (!flat->IsNull(row)) ++row;
      return Status::Invalid("entity column '", entity->join_key, "' is null in row ", row + 1,
                             "; every entity row needs its full key");
    }
    names.push_back(entity->join_key);
  }
  return KeyColumns(entity_rows, names);
}

struct ViewColumns {
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  std::vector<std::string> names;
};

// What one view reads from its batch source.
struct ViewScan {
  const FeatureView* view;
  const DataSource* source;
  std::vector<std::string> key_columns;      // the source's columns of the view's join keys
  std::vector<std::string> feature_columns;  // the source's columns of the projected features
  std::vector<FeatureType> feature_types;
  int threads;

  // Pass 1 reads the keys and times only.
  std::vector<std::string> KeyAndTimeColumns() const {
    std::vector<std::string> columns = key_columns;
    columns.push_back(source->timestamp_field);
    if (!source->created_timestamp_column.empty()) {
      columns.push_back(source->created_timestamp_column);
    }
    return columns;
  }
};

// The data may have changed since `apply`: every column the scan reads must still be there, of
// the declared type.
Status CheckSourceColumns(const ViewScan& scan, const FeatureViewProjection& projection,
                          const ParquetDataset& dataset) {
  const DataSource& source = *scan.source;
  for (const auto& column : scan.KeyAndTimeColumns()) {
    if (dataset.schema()->GetFieldByName(column) == nullptr) {
      return Status::Invalid("source '", source.name, "' (", source.path, ") has no column '",
                             column, "' any more; fix the data or run `headwater apply`");
    }
  }
  for (size_t f = 0; f < scan.feature_columns.size(); ++f) {
    auto field = dataset.schema()->GetFieldByName(scan.feature_columns[f]);
    auto type = field ? FromArrowType(*field->type()) : Result<FeatureType>(Status::Invalid(""));
    if (!type.ok() || !CastsOnRead(*type, scan.feature_types[f])) {
      return Status::Invalid("source '", source.name, "' (", source.path, "): column '",
                             scan.feature_columns[f], "' is ",
                             field ? field->type()->ToString() : std::string("missing"),
                             " but feature '", projection.features[f], "' is ",
                             FormatFeatureType(scan.feature_types[f]), "; run `headwater apply`");
    }
  }
  return Status::OK();
}

// Row groups whose event times lie wholly outside [min entity time - ttl, max entity time]
// cannot contribute, and are not read.
std::vector<RowGroup> RowGroupsInReach(const ViewScan& scan, const ParquetDataset& dataset,
                                       const engine::PointInTimeJoin& join, RetrievalStats* stats) {
  std::vector<RowGroup> row_groups;
  const int64_t ttl = scan.view->ttl.micros;
  const int64_t lower = ttl > 0 ? join.min_entity_time() - ttl : INT64_MIN;
  for (const RowGroup& group : dataset.row_groups()) {
    auto range = dataset.TimeRange(group, scan.source->timestamp_field);
    if (range && (range->first > join.max_entity_time() || range->second < lower)) continue;
    row_groups.push_back(group);
  }
  if (stats != nullptr) {
    stats->row_groups_total += static_cast<int64_t>(dataset.row_groups().size());
    stats->row_groups_skipped +=
        static_cast<int64_t>(dataset.row_groups().size() - row_groups.size());
  }
  return row_groups;
}

// One row group's keys and times, as pass 1 reads them.
struct KeysAndTimes {
  std::vector<engine::KeyColumn> keys;
  std::shared_ptr<arrow::Int64Array> event_times;
  std::shared_ptr<arrow::Int64Array> created_times;  // null without a created-time column
};

Result<KeysAndTimes> ReadKeysAndTimes(const ViewScan& scan, const ParquetDataset& dataset,
                                      const RowGroup& group) {
  const DataSource& source = *scan.source;
  ARROW_ASSIGN_OR_RAISE(auto table, dataset.Read(group, scan.KeyAndTimeColumns()));
  KeysAndTimes out;
  ARROW_ASSIGN_OR_RAISE(out.keys, KeyColumns(*table, scan.key_columns));
  ARROW_ASSIGN_OR_RAISE(out.event_times,
                        ToEpochMicros(*table->GetColumnByName(source.timestamp_field),
                                      "column '" + source.timestamp_field + "' of " + source.path));
  if (!source.created_timestamp_column.empty()) {
    ARROW_ASSIGN_OR_RAISE(
        out.created_times,
        ToEpochMicros(*table->GetColumnByName(source.created_timestamp_column),
                      "column '" + source.created_timestamp_column + "' of " + source.path));
  }
  return out;
}

// Feeds rows [begin, end) of a row group to the join.
Status ConsumeRows(const engine::PointInTimeJoin& join, const KeysAndTimes& group,
                   int64_t first_row_number, int64_t begin, int64_t end,
                   engine::JoinPartial* partial) {
  std::vector<engine::KeyColumn> keys;
  for (const engine::KeyColumn& key : group.keys) keys.push_back(key.Slice(begin, end - begin));
  const arrow::Int64Array& times = *group.event_times;
  std::shared_ptr<arrow::Buffer> validity;  // the event times' validity from bit 0
  if (times.null_count() > 0) {
    ARROW_ASSIGN_OR_RAISE(validity, arrow::internal::CopyBitmap(
                                        arrow::default_memory_pool(), times.null_bitmap_data(),
                                        times.offset() + begin, end - begin));
  }
  join.Consume(partial, keys, times.raw_values() + begin, validity ? validity->data() : nullptr,
               group.created_times ? group.created_times->raw_values() + begin : nullptr,
               end - begin, first_row_number + begin);
  return Status::OK();
}

// Pass 1: keys and timestamps only, into one partial state per worker; per entity row, the
// matching feature row number or -1. Row groups are the tasks; with fewer groups than threads,
// each group is read and then its rows are fed in slices, one per thread.
Result<std::vector<int64_t>> FindMatches(const ViewScan& scan, const ParquetDataset& dataset,
                                         const std::vector<RowGroup>& row_groups,
                                         engine::PointInTimeJoin& join, RetrievalStats* stats) {
  // Each worker allocates its own partial on its first task: the pages of a partial (32 bytes
  // an entity row) are zeroed by the thread that will use them, on every core at once.
  std::vector<engine::JoinPartial> partials(static_cast<size_t>(scan.threads));
  auto partial_of = [&](int worker) {
    engine::JoinPartial& partial = partials[static_cast<size_t>(worker)];
    if (partial.best.empty()) partial = join.NewPartial();
    return &partial;
  };
  if (static_cast<int64_t>(row_groups.size()) >= scan.threads) {
    ARROW_RETURN_NOT_OK(engine::ParallelFor(
        static_cast<int64_t>(row_groups.size()), scan.threads,
        [&](int64_t task, int worker) -> Status {
          const RowGroup& group = row_groups[task];
          ARROW_ASSIGN_OR_RAISE(auto columns, ReadKeysAndTimes(scan, dataset, group));
          return ConsumeRows(join, columns, group.first_row_number, 0, group.num_rows,
                             partial_of(worker));
        }));
  } else {
    for (const RowGroup& group : row_groups) {
      ARROW_ASSIGN_OR_RAISE(auto columns, ReadKeysAndTimes(scan, dataset, group));
      const int64_t slices = scan.threads;
      auto slice_begin = [&](int64_t slice) { return group.num_rows * slice / slices; };
      ARROW_RETURN_NOT_OK(
          engine::ParallelFor(slices, scan.threads, [&](int64_t slice, int worker) -> Status {
            return ConsumeRows(join, columns, group.first_row_number, slice_begin(slice),
                               slice_begin(slice + 1), partial_of(worker));
          }));
    }
  }
  for (const auto& partial : partials) {
    if (stats != nullptr) stats->feature_rows_scanned += partial.rows_consumed;
  }
  return join.Finish(std::move(partials));
}

// The matched rows grouped by the row group holding them: group g's pairs are
// [offsets[g], offsets[g + 1]) of `local_rows` (the row within the group) and `entity_rows`,
// in entity-row order. A counting sort, linear in the rows: no comparison sort of 10M pairs.
struct MatchesByGroup {
  std::vector<int64_t> offsets;
  std::vector<int64_t> local_rows;
  std::vector<int64_t> entity_rows;
};

Result<MatchesByGroup> GroupMatches(const ParquetDataset& dataset,
                                    const std::vector<int64_t>& matches, int threads) {
  const std::vector<RowGroup>& groups = dataset.row_groups();
  const size_t num_groups = groups.size();
  auto group_of = [&](int64_t row_number) {
    auto after = std::upper_bound(
        groups.begin(), groups.end(), row_number,
        [](int64_t row, const RowGroup& group) { return row < group.first_row_number; });
    return static_cast<uint32_t>(after - groups.begin() - 1);
  };
  // The entity rows in `threads` contiguous ranges: each range counts its rows per group, then
  // writes them from where the ranges before it end, so every group keeps entity-row order.
  const auto num_rows = static_cast<int64_t>(matches.size());
  const int ranges = static_cast<int>(std::clamp<int64_t>(num_rows >> 16, 1, threads));
  auto range_begin = [&](int64_t range) { return num_rows * range / ranges; };
  std::vector<uint32_t> group_of_row(matches.size());
  std::vector<std::vector<int64_t>> counts(static_cast<size_t>(ranges),
                                           std::vector<int64_t>(num_groups, 0));
  ARROW_RETURN_NOT_OK(engine::ParallelFor(ranges, ranges, [&](int64_t range, int) -> Status {
    std::vector<int64_t>& count = counts[static_cast<size_t>(range)];
    for (int64_t row = range_begin(range); row < range_begin(range + 1); ++row) {
      const int64_t match = matches[static_cast<size_t>(row)];
      if (match < 0) continue;
      const uint32_t g = group_of(match);
      group_of_row[static_cast<size_t>(row)] = g;
      ++count[g];
    }
    return Status::OK();
  }));
  MatchesByGroup out;
  out.offsets.assign(num_groups + 1, 0);
  std::vector<std::vector<int64_t>> next(static_cast<size_t>(ranges),
                                         std::vector<int64_t>(num_groups, 0));
  for (size_t g = 0, at = 0; g < num_groups; ++g) {
    out.offsets[g] = static_cast<int64_t>(at);
    for (size_t range = 0; range < static_cast<size_t>(ranges); ++range) {
      next[range][g] = static_cast<int64_t>(at);
      at += static_cast<size_t>(counts[range][g]);
    }
    out.offsets[g + 1] = static_cast<int64_t>(at);
  }
  out.local_rows.resize(static_cast<size_t>(out.offsets.back()));
  out.entity_rows.resize(out.local_rows.size());
  ARROW_RETURN_NOT_OK(engine::ParallelFor(ranges, ranges, [&](int64_t range, int) -> Status {
    std::vector<int64_t>& at = next[static_cast<size_t>(range)];
    for (int64_t row = range_begin(range); row < range_begin(range + 1); ++row) {
      const int64_t match = matches[static_cast<size_t>(row)];
      if (match < 0) continue;
      const uint32_t g = group_of_row[static_cast<size_t>(row)];
      const auto slot = static_cast<size_t>(at[g]++);
      out.local_rows[slot] = match - groups[g].first_row_number;
      out.entity_rows[slot] = row;
    }
    return Status::OK();
  }));
  return out;
}

// A feature column gathered straight into its output: fixed-width values of the declared type
// (no cast on read) are copied from each row group to their entity rows by the worker that read
// the group, with a byte per row for validity (bits of one byte would be shared by workers).
struct DirectColumn {
  int byte_width = 0;
  std::shared_ptr<arrow::Buffer> values;
  std::vector<uint8_t> valid;  // 0 for entity rows without a match

  void Scatter(const arrow::ArrayData& source, const int64_t* local_rows,
               const int64_t* entity_rows, int64_t count) {
    const uint8_t* bitmap = source.GetNullCount() > 0 ? source.buffers[0]->data() : nullptr;
    for (int64_t k = 0; k < count; ++k) {
      valid[static_cast<size_t>(entity_rows[k])] =
          bitmap == nullptr || arrow::bit_util::GetBit(bitmap, source.offset + local_rows[k]);
    }
    switch (byte_width) {  // a fixed-size copy is one load and one store, not a memmove call
      case 8:
        return ScatterValues<uint64_t>(source, local_rows, entity_rows, count);
      case 4:
        return ScatterValues<uint32_t>(source, local_rows, entity_rows, count);
      case 2:
        return ScatterValues<uint16_t>(source, local_rows, entity_rows, count);
      case 1:
        return ScatterValues<uint8_t>(source, local_rows, entity_rows, count);
      default:
        break;
    }
    const uint8_t* from = source.buffers[1]->data() + source.offset * byte_width;
    uint8_t* to = values->mutable_data();
    for (int64_t k = 0; k < count; ++k) {
      std::memcpy(to + entity_rows[k] * byte_width, from + local_rows[k] * byte_width,
                  static_cast<size_t>(byte_width));
    }
  }

  template <typename Word>
  void ScatterValues(const arrow::ArrayData& source, const int64_t* local_rows,
                     const int64_t* entity_rows, int64_t count) {
    const Word* from = source.GetValues<Word>(1);
    Word* to = reinterpret_cast<Word*>(values->mutable_data());
    for (int64_t k = 0; k < count; ++k) to[entity_rows[k]] = from[local_rows[k]];
  }

  Result<std::shared_ptr<arrow::Array>> Finish(const std::shared_ptr<arrow::DataType>& type) {
    const auto rows = static_cast<int64_t>(valid.size());
    ARROW_ASSIGN_OR_RAISE(auto bitmap, arrow::AllocateBitmap(rows));
    uint8_t* bits = bitmap->mutable_data();
    int64_t nulls = 0;
    for (int64_t row = 0; row < rows; ++row) {
      arrow::bit_util::SetBitTo(bits, row, valid[static_cast<size_t>(row)] != 0);
      nulls += valid[static_cast<size_t>(row)] == 0;
    }
    // Unmatched rows' value slots are never read; zero them so the output is deterministic.
    for (int64_t row = 0; row < rows; ++row) {
      if (valid[static_cast<size_t>(row)] == 0) {
        std::memset(values->mutable_data() + row * byte_width, 0, static_cast<size_t>(byte_width));
      }
    }
    return arrow::MakeArray(arrow::ArrayData::Make(
        type, rows, {nulls > 0 ? std::move(bitmap) : nullptr, values}, nulls));
  }
};

// Pass 2: reads the feature columns of the row groups holding matched rows and puts each matched
// row's values at its entity row; unmatched rows get nulls. Fixed-width columns of the declared
// type are scattered into their output directly; the others (strings, lists, casts on read) are
// taken per group and placed with one Take.
Result<std::vector<std::shared_ptr<arrow::Array>>> TakeMatchedRows(
    const ViewScan& scan, const ParquetDataset& dataset, const std::vector<int64_t>& matches,
    RetrievalStats* stats) {
  const auto num_rows = static_cast<int64_t>(matches.size());
  ARROW_ASSIGN_OR_RAISE(const MatchesByGroup grouped, GroupMatches(dataset, matches, scan.threads));
  if (stats != nullptr) stats->rows_matched += static_cast<int64_t>(grouped.local_rows.size());
  const size_t num_columns = scan.feature_columns.size();
  std::vector<std::shared_ptr<arrow::DataType>> output_types(num_columns);
  std::vector<std::optional<DirectColumn>> direct(num_columns);
  std::vector<size_t> taken_columns;  // the others
  for (size_t f = 0; f < num_columns; ++f) {
    output_types[f] = ToArrowType(scan.feature_types[f]);
    const auto& type = dataset.schema()->GetFieldByName(scan.feature_columns[f])->type();
    if (type->Equals(*output_types[f]) && arrow::is_fixed_width(type->id()) &&
        type->id() != arrow::Type::BOOL && type->byte_width() > 0) {
      DirectColumn column;
      column.byte_width = type->byte_width();
      ARROW_ASSIGN_OR_RAISE(column.values, arrow::AllocateBuffer(num_rows * type->byte_width()));
      column.valid.assign(static_cast<size_t>(num_rows), 0);
      direct[f] = std::move(column);
    } else {
      taken_columns.push_back(f);
    }
  }
  std::vector<size_t> groups_with_matches;
  for (size_t g = 0; g + 1 < grouped.offsets.size(); ++g) {
    if (grouped.offsets[g + 1] > grouped.offsets[g]) groups_with_matches.push_back(g);
  }
  // Tasks: a row group's direct columns, split into batches when there are too few groups to
  // keep every thread busy (a source of one row group would be read by one thread), and its
  // taken columns together.
  std::vector<size_t> direct_columns;
  for (size_t f = 0; f < num_columns; ++f) {
    if (direct[f]) direct_columns.push_back(f);
  }
  const auto num_groups = static_cast<int64_t>(groups_with_matches.size());
  const int64_t batches = direct_columns.empty()
                              ? 0
                              : std::clamp<int64_t>((4 * scan.threads + num_groups - 1) /
                                                        std::max<int64_t>(num_groups, 1),
                                                    1, static_cast<int64_t>(direct_columns.size()));
  const int64_t tasks_per_group = batches + (taken_columns.empty() ? 0 : 1);
  std::vector<std::shared_ptr<arrow::Table>> pieces(groups_with_matches.size());
  ARROW_RETURN_NOT_OK(engine::ParallelFor(
      num_groups * tasks_per_group, scan.threads, [&](int64_t task, int) -> Status {
        const int64_t group_task = task / tasks_per_group;
        const int64_t part = task % tasks_per_group;
        const size_t g = groups_with_matches[static_cast<size_t>(group_task)];
        const RowGroup& group = dataset.row_groups()[g];
        const int64_t begin = grouped.offsets[g];
        const int64_t count = grouped.offsets[g + 1] - begin;
        std::vector<size_t> columns;
        if (part < batches) {
          const size_t n = direct_columns.size();
          for (size_t c = n * part / batches; c < n * (part + 1) / batches; ++c) {
            columns.push_back(direct_columns[c]);
          }
        } else {
          columns = taken_columns;
        }
        std::vector<std::string> names;
        for (size_t f : columns) names.push_back(scan.feature_columns[f]);
        ARROW_ASSIGN_OR_RAISE(auto table, dataset.Read(group, names));
        if (part < batches) {
          for (size_t c = 0; c < columns.size(); ++c) {
            ARROW_ASSIGN_OR_RAISE(auto whole, Flatten(table->column(static_cast<int>(c))));
            direct[columns[c]]->Scatter(*whole->data(), grouped.local_rows.data() + begin,
                                        grouped.entity_rows.data() + begin, count);
          }
          return Status::OK();
        }
        auto indices = std::make_shared<arrow::Int64Array>(
            count, arrow::Buffer::Wrap(grouped.local_rows.data() + begin, count));
        ARROW_ASSIGN_OR_RAISE(auto rows, arrow::compute::Take(table, indices));
        pieces[static_cast<size_t>(group_task)] = rows.table();
        return Status::OK();
      }));

  std::vector<std::shared_ptr<arrow::Array>> out(num_columns);
  std::shared_ptr<arrow::Array> placement;  // entity row -> index into the taken rows, or null
  if (!taken_columns.empty()) {
    // The taken rows are in group order, each group's in entity-row order.
    std::vector<int64_t> position(static_cast<size_t>(num_rows), -1);
    int64_t next = 0;
    for (size_t g : groups_with_matches) {
      for (int64_t k = grouped.offsets[g]; k < grouped.offsets[g + 1]; ++k) {
        position[static_cast<size_t>(grouped.entity_rows[static_cast<size_t>(k)])] = next++;
      }
    }
    arrow::Int64Builder builder;
    ARROW_RETURN_NOT_OK(builder.Reserve(num_rows));
    for (int64_t at : position) {
      if (at < 0) {
        builder.UnsafeAppendNull();
      } else {
        builder.UnsafeAppend(at);
      }
    }
    ARROW_ASSIGN_OR_RAISE(placement, builder.Finish());
  }
  ARROW_RETURN_NOT_OK(engine::ParallelFor(
      static_cast<int64_t>(num_columns), scan.threads, [&](int64_t task, int) -> Status {
        const auto f = static_cast<size_t>(task);
        std::shared_ptr<arrow::Array> placed;
        if (direct[f]) {
          ARROW_ASSIGN_OR_RAISE(placed, direct[f]->Finish(output_types[f]));
          direct[f].reset();
        } else {
          const int piece_column = static_cast<int>(
              std::find(taken_columns.begin(), taken_columns.end(), f) - taken_columns.begin());
          std::vector<std::shared_ptr<arrow::Array>> arrays;
          for (const auto& piece : pieces) {
            if (piece == nullptr) continue;
            for (const auto& chunk : piece->column(piece_column)->chunks()) arrays.push_back(chunk);
          }
          auto type = dataset.schema()->GetFieldByName(scan.feature_columns[f])->type();
          ARROW_ASSIGN_OR_RAISE(auto taken_rows, arrays.empty() ? arrow::MakeEmptyArray(type)
                                                                : arrow::Concatenate(arrays));
          ARROW_ASSIGN_OR_RAISE(auto datum, arrow::compute::Take(taken_rows, placement));
          placed = datum.make_array();
        }
        auto typed = engine::ReadAsFeature(placed, scan.feature_types[f]);
        if (!typed.ok()) {
          return Status::Invalid("source '", scan.source->name, "' (", scan.source->path,
                                 "): column '", scan.feature_columns[f], "' does not fit ",
                                 FormatFeatureType(scan.feature_types[f]), ": ",
                                 typed.status().message());
        }
        out[f] = *typed;
        return Status::OK();
      }));
  return out;
}

// The joins a retrieval had computed elsewhere (options.join_elsewhere), and their columns.
struct Prejoined {
  std::vector<ViewJoin> joins;
  JoinedColumns columns;

  // Appends to `out` the columns of `features` (then the event time) of `view`'s join.
  Result<ViewColumns> Columns(const FeatureView& view, const std::vector<std::string>& features,
                              bool event_time, ViewColumns out) const {
    for (size_t j = 0; j < joins.size(); ++j) {
      if (joins[j].view != &view) continue;
      const std::vector<std::string>& names = joins[j].features;
      for (const std::string& feature : features) {
        auto at = std::find(names.begin(), names.end(), feature) - names.begin();
        out.arrays.push_back(columns[j][static_cast<size_t>(at)]);
      }
      if (event_time) out.arrays.push_back(columns[j][names.size()]);
      return out;
    }
    return Status::Invalid("feature view '", view.name, "' was not joined");
  }
};

// Joins one view's features onto the entity rows; with `event_time`, the event time of the row
// each came from follows them (an on-demand view's input).
Result<ViewColumns> JoinView(const registry::RepoConfig& config, const Definitions& definitions,
                             const FeatureViewProjection& projection,
                             const arrow::Table& entity_rows,
                             const std::vector<int64_t>& entity_times,
                             const HistoricalRetrievalOptions& options, RetrievalStats* stats,
                             const Prejoined* prejoined, bool event_time = false) {
  const FeatureView* view = definitions.FindFeatureView(projection.view);
  const DataSource* source = definitions.BatchSourceOf(*view);
  if (source == nullptr) {
    return Status::Invalid("feature view '", view->name, "' names unknown source '", view->source,
                           "'; run `headwater apply`");
  }
  ViewScan scan{view,
                source,
                {},
                {},
                {},
                options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
  ViewColumns out;
  for (const std::string& feature : projection.features) {
    out.names.push_back(
        registry::FeatureColumnName(view->name, feature, options.full_feature_names));
    scan.feature_columns.push_back(source->ColumnFor(feature));
    scan.feature_types.push_back(view->FindFeature(feature)->dtype);
  }
  for (const std::string& entity_name : view->entities) {
    scan.key_columns.push_back(source->ColumnFor(definitions.FindEntity(entity_name)->join_key));
  }
  auto add_event_time = [&] {
    if (!event_time) return;
    out.names.push_back("event_timestamp");
    scan.feature_columns.push_back(source->timestamp_field);
    scan.feature_types.push_back({ScalarKind::kUnixTimestamp, false});
  };
  if (entity_rows.num_rows() == 0) {
    add_event_time();
    for (FeatureType type : scan.feature_types) {
      ARROW_ASSIGN_OR_RAISE(auto empty, arrow::MakeEmptyArray(ToArrowType(type)));
      out.arrays.push_back(empty);
    }
    return out;
  }
  ARROW_ASSIGN_OR_RAISE(auto entity_keys, EntityKeys(definitions, *view, entity_rows));
  if (prejoined != nullptr) {
    add_event_time();
    return prejoined->Columns(*view, projection.features, event_time, std::move(out));
  }
  ARROW_ASSIGN_OR_RAISE(
      auto join,
      engine::PointInTimeJoin::Make(std::move(entity_keys), entity_times, view->ttl, scan.threads));
  ARROW_ASSIGN_OR_RAISE(auto files, registry::ListSourceFiles(config.Resolve(source->path)));
  ARROW_ASSIGN_OR_RAISE(auto dataset, ParquetDataset::Open(std::move(files)));
  ARROW_RETURN_NOT_OK(CheckSourceColumns(scan, projection, dataset));
  add_event_time();
  const std::vector<RowGroup> row_groups = RowGroupsInReach(scan, dataset, *join, stats);
  ARROW_ASSIGN_OR_RAISE(auto matches, FindMatches(scan, dataset, row_groups, *join, stats));
  ARROW_ASSIGN_OR_RAISE(out.arrays, TakeMatchedRows(scan, dataset, matches, stats));
  return out;
}

// What an on-demand view's requested features read: the view's features wanted, its inputs
// needed, and the source views with the features (and event times) those inputs come from.
struct OnDemandInputs {
  std::vector<size_t> wanted;  // indexes into view.features
  std::vector<uint8_t> needed;
  std::vector<FeatureViewProjection> sources;
  std::vector<uint8_t> source_times;
};

OnDemandInputs PlanOnDemand(const engine::CompiledOnDemandView& view,
                            const FeatureViewProjection& projection) {
  OnDemandInputs plan;
  plan.needed.assign(view.origins.size(), 0);
  for (const std::string& feature : projection.features) {
    auto it = std::find_if(view.features.begin(), view.features.end(),
                           [&](const registry::Field& f) { return f.name == feature; });
    const auto f = static_cast<size_t>(it - view.features.begin());
    plan.wanted.push_back(f);
    for (int i : view.Reads(f)) plan.needed[static_cast<size_t>(i)] = 1;
  }
  for (size_t i = 0; i < view.origins.size(); ++i) {
    const engine::OnDemandInput& origin = view.origins[i];
    if (!plan.needed[i] || origin.kind == engine::OnDemandInput::Kind::kRequestField) continue;
    auto it = std::find_if(plan.sources.begin(), plan.sources.end(),
                           [&](const FeatureViewProjection& p) { return p.view == origin.source; });
    if (it == plan.sources.end()) {
      plan.sources.push_back({origin.source, {}});
      plan.source_times.push_back(0);
      it = plan.sources.end() - 1;
    }
    const auto s = static_cast<size_t>(it - plan.sources.begin());
    if (origin.kind == engine::OnDemandInput::Kind::kEventTimestamp) {
      plan.source_times[s] = 1;
    } else if (std::find(it->features.begin(), it->features.end(), origin.field) ==
               it->features.end()) {
      it->features.push_back(origin.field);
    }
  }
  return plan;
}

// Evaluates an on-demand view's requested features over its inputs joined onto the entity rows:
// each source view's features and event times by the point-in-time rule, request values from
// the entity columns of their names.
Result<ViewColumns> JoinOnDemandView(
    const registry::RepoConfig& config, const Definitions& definitions,
    const engine::CompiledOnDemandView& view, const FeatureViewProjection& projection,
    const arrow::Table& entity_rows, const std::vector<int64_t>& entity_times,
    const HistoricalRetrievalOptions& options, RetrievalStats* stats, const Prejoined* prejoined) {
  const OnDemandInputs plan = PlanOnDemand(view, projection);
  const std::vector<size_t>& wanted = plan.wanted;
  const std::vector<uint8_t>& needed = plan.needed;
  const std::vector<FeatureViewProjection>& sources = plan.sources;
  const std::vector<uint8_t>& source_times = plan.source_times;
  std::vector<ViewColumns> joined;
  for (size_t s = 0; s < sources.size(); ++s) {
    ARROW_ASSIGN_OR_RAISE(
        auto columns, JoinView(config, definitions, sources[s], entity_rows, entity_times, options,
                               stats, prejoined, source_times[s] != 0));
    joined.push_back(std::move(columns));
  }
  std::vector<engine::ExprColumn> inputs(view.origins.size());
  std::vector<const engine::ExprColumn*> pointers(view.origins.size(), nullptr);
  for (size_t i = 0; i < view.origins.size(); ++i) {
    if (!needed[i]) continue;
    const engine::OnDemandInput& origin = view.origins[i];
    std::shared_ptr<arrow::ChunkedArray> values;
    std::string what;
    if (origin.kind == engine::OnDemandInput::Kind::kRequestField) {
      values = entity_rows.GetColumnByName(origin.field);
      if (values == nullptr) {
        return Status::Invalid("on-demand feature view '", view.name, "' needs the request value '",
                               origin.field, "' (request source '", origin.source,
                               "'): add a column '", origin.field, "' to the entity rows");
      }
      what = "entity column '" + origin.field + "'";
    } else {
      auto source = std::find_if(sources.begin(), sources.end(),
                                 [&](const auto& p) { return p.view == origin.source; });
      const ViewColumns& columns = joined[static_cast<size_t>(source - sources.begin())];
      const std::string name = origin.kind == engine::OnDemandInput::Kind::kEventTimestamp
                                   ? std::string("event_timestamp")
                                   : registry::FeatureColumnName(origin.source, origin.field,
                                                                 options.full_feature_names);
      const auto c = static_cast<size_t>(
          std::find(columns.names.begin(), columns.names.end(), name) - columns.names.begin());
      values = std::make_shared<arrow::ChunkedArray>(columns.arrays[c]);
      what = "feature '" + origin.source + ":" + origin.field + "'";
    }
    ARROW_ASSIGN_OR_RAISE(inputs[i], engine::ExprColumnFromArrow(*values, origin.type, what));
    pointers[i] = &inputs[i];
  }
  // now() is each entity row's time: when its features are wanted, as a request's time online.
  ARROW_ASSIGN_OR_RAISE(auto values,
                        view.Compute(wanted, pointers, entity_rows.num_rows(), entity_times));
  ViewColumns out;
  for (size_t w = 0; w < wanted.size(); ++w) {
    const registry::Field& feature = view.features[wanted[w]];
    out.names.push_back(
        registry::FeatureColumnName(view.name, feature.name, options.full_feature_names));
    ARROW_ASSIGN_OR_RAISE(auto array, engine::ExprColumnToArrow(values[w], feature.dtype));
    out.arrays.push_back(std::move(array));
  }
  return out;
}

// Every feature view a retrieval joins, once, with the union of the features read from it.
std::vector<ViewJoin> PlanJoins(const Definitions& definitions,
                                const std::vector<engine::CompiledOnDemandView>& on_demand,
                                const std::vector<FeatureViewProjection>& features) {
  std::vector<ViewJoin> joins;
  auto add = [&](const FeatureViewProjection& projection, bool event_time) {
    const FeatureView* view = definitions.FindFeatureView(projection.view);
    if (view == nullptr) return;
    auto it = std::find_if(joins.begin(), joins.end(),
                           [&](const ViewJoin& join) { return join.view == view; });
    if (it == joins.end()) {
      joins.push_back({view, {}, false});
      it = joins.end() - 1;
    }
    for (const std::string& feature : projection.features) {
      if (std::find(it->features.begin(), it->features.end(), feature) == it->features.end()) {
        it->features.push_back(feature);
      }
    }
    it->event_time = it->event_time || event_time;
  };
  for (const FeatureViewProjection& projection : features) {
    auto compiled = std::find_if(on_demand.begin(), on_demand.end(),
                                 [&](const auto& view) { return view.name == projection.view; });
    if (compiled == on_demand.end()) {
      add(projection, false);
      continue;
    }
    const OnDemandInputs plan = PlanOnDemand(*compiled, projection);
    for (size_t s = 0; s < plan.sources.size(); ++s) {
      add(plan.sources[s], plan.source_times[s] != 0);
    }
  }
  return joins;
}

}  // namespace

std::map<std::string, std::shared_ptr<arrow::DataType>> EntityColumnTypes(
    const Definitions& definitions, const std::vector<FeatureViewProjection>& features,
    const HistoricalRetrievalOptions& options) {
  std::map<std::string, std::shared_ptr<arrow::DataType>> types;
  types[options.timestamp_column] = arrow::utf8();
  auto add_keys = [&](const FeatureView& view) {
    for (const std::string& entity_name : view.entities) {
      const registry::Entity* entity = definitions.FindEntity(entity_name);
      if (entity == nullptr) continue;
      bool is_integer =
          entity->value_type == ScalarKind::kInt32 || entity->value_type == ScalarKind::kInt64;
      types[entity->join_key] =
          is_integer ? arrow::int64() : ToArrowType({entity->value_type, false});
    }
  };
  for (const FeatureViewProjection& projection : features) {
    if (const FeatureView* view = definitions.FindFeatureView(projection.view)) add_keys(*view);
    const registry::OnDemandFeatureView* on_demand =
        definitions.FindOnDemandFeatureView(projection.view);
    if (on_demand == nullptr) continue;
    for (const FeatureViewProjection& source : on_demand->sources) {
      if (const FeatureView* view = definitions.FindFeatureView(source.view)) add_keys(*view);
      const DataSource* request = definitions.FindSource(source.view);
      if (request == nullptr) continue;
      // Request values as their types; times as text, parsed as entity times are.
      for (const registry::Field& field : request->schema) {
        const bool time = field.dtype.kind == ScalarKind::kUnixTimestamp;
        types[field.name] = time ? arrow::utf8() : ToArrowType(field.dtype);
      }
    }
  }
  return types;
}

Result<std::shared_ptr<arrow::Table>> GetHistoricalFeatures(
    const registry::RepoConfig& config, const Definitions& definitions,
    const std::shared_ptr<arrow::Table>& entity_rows,
    const std::vector<FeatureViewProjection>& features, const HistoricalRetrievalOptions& options,
    RetrievalStats* stats) {
  ARROW_RETURN_NOT_OK(arrow::compute::Initialize());
  int time_index = entity_rows->schema()->GetFieldIndex(options.timestamp_column);
  if (time_index < 0) {
    return Status::Invalid("the entity rows have no '", options.timestamp_column,
                           "' column (the time at which each row's features are wanted)");
  }
  ARROW_ASSIGN_OR_RAISE(auto times,
                        ToEpochMicros(*entity_rows->column(time_index),
                                      "entity column '" + options.timestamp_column + "'"));
  if (times->null_count() > 0) {
    int64_t row = 0;
    while (!times->IsNull(row)) ++row;
    return Status::Invalid("entity column '", options.timestamp_column, "' is null in row ",
                           row + 1);
  }
  std::vector<int64_t> entity_times(times->raw_values(), times->raw_values() + times->length());

  // Output columns: the entity columns, then features; names must not collide.
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::ChunkedArray>> columns;
  std::set<std::string> names;
  for (int c = 0; c < entity_rows->num_columns(); ++c) {
    auto field = entity_rows->schema()->field(c);
    names.insert(field->name());
    if (c == time_index) {
      auto type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
      ARROW_ASSIGN_OR_RAISE(auto normalised, times->View(type));
      fields.push_back(arrow::field(field->name(), type));
      columns.push_back(std::make_shared<arrow::ChunkedArray>(normalised));
    } else {
      fields.push_back(field);
      columns.push_back(entity_rows->column(c));
    }
  }
  // Every output name is known before any join: fail on a collision before reading any data.
  for (const FeatureViewProjection& projection : features) {
    for (const std::string& feature : projection.features) {
      std::string name =
          registry::FeatureColumnName(projection.view, feature, options.full_feature_names);
      if (!names.insert(name).second) {
        return Status::Invalid("output column '", name, "' would appear twice",
                               options.full_feature_names
                                   ? ""
                                   : "; use --full-feature-names to name features view__feature");
      }
    }
  }
  std::vector<engine::CompiledOnDemandView> on_demand;
  if (!definitions.on_demand_feature_views.empty()) {
    ARROW_ASSIGN_OR_RAISE(on_demand, engine::CompileOnDemandViews(definitions));
  }
  for (const FeatureViewProjection& projection : features) {  // before any data is read
    auto compiled = std::find_if(on_demand.begin(), on_demand.end(),
                                 [&](const auto& view) { return view.name == projection.view; });
    if (compiled != on_demand.end()) ARROW_RETURN_NOT_OK(engine::CheckEvaluable(*compiled));
  }
  std::unique_ptr<Prejoined> prejoined;
  if (options.join_elsewhere && entity_rows->num_rows() > 0) {
    prejoined = std::make_unique<Prejoined>();
    prejoined->joins = PlanJoins(definitions, on_demand, features);
    for (const ViewJoin& join : prejoined->joins) {  // the entity rows' keys, checked first
      ARROW_RETURN_NOT_OK(EntityKeys(definitions, *join.view, *entity_rows).status());
    }
    ARROW_ASSIGN_OR_RAISE(prejoined->columns,
                          options.join_elsewhere(prejoined->joins, *entity_rows, entity_times));
  }
  for (const FeatureViewProjection& projection : features) {
    auto compiled = std::find_if(on_demand.begin(), on_demand.end(),
                                 [&](const auto& view) { return view.name == projection.view; });
    ARROW_ASSIGN_OR_RAISE(
        auto view_columns,
        compiled != on_demand.end()
            ? JoinOnDemandView(config, definitions, *compiled, projection, *entity_rows,
                               entity_times, options, stats, prejoined.get())
            : JoinView(config, definitions, projection, *entity_rows, entity_times, options, stats,
                       prejoined.get()));
    for (size_t f = 0; f < view_columns.names.size(); ++f) {
      fields.push_back(arrow::field(view_columns.names[f], view_columns.arrays[f]->type()));
      columns.push_back(std::make_shared<arrow::ChunkedArray>(view_columns.arrays[f]));
    }
  }
  return arrow::Table::Make(arrow::schema(fields), columns, entity_rows->num_rows());
}

}  // namespace headwater::offline
