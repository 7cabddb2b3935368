#pragma once
// The definition model: what a user declares in a feature repository, resolved and validated.
// Objects are plain values; the registry stores them and every other module reads them.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "headwater/core/time.h"
#include "headwater/core/types.h"

namespace headwater::registry {

/// Where a definition was written, for error messages. Line is 1-based; 0 when unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  /// "file:line", or "file" without a line, or "" when unknown.
  std::string ToString() const;
};

using Tags = std::map<std::string, std::string>;

/// The longest object name CheckName accepts.
constexpr size_t kMaxNameLength = 128;

/// The one rule for the names of objects — entities, sources, feature views, feature services —
/// and of the project: 1 to kMaxNameLength letters, digits, '_' and '-', not starting with '-'
/// (Feast's names, and the dashes some teams use). Names become directory names (a stream view's
/// offline dataset, a source's stream state) and metric labels; the rule keeps both safe, and the
/// registry reader applies it too, so a hand-edited registry cannot break it. Invalid saying what
/// is wrong, quoting the name.
Status CheckName(std::string_view name);

/// An entity: the thing features describe, identified by one join key column (Feast allows one
/// join key per entity; a composite key is a feature view over several entities).
struct Entity {
  std::string name;
  std::string join_key;
  /// The join key's type. Integers (Int32, Int64), String and Bytes are allowed. When omitted,
  /// read at validation from the join key's column in the first view over the entity, as
  /// Feast infers it (Int64 for an entity no view uses).
  ScalarKind value_type = ScalarKind::kInt64;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;
  /// value_type was omitted and is still to be read from the data.
  bool value_type_inferred = false;
};

/// Kinds of data source: Parquet files; a push source (rows pushed over HTTP) or a Kafka topic
/// (JSON messages), both of whose history lives in a file source (their `batch_source`); a
/// request source (Feast's RequestSource): values the caller sends with an online request (in
/// training data, columns of the entity rows), input to on-demand feature views only.
enum class SourceType { kFile, kPush, kKafka, kRequest };

std::string_view SourceTypeName(SourceType type);

/// A named, typed column.
struct Field {
  std::string name;
  FeatureType dtype;
  bool operator==(const Field&) const = default;
};

/// A batch source of feature rows.
struct DataSource {
  std::string name;
  SourceType type = SourceType::kFile;
  /// A Parquet file, or a directory of Parquet files read in name order. Relative paths are
  /// relative to the repository root.
  std::string path;
  /// Column holding each row's event time. Required.
  std::string timestamp_field;
  /// Column holding each row's creation time, used to break ties on event time. Optional ("").
  std::string created_timestamp_column;
  /// For a path on S3: the endpoint serving its bucket ("http://host:port"), Feast's
  /// s3_endpoint_override. Optional (""): the environment's (AWS_ENDPOINT_URL) or AWS itself.
  std::string s3_endpoint_override;
  /// Renames source columns: source column name -> feature or join key name.
  std::map<std::string, std::string> field_mapping;
  /// For push and Kafka sources: the file source that holds the events' history (for a push
  /// source a directory, to which pushed rows are appended). Its columns are the event fields.
  std::string batch_source;
  /// For push and Kafka sources: how far behind the newest event time the watermark trails
  /// (events may arrive this much out of order without being late). Default 0.
  Duration watermark_delay;
  /// For Kafka sources: the brokers ("host:port,..."), the topic, and the message format
  /// (only "json": one object per message whose members are the batch source's columns).
  std::string bootstrap_servers;
  std::string topic;
  std::string format = "json";
  /// For request sources: the values a request carries, by name and type.
  std::vector<Field> schema;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;

  /// The source column holding a (mapped) feature or join-key name.
  std::string ColumnFor(const std::string& name) const;
};

/// One windowed aggregate of a stream feature view (Feast's Aggregation): `function` over
/// `column` in HOP windows of `time_window` ending every `slide_interval`.
struct AggregationDef {
  std::string column;
  /// count, sum, min, max, mean, last or stddev.
  std::string function;
  Duration time_window;
  /// Defaults to time_window (tumbling windows). time_window must be a multiple of it.
  Duration slide_interval;
  /// The feature's name; defaults to {function}_{column}_{window}, e.g. mean_price_5m.
  std::string name;
  bool operator==(const AggregationDef&) const = default;
};

/// The aggregation functions a stream feature view accepts.
inline constexpr std::string_view kAggregationFunctions[] = {"count", "sum",  "min",   "max",
                                                             "mean",  "last", "stddev"};

/// A feature view: features read from one source, keyed by zero or more entities.
struct FeatureView {
  std::string name;
  /// Entity names; their join keys, in this order, form the view's key. Empty: one global row.
  std::vector<std::string> entities;
  /// Values older than this (relative to the entity row's or the read's time) are not served.
  /// Zero means no limit.
  Duration ttl;
  std::string source;
  /// Whether values are served from the online store. Default true.
  bool online = true;
  /// Stream views: whether window rows are also kept offline (for training data). Default true.
  bool offline = true;
  /// The features. When the definition has no schema, every source column other than the
  /// timestamps and join keys, with its type read from the Parquet file.
  std::vector<Field> features;
  /// True when `features` was inferred from the source rather than declared.
  bool schema_inferred = false;
  /// Stream feature views: windowed aggregates of the source's events. Each becomes one
  /// feature (count Int64, the others Float64), in this order; `features` lists them.
  std::vector<AggregationDef> aggregations;
  /// How long after a window's end its late events are still merged. Default 0.
  Duration allowed_lateness;
  /// Stream feature views: where their window rows are kept offline — a file source over a
  /// directory of Parquet files (join keys, event_timestamp, the features). Set by Validate
  /// from offline_store.path.
  DataSource windows;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;

  /// The feature with this name, or nullptr.
  const Field* FindFeature(std::string_view feature) const;
  /// Whether this is a stream feature view (it has aggregations).
  bool is_stream() const { return !aggregations.empty(); }
};

/// A view and some of its features (all of them when `features` is empty).
struct FeatureViewProjection {
  std::string view;
  std::vector<std::string> features;
};

/// A named set of features a model consumes.
struct FeatureService {
  std::string name;
  std::vector<FeatureViewProjection> features;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;
};

/// An on-demand feature view (Feast's): features computed when they are read, from features of
/// other views and values sent with the request, the same way online and in training data.
struct OnDemandFeatureView {
  std::string name;
  /// Feature views (all their features, or those listed) and request sources it reads.
  std::vector<FeatureViewProjection> sources;
  /// Its features, in order.
  std::vector<Field> features;
  /// How they are computed. "expression" (Headwater's native form): one expression per feature
  /// (engine/expression.h) in `expressions`, feature name -> text. "pandas" and "python"
  /// (Feast's): a Python function in `udf` (its source text), run by the Python SDK.
  /// "substrait" (Feast's): a serialized Substrait plan (as Ibis compiles one), base64 in
  /// `substrait_plan`, run by Arrow's Substrait consumer and Acero.
  std::string mode = "expression";
  std::map<std::string, std::string> expressions;
  std::string udf;
  std::string substrait_plan;
  /// Where each expression was written (from definition files; not kept in the registry).
  std::map<std::string, SourceLocation> expression_locations;
  /// Computed when the sources' rows are written and stored like features (Feast's option),
  /// rather than when read. Default false.
  bool write_to_online_store = false;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;

  const Field* FindFeature(std::string_view feature) const;
  /// Whether a Python function computes the features (modes pandas and python).
  bool is_udf() const { return mode == "pandas" || mode == "python"; }
};

/// All definitions of a repository.
struct Definitions {
  std::vector<Entity> entities;
  std::vector<DataSource> sources;
  std::vector<FeatureView> feature_views;
  std::vector<FeatureService> feature_services;
  std::vector<OnDemandFeatureView> on_demand_feature_views;

  const Entity* FindEntity(std::string_view name) const;
  const DataSource* FindSource(std::string_view name) const;
  const FeatureView* FindFeatureView(std::string_view name) const;
  const FeatureService* FindFeatureService(std::string_view name) const;
  const OnDemandFeatureView* FindOnDemandFeatureView(std::string_view name) const;
  /// The file source a view's rows are read from: its source, or a push source's batch source;
  /// for a stream view, its window rows (`windows`). Null when a source is missing.
  const DataSource* BatchSourceOf(const FeatureView& view) const;
  /// The file source holding a view's input events: BatchSourceOf for plain views, the batch
  /// source of a stream view's source (or that source itself when it is a file).
  const DataSource* EventSourceOf(const FeatureView& view) const;
  /// Adds the objects of `other`, each replacing the object of its kind and name if there is one
  /// (Feast's partial apply).
  void Merge(Definitions other);
};

/// A time range [start, end) whose latest values were written online.
struct MaterializationInterval {
  Timestamp start;
  Timestamp end;
  /// When the run finished (processing time), and how many keys it wrote; 0 in registries
  /// written before these were kept.
  Timestamp written_at;
  int64_t keys_written = 0;
};

/// A registry snapshot: the applied definitions of one project and their version.
struct Registry {
  /// Bumped when the stored format changes incompatibly.
  static constexpr int kFormatVersion = 1;
  std::string project;
  /// Incremented by every apply that changes something; 0 for an empty registry.
  int64_t version = 0;
  /// When the registry was last written.
  Timestamp last_updated;
  Definitions definitions;
  /// Per feature view, the intervals materialized into the online store, oldest first. State,
  /// not definition: plan and apply ignore it, except that a view whose online data is dropped
  /// (deleted, or its features changed) loses its intervals.
  std::map<std::string, std::vector<MaterializationInterval>> materializations;
  /// For a registry on S3: the version of the object this was read from (its ETag; empty when
  /// there was none), so writing it back is a compare-and-swap. Not stored.
  std::string revision;
};

}  // namespace headwater::registry
