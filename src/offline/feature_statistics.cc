#include "headwater/offline/feature_statistics.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>

#include "headwater/engine/parallel_for.h"
#include "headwater/offline/parquet_dataset.h"
#include "headwater/registry/source_schema.h"

namespace headwater::offline {
namespace {

bool IsNumber(FeatureType type) {
  if (type.is_array) return false;
  switch (type.kind) {
    case ScalarKind::kInt32:
    case ScalarKind::kInt64:
    case ScalarKind::kFloat32:
    case ScalarKind::kFloat64:
    case ScalarKind::kBool:
    case ScalarKind::kUnixTimestamp:
      return true;
    default:
      return false;
  }
}

// A column of a number feature as doubles (timestamps as epoch microseconds).
Result<std::shared_ptr<arrow::DoubleArray>> AsDoubles(const std::shared_ptr<arrow::Array>& column) {
  arrow::Datum value(column);
  if (column->type_id() == arrow::Type::TIMESTAMP) {
    const auto& type = static_cast<const arrow::TimestampType&>(*column->type());
    ARROW_ASSIGN_OR_RAISE(
        value, arrow::compute::Cast(value, arrow::compute::CastOptions::Unsafe(arrow::timestamp(
                                               arrow::TimeUnit::MICRO, type.timezone()))));
    ARROW_ASSIGN_OR_RAISE(value, arrow::compute::Cast(value, arrow::int64()));
  }
  ARROW_ASSIGN_OR_RAISE(value, arrow::compute::Cast(value, arrow::float64()));
  return std::static_pointer_cast<arrow::DoubleArray>(value.make_array());
}

// One worker's partial results for one feature.
struct Partial {
  int64_t count = 0, nulls = 0, numbers = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  std::vector<int64_t> bins;
};

}  // namespace

Result<ViewStatistics> ComputeFeatureStatistics(const registry::RepoConfig& config,
                                                const registry::Definitions& definitions,
                                                const registry::FeatureView& view,
                                                const StatisticsOptions& options) {
  const registry::DataSource* source = definitions.BatchSourceOf(view);
  if (source == nullptr) {
    return Status::KeyError("feature view '", view.name, "' has no batch source");
  }
  ViewStatistics out;
  out.view = view.name;
  for (const auto& field : view.features) out.features.push_back({field.name, field.dtype});
  const auto resolved = config.Resolve(source->path);
  if (source->path.empty() || !std::filesystem::exists(resolved)) return out;  // nothing yet
  ARROW_ASSIGN_OR_RAISE(auto files, registry::ListSourceFiles(resolved));
  if (files.empty()) return out;
  ARROW_ASSIGN_OR_RAISE(auto dataset, ParquetDataset::Open(std::move(files)));
  std::vector<std::string> columns;
  for (const auto& field : view.features) {
    columns.push_back(source->ColumnFor(field.name));
    if (dataset.schema()->GetFieldByName(columns.back()) == nullptr) {
      return Status::KeyError("data source '", source->name, "' has no column '", columns.back(),
                              "' (feature '", field.name, "' of view '", view.name, "')");
    }
  }
  out.rows = dataset.num_rows();
  out.row_groups = static_cast<int64_t>(dataset.row_groups().size());
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t n = view.features.size();
  const bool any_number = std::any_of(out.features.begin(), out.features.end(),
                                      [](const auto& f) { return IsNumber(f.type); });
  const int64_t tasks = out.row_groups * (any_number ? 2 : 1);
  int64_t done = 0;
  std::mutex reporting;  // the callback is called one at a time (TSan: make tsan)
  auto report = [&] {
    if (!options.progress) return;
    std::lock_guard lock(reporting);
    options.progress(static_cast<double>(++done) / tasks);
  };
  std::vector<std::vector<Partial>> partials(threads, std::vector<Partial>(n));

  // Pass 1: count, nulls, min, max, sum.
  ARROW_RETURN_NOT_OK(engine::ParallelFor(out.row_groups, threads, [&](int64_t task, int worker) {
    ARROW_ASSIGN_OR_RAISE(auto table, dataset.Read(dataset.row_groups()[task], columns));
    for (size_t f = 0; f < n; ++f) {
      Partial& p = partials[worker][f];
      for (const auto& chunk : table->GetColumnByName(columns[f])->chunks()) {
        p.nulls += chunk->null_count();
        p.count += chunk->length() - chunk->null_count();
        if (!IsNumber(out.features[f].type)) continue;
        ARROW_ASSIGN_OR_RAISE(auto values, AsDoubles(chunk));
        for (int64_t i = 0; i < values->length(); ++i) {
          if (values->IsNull(i)) continue;
          const double v = values->Value(i);
          if (std::isnan(v)) continue;
          p.min = std::min(p.min, v);
          p.max = std::max(p.max, v);
          p.sum += v;
          ++p.numbers;
        }
      }
    }
    report();
    return Status::OK();
  }));
  std::vector<Partial> total(n);
  for (const auto& worker : partials) {
    for (size_t f = 0; f < n; ++f) {
      total[f].count += worker[f].count;
      total[f].nulls += worker[f].nulls;
      total[f].numbers += worker[f].numbers;
      total[f].min = std::min(total[f].min, worker[f].min);
      total[f].max = std::max(total[f].max, worker[f].max);
      total[f].sum += worker[f].sum;
    }
  }
  for (size_t f = 0; f < n; ++f) {
    FeatureStatistics& stats = out.features[f];
    stats.count = total[f].count;
    stats.nulls = total[f].nulls;
    if (IsNumber(stats.type) && total[f].numbers > 0) {
      stats.min = total[f].min;
      stats.max = total[f].max;
      stats.mean = total[f].sum / static_cast<double>(total[f].numbers);
      stats.histogram.assign(options.bins, 0);
    }
  }
  if (!any_number) return out;

  // Pass 2: the histograms, bins of equal width over [min, max].
  for (auto& worker : partials) {
    for (size_t f = 0; f < n; ++f) worker[f].bins.assign(out.features[f].histogram.size(), 0);
  }
  ARROW_RETURN_NOT_OK(engine::ParallelFor(out.row_groups, threads, [&](int64_t task, int worker) {
    std::vector<std::string> numeric;
    for (size_t f = 0; f < n; ++f) {
      if (!out.features[f].histogram.empty()) numeric.push_back(columns[f]);
    }
    ARROW_ASSIGN_OR_RAISE(auto table, dataset.Read(dataset.row_groups()[task], numeric));
    for (size_t f = 0; f < n; ++f) {
      const FeatureStatistics& stats = out.features[f];
      if (stats.histogram.empty()) continue;
      const double lo = *stats.min, width = (*stats.max - *stats.min) / options.bins;
      auto& bins = partials[worker][f].bins;
      for (const auto& chunk : table->GetColumnByName(columns[f])->chunks()) {
        ARROW_ASSIGN_OR_RAISE(auto values, AsDoubles(chunk));
        for (int64_t i = 0; i < values->length(); ++i) {
          if (values->IsNull(i) || std::isnan(values->Value(i))) continue;
          int64_t bin = width > 0 ? static_cast<int64_t>((values->Value(i) - lo) / width) : 0;
          ++bins[std::clamp<int64_t>(bin, 0, options.bins - 1)];
        }
      }
    }
    report();
    return Status::OK();
  }));
  for (const auto& worker : partials) {
    for (size_t f = 0; f < n; ++f) {
      for (size_t b = 0; b < worker[f].bins.size(); ++b) {
        out.features[f].histogram[b] += worker[f].bins[b];
      }
    }
  }
  return out;
}

}  // namespace headwater::offline
