#pragma once
// The online read path: features for entity rows, as Feast's feature-server JSON.
//
//   {"metadata": {"feature_names": ["driver_id", "conv_rate", ...]},
//    "results": [{"values": [...], "statuses": [...], "event_timestamps": [...]}, ...]}
//
// One result per column, entity key columns first (in request order, status PRESENT, time 0),
// then features in request order. Statuses: PRESENT; NULL_VALUE (the row exists, the feature is
// null); NOT_FOUND (no row for the key); OUTSIDE_MAX_AGE (the row's event time is older than
// now - ttl; ttl 0 never expires; value null).

#include <arrow/type_fwd.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "headwater/online/online_store.h"
#include "headwater/registry/definitions.h"

namespace headwater::online {

/// What the read path needs from the registry, indexed once per registry version so a request
/// does only hash lookups.
class OnlineCatalog {
 public:
  struct View {
    std::string name;
    std::vector<FeatureType> schema;  // the view's features, in stored order
    std::unordered_map<std::string, size_t> feature_index;
    std::vector<std::string> join_keys;  // in the view's entity order
    std::vector<ScalarKind> key_kinds;
    Duration ttl;
  };
  /// A requested feature: a view and the index of one of its features.
  struct Feature {
    const View* view;
    size_t index;
    std::string name;  // the feature's own name
  };

  static Result<std::shared_ptr<const OnlineCatalog>> Make(
      const registry::Definitions& definitions);

  const View* FindView(std::string_view name) const;
  /// Resolves "view:feature" references; errors name the reference.
  Result<std::vector<Feature>> ResolveReferences(const std::vector<std::string>& references) const;
  /// A feature service's features, resolved when the catalog was made.
  Result<std::vector<Feature>> ResolveService(const std::string& name) const;

 private:
  std::unordered_map<std::string, View> views_;
  std::unordered_map<std::string, std::vector<std::string>> services_;  // name -> references
};

struct OnlineRequest {
  /// "view:feature" references, or empty when `feature_service` is set.
  std::vector<std::string> features;
  std::string feature_service;
  /// JSON object of join key -> array of values: {"driver_id": [1001, 1002]}. Integer keys take
  /// JSON integers, string and bytes keys take JSON strings.
  std::string entities_json;
  /// Name features "view__feature".
  bool full_feature_names = false;
};

/// Names a JSON value's kind for error messages: "the string \"abc\"", "an integer", "null".
std::string DescribeJson(const rapidjson::Value& value);

/// Limits that keep one request from exhausting the server.
constexpr size_t kMaxEntityRows = 100'000;

/// Reads `features` for the entity rows in `entities` (a JSON object of join key -> array) with
/// one store call and returns the response JSON; the server calls this with its parsed body.
Result<std::string> GetOnlineFeatures(OnlineStore* store,
                                      const std::vector<OnlineCatalog::Feature>& features,
                                      const rapidjson::Value& entities, bool full_feature_names,
                                      Timestamp now);

/// Reads the features of every entity row with one store call and returns the response JSON.
/// Invalid for malformed entities (not an object of equal-length, non-empty arrays; wrong value
/// types), missing join keys a requested view needs (never a partial match), unknown views or
/// features. Entity columns no requested view uses are echoed back as given.
Result<std::string> GetOnlineFeatures(const OnlineCatalog& catalog, OnlineStore* store,
                                      const OnlineRequest& request, Timestamp now);

/// The read path for callers holding Arrow data (the Python package): reads `features` for the
/// rows of `entities` (one column per join key; integer keys of any width, strings, binaries)
/// with one store call. Returns the entity columns as given, then one column per feature, of
/// the feature's Arrow type, null unless the status is PRESENT. Rows with a null key get nulls.
Result<std::shared_ptr<arrow::RecordBatch>> ReadOnlineFeatures(
    OnlineStore* store, const std::vector<OnlineCatalog::Feature>& features,
    const arrow::RecordBatch& entities, bool full_feature_names, Timestamp now);

}  // namespace headwater::online
