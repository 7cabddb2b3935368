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

/// An entity: the thing features describe, identified by one join key column (Feast allows one
/// join key per entity; a composite key is a feature view over several entities).
struct Entity {
  std::string name;
  std::string join_key;
  /// The join key's type. Integers (Int32, Int64), String and Bytes are allowed. Default Int64.
  ScalarKind value_type = ScalarKind::kInt64;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;
};

/// Kinds of data source: Parquet files, or a push source (rows pushed over HTTP) whose history
/// lives in a file source (its `batch_source`). Kafka sources come with streaming.
enum class SourceType { kFile, kPush };

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
  /// Renames source columns: source column name -> feature or join key name.
  std::map<std::string, std::string> field_mapping;
  /// For push sources: the file source (a directory) that holds pushed rows offline.
  std::string batch_source;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;

  /// The source column holding a (mapped) feature or join-key name.
  std::string ColumnFor(const std::string& name) const;
};

/// A named, typed column.
struct Field {
  std::string name;
  FeatureType dtype;
  bool operator==(const Field&) const = default;
};

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
  /// The features. When the definition has no schema, every source column other than the
  /// timestamps and join keys, with its type read from the Parquet file.
  std::vector<Field> features;
  /// True when `features` was inferred from the source rather than declared.
  bool schema_inferred = false;
  std::string owner;
  std::string description;
  Tags tags;
  SourceLocation location;

  /// The feature with this name, or nullptr.
  const Field* FindFeature(std::string_view feature) const;
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

/// All definitions of a repository.
struct Definitions {
  std::vector<Entity> entities;
  std::vector<DataSource> sources;
  std::vector<FeatureView> feature_views;
  std::vector<FeatureService> feature_services;

  const Entity* FindEntity(std::string_view name) const;
  const DataSource* FindSource(std::string_view name) const;
  const FeatureView* FindFeatureView(std::string_view name) const;
  const FeatureService* FindFeatureService(std::string_view name) const;
  /// The file source a view's rows are read from: its source, or a push source's batch source.
  /// Null when either is missing.
  const DataSource* BatchSourceOf(const FeatureView& view) const;
};

/// A time range [start, end) whose latest values were written online.
struct MaterializationInterval {
  Timestamp start;
  Timestamp end;
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
};

}  // namespace headwater::registry
