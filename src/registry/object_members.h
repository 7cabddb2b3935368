#pragma once
// Each registry object as (member, compact JSON value) pairs, in a fixed order: the one
// description of an object's fields that the registry file (registry_codec) and the diff of
// `plan`/`apply` (registry_diff) both use, so they cannot disagree on what an object holds.

#include <string>
#include <utility>
#include <vector>

#include "headwater/registry/definitions.h"

namespace headwater::registry {

using Members = std::vector<std::pair<std::string, std::string>>;

Members EntityMembers(const Entity& entity);
Members SourceMembers(const DataSource& source);
Members FeatureViewMembers(const FeatureView& view);
Members FeatureServiceMembers(const FeatureService& service);
Members OnDemandFeatureViewMembers(const OnDemandFeatureView& view);

}  // namespace headwater::registry
