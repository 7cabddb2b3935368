#include "headwater/registry/feature_reference.h"

#include <algorithm>

namespace headwater::registry {

Result<FeatureReference> SplitFeatureReference(std::string_view reference) {
  size_t colon = reference.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == reference.size()) {
    return Status::Invalid("feature reference '", reference, "' must have the form view:feature");
  }
  return FeatureReference{reference.substr(0, colon), reference.substr(colon + 1)};
}

Result<std::vector<FeatureViewProjection>> ResolveFeatureReferences(
    const Definitions& definitions, const std::vector<std::string>& references) {
  if (references.empty()) return Status::Invalid("no features requested");
  std::vector<FeatureViewProjection> projections;
  for (const std::string& reference : references) {
    ARROW_ASSIGN_OR_RAISE(auto parts, SplitFeatureReference(reference));
    const std::string view_name(parts.view);
    const std::string feature(parts.feature);
    const FeatureView* view = definitions.FindFeatureView(view_name);
    const OnDemandFeatureView* on_demand =
        view == nullptr ? definitions.FindOnDemandFeatureView(view_name) : nullptr;
    if (view == nullptr && on_demand == nullptr) {
      return NotFound(Missing::kFeatureView, "feature reference '", reference,
                      "': unknown feature view '", view_name, "'");
    }
    if (view != nullptr ? view->FindFeature(feature) == nullptr
                        : on_demand->FindFeature(feature) == nullptr) {
      return NotFound(Missing::kFeature, "feature reference '", reference, "': feature view '",
                      view_name, "' has no feature '", feature, "'");
    }
    auto it = std::find_if(projections.begin(), projections.end(),
                           [&](const FeatureViewProjection& p) { return p.view == view_name; });
    if (it == projections.end()) {
      projections.push_back({view_name, {}});
      it = projections.end() - 1;
    }
    if (std::find(it->features.begin(), it->features.end(), feature) == it->features.end()) {
      it->features.push_back(feature);
    }
  }
  return projections;
}

Result<std::vector<FeatureViewProjection>> ResolveFeatureService(const Definitions& definitions,
                                                                 const std::string& name) {
  const FeatureService* service = definitions.FindFeatureService(name);
  if (service == nullptr)
    return NotFound(Missing::kFeatureService, "unknown feature service '", name, "'");
  std::vector<std::string> references;
  for (const FeatureViewProjection& projection : service->features) {
    const FeatureView* view = definitions.FindFeatureView(projection.view);
    const OnDemandFeatureView* on_demand = definitions.FindOnDemandFeatureView(projection.view);
    if (view == nullptr && on_demand == nullptr) {
      return Status::Invalid("feature service '", name, "' names unknown view '", projection.view,
                             "'; run `headwater apply`");
    }
    if (projection.features.empty()) {
      for (const Field& field : view != nullptr ? view->features : on_demand->features) {
        references.push_back(projection.view + ":" + field.name);
      }
    } else {
      for (const std::string& feature : projection.features) {
        references.push_back(projection.view + ":" + feature);
      }
    }
  }
  return ResolveFeatureReferences(definitions, references);
}

std::string FeatureColumnName(std::string_view view, std::string_view feature,
                              bool full_feature_names) {
  std::string name;
  if (full_feature_names) {
    name.reserve(view.size() + 2 + feature.size());
    name.append(view).append("__");
  }
  name.append(feature);
  return name;
}

Status CheckFeatureSelection(const std::vector<std::string>& references,
                             const std::string& service) {
  if (references.empty() == service.empty()) {
    return Status::Invalid("give either features (a list of view:feature) or a feature service");
  }
  return Status::OK();
}

Result<std::vector<FeatureViewProjection>> ResolveFeatureSelection(
    const Definitions& definitions, const std::vector<std::string>& references,
    const std::string& service) {
  ARROW_RETURN_NOT_OK(CheckFeatureSelection(references, service));
  return service.empty() ? ResolveFeatureReferences(definitions, references)
                         : ResolveFeatureService(definitions, service);
}

}  // namespace headwater::registry
