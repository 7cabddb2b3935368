#include "view_scan.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>
#include <arrow/util/bitmap_generate.h>
#include <arrow/util/bitmap_ops.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>

#include "headwater/core/time.h"
#include "headwater/engine/feature_columns.h"
#include "headwater/engine/parallel_for.h"
#include "headwater/registry/source_schema.h"

namespace headwater::offline {

using registry::DataSource;
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

namespace {

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
Status ConsumeRows(engine::PointInTimeJoin& join, const KeysAndTimes& group,
                   int64_t first_row_number, int64_t begin, int64_t end,
                   engine::JoinScratch* scratch) {
  std::vector<engine::KeyColumn> keys;
  for (const engine::KeyColumn& key : group.keys) keys.push_back(key.Slice(begin, end - begin));
  const arrow::Int64Array& times = *group.event_times;
  std::shared_ptr<arrow::Buffer> validity;  // the event times' validity from bit 0
  if (times.null_count() > 0) {
    ARROW_ASSIGN_OR_RAISE(validity, arrow::internal::CopyBitmap(
                                        arrow::default_memory_pool(), times.null_bitmap_data(),
                                        times.offset() + begin, end - begin));
  }
  join.Consume(scratch, keys, times.raw_values() + begin, validity ? validity->data() : nullptr,
               group.created_times ? group.created_times->raw_values() + begin : nullptr,
               end - begin, first_row_number + begin);
  return Status::OK();
}

}  // namespace

// Pass 1: keys and timestamps only, into the join's one candidate table; per entity row, the
// matching feature row number or -1. Row groups are the tasks; with fewer groups than threads,
// each group is read and then its rows are fed in slices, one per thread.
Result<std::vector<int64_t>> FindMatches(const ViewScan& scan, const ParquetDataset& dataset,
                                         const std::vector<RowGroup>& row_groups,
                                         engine::PointInTimeJoin& join, RetrievalStats* stats) {
  std::vector<engine::JoinScratch> scratches(static_cast<size_t>(scan.threads));
  if (static_cast<int64_t>(row_groups.size()) >= scan.threads) {
    ARROW_RETURN_NOT_OK(engine::ParallelFor(
        static_cast<int64_t>(row_groups.size()), scan.threads,
        [&](int64_t task, int worker) -> Status {
          const RowGroup& group = row_groups[task];
          ARROW_ASSIGN_OR_RAISE(auto columns, ReadKeysAndTimes(scan, dataset, group));
          return ConsumeRows(join, columns, group.first_row_number, 0, group.num_rows,
                             &scratches[static_cast<size_t>(worker)]);
        }));
  } else {
    for (const RowGroup& group : row_groups) {
      ARROW_ASSIGN_OR_RAISE(auto columns, ReadKeysAndTimes(scan, dataset, group));
      const int64_t slices = scan.threads;
      auto slice_begin = [&](int64_t slice) { return group.num_rows * slice / slices; };
      ARROW_RETURN_NOT_OK(
          engine::ParallelFor(slices, scan.threads, [&](int64_t slice, int worker) -> Status {
            return ConsumeRows(join, columns, group.first_row_number, slice_begin(slice),
                               slice_begin(slice + 1), &scratches[static_cast<size_t>(worker)]);
          }));
    }
  }
  for (const auto& scratch : scratches) {
    if (stats != nullptr) stats->feature_rows_scanned += scratch.rows_consumed;
  }
  return join.Finish();
}

namespace {

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

// Which entity rows have a match, as a validity bitmap: the direct columns whose matched source
// values are never null all share it.
struct MatchedRows {
  std::shared_ptr<arrow::Buffer> bits;
  int64_t unmatched = 0;
};

Result<MatchedRows> FindMatchedRows(const std::vector<int64_t>& matches) {
  const auto rows = static_cast<int64_t>(matches.size());
  MatchedRows out;
  ARROW_ASSIGN_OR_RAISE(out.bits, arrow::AllocateBitmap(rows));
  const int64_t* match = matches.data();
  arrow::internal::GenerateBitsUnrolled(out.bits->mutable_data(), 0, rows, [&] {
    const bool matched = *match++ >= 0;
    out.unmatched += !matched;
    return matched;
  });
  return out;
}

// A feature column gathered straight into its output: fixed-width values of the declared type
// (no cast on read) are copied from each row group to their entity rows by the worker that read
// the group. Its validity is the matched rows' bitmap, less the rows whose source value is null:
// those are marked a byte per row (bits of one byte would be shared by workers), in an array
// allocated by the first row group that has nulls.
struct DirectColumn {
  int byte_width = 0;
  int64_t rows = 0;
  std::shared_ptr<arrow::Buffer> values;
  std::once_flag null_rows_allocated;
  std::vector<uint8_t> null_rows;  // 1 for entity rows matched to a null; empty if none are

  void Scatter(const arrow::ArrayData& source, const int64_t* local_rows,
               const int64_t* entity_rows, int64_t count) {
    if (source.GetNullCount() > 0) {
      std::call_once(null_rows_allocated, [&] { null_rows.assign(static_cast<size_t>(rows), 0); });
      const uint8_t* bitmap = source.buffers[0]->data();
      for (int64_t k = 0; k < count; ++k) {
        if (!arrow::bit_util::GetBit(bitmap, source.offset + local_rows[k])) {
          null_rows[static_cast<size_t>(entity_rows[k])] = 1;
        }
      }
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

  // The value slots of null rows are never read; they are zeroed so the output is deterministic.
  template <typename Word>
  void ZeroNullSlots(const uint8_t* validity) {
    Word* to = reinterpret_cast<Word*>(values->mutable_data());
    for (int64_t row = 0; row < rows; ++row) {
      if (!arrow::bit_util::GetBit(validity, row)) to[row] = Word{0};
    }
  }

  Result<std::shared_ptr<arrow::Array>> Finish(const std::shared_ptr<arrow::DataType>& type,
                                               const MatchedRows& matched) {
    std::shared_ptr<arrow::Buffer> validity = matched.bits;
    int64_t nulls = matched.unmatched;
    if (!null_rows.empty()) {
      ARROW_ASSIGN_OR_RAISE(validity, matched.bits->CopySlice(0, matched.bits->size()));
      uint8_t* bits = validity->mutable_data();
      for (int64_t row = 0; row < rows; ++row) {
        if (null_rows[static_cast<size_t>(row)]) arrow::bit_util::ClearBit(bits, row);
      }
      nulls = rows - arrow::internal::CountSetBits(bits, 0, rows);
    }
    if (nulls > 0) {
      switch (byte_width) {
        case 8:
          ZeroNullSlots<uint64_t>(validity->data());
          break;
        case 4:
          ZeroNullSlots<uint32_t>(validity->data());
          break;
        case 2:
          ZeroNullSlots<uint16_t>(validity->data());
          break;
        case 1:
          ZeroNullSlots<uint8_t>(validity->data());
          break;
        default:
          for (int64_t row = 0; row < rows; ++row) {
            if (!arrow::bit_util::GetBit(validity->data(), row)) {
              std::memset(values->mutable_data() + row * byte_width, 0,
                          static_cast<size_t>(byte_width));
            }
          }
      }
    }
    return arrow::MakeArray(
        arrow::ArrayData::Make(type, rows, {nulls > 0 ? validity : nullptr, values}, nulls));
  }
};

}  // namespace

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
      DirectColumn& column = direct[f].emplace();
      column.byte_width = type->byte_width();
      column.rows = num_rows;
      ARROW_ASSIGN_OR_RAISE(column.values, arrow::AllocateBuffer(num_rows * type->byte_width()));
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
  MatchedRows matched;
  if (!direct_columns.empty()) {
    ARROW_ASSIGN_OR_RAISE(matched, FindMatchedRows(matches));
  }
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
          ARROW_ASSIGN_OR_RAISE(placed, direct[f]->Finish(output_types[f], matched));
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
}  // namespace headwater::offline
