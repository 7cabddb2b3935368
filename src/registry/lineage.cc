#include "headwater/registry/lineage.h"

namespace headwater::registry {

Lineage LineageOf(const Definitions& d) {
  Lineage out;
  for (const auto& entity : d.entities) out.nodes.push_back({"entity", entity.name});
  for (const auto& source : d.sources) out.nodes.push_back({"data_source", source.name});
  for (const auto& view : d.feature_views) out.nodes.push_back({"feature_view", view.name});
  for (const auto& view : d.on_demand_feature_views) {
    out.nodes.push_back({"on_demand_feature_view", view.name});
  }
  for (const auto& service : d.feature_services) {
    out.nodes.push_back({"feature_service", service.name});
  }
  // The id of the view a projection names (plain or on-demand), or "" when there is none.
  auto view_id = [&](const std::string& name) -> std::string {
    if (d.FindFeatureView(name) != nullptr) return LineageNode{"feature_view", name}.id();
    if (d.FindOnDemandFeatureView(name) != nullptr) {
      return LineageNode{"on_demand_feature_view", name}.id();
    }
    return "";
  };
  auto source_id = [&](const std::string& name) -> std::string {
    return d.FindSource(name) != nullptr ? LineageNode{"data_source", name}.id() : "";
  };
  auto add = [&](const std::string& from, const std::string& to) {
    if (!from.empty() && !to.empty()) out.edges.push_back({from, to});
  };
  for (const auto& source : d.sources) {
    if (!source.batch_source.empty()) {
      add(source_id(source.batch_source), LineageNode{"data_source", source.name}.id());
    }
  }
  for (const auto& view : d.feature_views) {
    const std::string id = LineageNode{"feature_view", view.name}.id();
    for (const auto& entity : view.entities) {
      if (d.FindEntity(entity) != nullptr) add(LineageNode{"entity", entity}.id(), id);
    }
    add(source_id(view.source), id);
  }
  for (const auto& view : d.on_demand_feature_views) {
    const std::string id = LineageNode{"on_demand_feature_view", view.name}.id();
    for (const auto& projection : view.sources) {
      const std::string from = view_id(projection.view);
      add(from.empty() ? source_id(projection.view) : from, id);  // request sources
    }
  }
  for (const auto& service : d.feature_services) {
    for (const auto& projection : service.features) {
      add(view_id(projection.view), LineageNode{"feature_service", service.name}.id());
    }
  }
  return out;
}

}  // namespace headwater::registry
