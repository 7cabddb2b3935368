#pragma once
// The online read path: the features of entity rows, with Feast's statuses, as Arrow. Renderings
// (Feast's JSON in the server, Python lists in the package) belong to the adapters.

#include <arrow/type_fwd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "headwater/engine/on_demand.h"
#include "headwater/online/feature_row_codec.h"
#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"

namespace headwater::online {

/// What the read path needs from the registry, indexed once per registry version so a request
/// does only hash lookups.
class OnlineCatalog {
  // Lookups by string_view, without building a string per request.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  template <typename T>
  using ByName = std::unordered_map<std::string, T, NameHash, std::equal_to<>>;

 public:
  struct View {
    std::string name;
    std::vector<FeatureType> schema;  // the view's features, in stored order
    ByName<size_t> feature_index;
    std::vector<std::string> join_keys;  // in the view's entity order
    std::vector<ScalarKind> key_kinds;
    Duration ttl;
  };
  /// An on-demand view, compiled, with where each of its inputs is read from.
  /// An on-demand view. One with write_to_online_store is also a View of its stored values,
  /// keyed and timed like its source, which reads use.
  struct OnDemandView {
    struct Input {
      engine::OnDemandInput::Kind kind;
      const View* view = nullptr;  // kFeature, kEventTimestamp
      size_t index = 0;            // kFeature: the feature in `view`
      std::string field;           // kRequestField: the request value's name
    };
    engine::CompiledOnDemandView compiled;
    std::vector<Input> inputs;  // per compiled input
    ByName<size_t> feature_index;
    std::vector<const View*> source_views;                                 // distinct, in order
    std::vector<std::pair<std::string, engine::ExprType>> request_fields;  // distinct
  };
  /// A requested feature: a view and the index of one of its features, or (with `on_demand`
  /// set and `view` null) an on-demand view and the index of one of its features.
  struct Feature {
    const View* view;
    size_t index;
    std::string_view name;  // the feature's own name (the catalog's)
    const OnDemandView* on_demand = nullptr;

    std::string_view view_name() const { return on_demand ? on_demand->compiled.name : view->name; }
    const FeatureType& type() const {
      return on_demand ? on_demand->compiled.features[index].dtype : view->schema[index];
    }
  };

  static Result<std::shared_ptr<const OnlineCatalog>> Make(
      const registry::Definitions& definitions);

  const View* FindView(std::string_view name) const;
  const OnDemandView* FindOnDemandView(std::string_view name) const;
  /// Resolves "view:feature" references; errors name the reference.
  Result<std::vector<Feature>> ResolveReferences(const std::vector<std::string>& references) const;
  /// A feature service's features, resolved when the catalog was made.
  Result<std::vector<Feature>> ResolveService(const std::string& name) const;

 private:
  ByName<View> views_;
  ByName<OnDemandView> on_demand_views_;
  ByName<std::vector<std::string>> services_;  // name -> references
};

/// One column of the entity rows of an online read, as given: integers (of any width), strings
/// or bytes — join keys — and doubles, booleans and times — request values of on-demand views —
/// each row valid or null. Strings point into the caller's memory (a parsed JSON body, Arrow
/// arrays), which must outlive the read. Columns of other types (kOther) are carried for the
/// caller to echo and are never read.
struct EntityColumn {
  enum class Kind : uint8_t { kInt, kString, kBytes, kDouble, kBool, kTime, kOther };
  std::string_view name;
  Kind kind = Kind::kOther;
  std::string other_type;                 // kOther: the type's name, for messages
  std::vector<int64_t> ints;              // kInt, kBool (0 or 1), kTime (UTC microseconds)
  std::vector<double> doubles;            // kDouble
  std::vector<std::string_view> strings;  // kString, kBytes
  std::vector<uint8_t> valid;             // per row; empty when no row is null

  bool IsValid(size_t row) const { return kind != Kind::kOther && (valid.empty() || valid[row]); }
};

/// The entity rows of an online read: one column per name, all num_rows long.
struct EntityRows {
  int64_t num_rows = 0;
  std::vector<EntityColumn> columns;

  const EntityColumn* Find(std::string_view name) const;
};

/// Arrow columns as entity rows: integers widened, floats as doubles, strings and bytes viewed
/// in place, booleans, timestamps as UTC microseconds, other types kOther. `batch` must outlive
/// the rows.
EntityRows EntityRowsFromArrow(const arrow::RecordBatch& batch);

/// Feast's statuses of an online value.
enum class FeatureStatus : uint8_t {
  kPresent = 0,
  kNullValue = 1,     // the key has a row, the feature is null (or NaN/infinite)
  kNotFound = 2,      // no row for the key
  kOutsideMaxAge = 3  // the row is older than now - ttl (ttl 0 never expires)
};
/// "PRESENT", "NULL_VALUE", "NOT_FOUND" or "OUTSIDE_MAX_AGE".
std::string_view FeatureStatusName(FeatureStatus status);

/// An online read's answer: for each requested feature and entity row, Feast's status, the
/// event time of the stored row it came from, and its value — by type (Visit), or all of it as
/// Arrow (ToArrow). Renderings (the server's JSON, Python lists) are the adapters'; reading
/// values by type lets the server render a small answer without building Arrow arrays first.
/// An on-demand feature is PRESENT when its expression gives a value and NULL_VALUE when it
/// gives null; its event time is the newest of the stored rows its inputs came from (0 when it
/// read none).
class OnlineFeatures {
 public:
  int64_t num_rows() const { return num_rows_; }
  /// The requested features' output names, in request order (`feature` or `view__feature`).
  const std::vector<std::string>& feature_names() const { return names_; }
  /// The declared type of requested feature `feature`.
  const FeatureType& feature_type(size_t feature) const { return features_[feature].type(); }
  FeatureStatus status(size_t feature, int64_t row) const;
  /// The event time of the stored row feature `feature` of `row` came from; 0 when none.
  Timestamp event_time(size_t feature, int64_t row) const;
  /// Hands the value to `visitor`: Null unless the status is PRESENT.
  void Visit(size_t feature, int64_t row, ValueVisitor* visitor) const;
  /// `entities` (the rows read, as Arrow; those it Echoes), then one column per feature of its
  /// Arrow type, null unless PRESENT.
  Result<std::shared_ptr<arrow::RecordBatch>> ToArrow(const arrow::RecordBatch& entities) const;
  /// Whether an entity column belongs in the answer: join keys and other columns do; the request
  /// values of the on-demand views read do not (as in Feast's answers).
  bool Echoes(std::string_view column) const {
    return std::find(request_values_.begin(), request_values_.end(), column) ==
           request_values_.end();
  }
  /// How long the one store call took, for metrics.
  double store_read_seconds() const { return store_read_seconds_; }
  /// Keeps `owner` — what the features point into, the catalog's registry snapshot — alive as
  /// long as this answer.
  void KeepAlive(std::shared_ptr<const void> owner) { owner_ = std::move(owner); }

 private:
  friend Result<OnlineFeatures> ReadOnlineFeatures(OnlineStore*,
                                                   const std::vector<OnlineCatalog::Feature>&,
                                                   const EntityRows&, bool, Timestamp);
  // Evaluates the requested on-demand features over the rows read from `views` and the
  // request values in `entities`.
  Status EvaluateOnDemand(const std::vector<const OnlineCatalog::View*>& views,
                          const EntityRows& entities);
  // The stored row of feature `feature` at `row`: views are read view-major.
  size_t Slot(size_t feature, int64_t row) const {
    return view_of_[feature] * static_cast<size_t>(num_rows_) + static_cast<size_t>(row);
  }

  std::shared_ptr<const void> owner_;
  std::vector<OnlineCatalog::Feature> features_;
  std::vector<std::string> names_;
  std::vector<size_t> view_of_;  // per feature, its view's index among the views read
  int64_t num_rows_ = 0;
  Timestamp now_;
  std::vector<std::string> values_;  // per (view, row), the stored bytes
  std::vector<uint8_t> found_;
  std::vector<FeatureRowReader> rows_;
  // Per feature: an on-demand feature's values (empty for stored features), and the index into
  // computed_times_ (per on-demand view read: its rows' newest event time per row).
  std::vector<engine::ExprColumn> computed_;
  std::vector<size_t> times_of_;
  std::vector<std::vector<int64_t>> computed_times_;
  std::vector<std::string_view> request_values_;  // the fields of the request sources read
  double store_read_seconds_ = 0;
};

/// The stored values of an on-demand view with write_to_online_store, computed from rows of its
/// one source view (`source_values`, each in the source's stored layout): one value per row in
/// the view's layout, with its source row's event and created times, appended to `out`. `now`
/// is what now() gives.
Status ComputeStoredValues(const OnlineCatalog::OnDemandView& view,
                           const std::vector<std::string_view>& source_values, Timestamp now,
                           ByteRows* out);

/// Reads `features` for `entities` (a column per join key and per request value; other columns
/// are ignored) with one store call, and evaluates the on-demand ones over what it read. Invalid
/// for a missing join key a requested view needs (never a partial match), a missing request
/// value an on-demand view needs, or a column of the wrong kind. Rows with a null key part are
/// NOT_FOUND; a null request value is a null input.
Result<OnlineFeatures> ReadOnlineFeatures(OnlineStore* store,
                                          const std::vector<OnlineCatalog::Feature>& features,
                                          const EntityRows& entities, bool full_feature_names,
                                          Timestamp now);

}  // namespace headwater::online
