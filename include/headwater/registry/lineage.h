#pragma once
// The lineage of a repository's objects: which object feeds which, as a graph drawn source ->
// view -> service (the web UI's picture, `GET /api/registry`).

#include <string>
#include <vector>

#include "headwater/registry/definitions.h"

namespace headwater::registry {

struct LineageNode {
  /// entity, data_source, feature_view, on_demand_feature_view or feature_service.
  std::string kind;
  std::string name;
  /// The node's id in edges: "<kind>/<name>".
  std::string id() const { return kind + "/" + name; }
};

struct LineageEdge {
  std::string from, to;  // node ids
};

struct Lineage {
  std::vector<LineageNode> nodes;
  std::vector<LineageEdge> edges;
};

/// Every object as a node; edges from an entity or a source to the feature views over it, from
/// a push or Kafka source's batch source to it, from views and request sources to the on-demand
/// views reading them, and from views to the feature services that serve them. References to
/// objects that do not exist are left out.
Lineage LineageOf(const Definitions& definitions);

}  // namespace headwater::registry
