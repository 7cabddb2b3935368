#pragma once
// What applying one set of definitions over another changes (`plan`, `apply`).

#include <string>
#include <vector>

#include "headwater/registry/definitions.h"

namespace headwater::registry {

/// One difference between two sets of definitions.
struct Change {
  enum class Kind { kAdd, kUpdate, kDelete };
  Kind kind;
  /// "entity", "data_source", "feature_view" or "feature_service".
  std::string object_type;
  std::string name;
  /// For updates, the fields that differ.
  std::vector<std::string> fields;
};

/// What applying `after` over `before` changes, objects in definition order, deletions last.
std::vector<Change> Diff(const Definitions& before, const Definitions& after);

/// One line per change: "+ feature_view driver_stats", "~ entity driver (description)".
std::string FormatChanges(const std::vector<Change>& changes);

/// The online store's tables after and before a change of definitions: one per online feature
/// view and per on-demand view with write_to_online_store. `drop` lists the tables whose values
/// no longer hold — gone, no longer online, features changed, or (for on-demand views) any
/// change to how they are computed.
struct OnlineTableChanges {
  std::vector<std::string> create;
  std::vector<std::string> drop;
};
OnlineTableChanges ChangedOnlineTables(const Definitions& before, const Definitions& after);

}  // namespace headwater::registry
