#pragma once
// Turning a request's feature list ("view:feature", or a feature service) into projections.

#include <string>
#include <vector>

#include "headwater/registry/definitions.h"

namespace headwater::registry {

/// A reference split at its colon.
struct FeatureReference {
  std::string view;
  std::string feature;
};

/// Splits "view:feature"; Invalid, naming the reference, when either part is missing.
Result<FeatureReference> SplitFeatureReference(const std::string& reference);

/// Resolves "view:feature" references. The result has one projection per view, in order of first
/// mention, each listing its features explicitly in request order. Unknown views or features and
/// references without a colon are errors naming the reference; a repeated reference is kept once.
Result<std::vector<FeatureViewProjection>> ResolveFeatureReferences(
    const Definitions& definitions, const std::vector<std::string>& references);

/// Resolves a feature service into explicit projections (all features where it lists a view).
Result<std::vector<FeatureViewProjection>> ResolveFeatureService(const Definitions& definitions,
                                                                 const std::string& name);

/// The output column name of a feature: "feature", or "view__feature" with full names.
std::string FeatureColumnName(const std::string& view, const std::string& feature,
                              bool full_feature_names);

}  // namespace headwater::registry
