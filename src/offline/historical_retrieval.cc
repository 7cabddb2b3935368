#include "headwater/offline/historical_retrieval.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <set>
#include <thread>

#include "headwater/core/time.h"
#include "headwater/engine/feature_columns.h"
#include "headwater/engine/on_demand.h"
#include "headwater/engine/point_in_time_join.h"
#include "headwater/offline/parquet_dataset.h"
#include "headwater/registry/feature_reference.h"
#include "headwater/registry/source_schema.h"
#include "view_scan.h"

namespace headwater::offline {
namespace {

using registry::DataSource;
using registry::Definitions;
using registry::FeatureView;
using registry::FeatureViewProjection;

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
                             const arrow::Table& entity_rows, std::span<const int64_t> entity_times,
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
  join.reset();  // the sorted entity rows and candidates go before the gather allocates its output
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
    const arrow::Table& entity_rows, std::span<const int64_t> entity_times,
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
  ARROW_ASSIGN_OR_RAISE(
      auto values, view.Compute(wanted, pointers, entity_rows.num_rows(),
                                std::vector<int64_t>(entity_times.begin(), entity_times.end())));
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
  const std::span<const int64_t> entity_times(times->raw_values(),
                                              static_cast<size_t>(times->length()));

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
