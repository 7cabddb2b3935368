#pragma once
// Turning a request's feature list ("view:feature", or a feature service) into projections.

#include <string>
#include <string_view>
#include <vector>

#include "headwater/registry/definitions.h"

namespace headwater::registry {

/// A reference split at its colon: views into the reference text.
struct FeatureReference {
  std::string_view view;
  std::string_view feature;
};

/// Splits "view:feature"; Invalid, naming the reference, when either part is missing.
Result<FeatureReference> SplitFeatureReference(std::string_view reference);

/// Resolves "view:feature" references. The result has one projection per view, in order of first
/// mention, each listing its features explicitly in request order. Unknown views or features and
/// references without a colon are errors naming the reference; a repeated reference is kept once.
Result<std::vector<FeatureViewProjection>> ResolveFeatureReferences(
    const Definitions& definitions, const std::vector<std::string>& references);

/// Resolves a feature service into explicit projections (all features where it lists a view).
Result<std::vector<FeatureViewProjection>> ResolveFeatureService(const Definitions& definitions,
                                                                 const std::string& name);

/// Invalid unless exactly one of `references` and `service` is given: every read selects its
/// features one way or the other.
Status CheckFeatureSelection(const std::vector<std::string>& references,
                             const std::string& service);

/// `references` or `service`, whichever is given (CheckFeatureSelection), resolved.
Result<std::vector<FeatureViewProjection>> ResolveFeatureSelection(
    const Definitions& definitions, const std::vector<std::string>& references,
    const std::string& service);

/// The output column name of a feature: "feature", or "view__feature" with full names.
std::string FeatureColumnName(std::string_view view, std::string_view feature,
                              bool full_feature_names);

}  // namespace headwater::registry
