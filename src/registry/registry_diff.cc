#include "headwater/registry/registry_diff.h"

#include <algorithm>

#include "object_members.h"

namespace headwater::registry {
namespace {

template <typename T>
void DiffObjects(const std::vector<T>& before, const std::vector<T>& after, const char* type,
                 Members (*members)(const T&), std::vector<Change>* changes,
                 std::vector<Change>* deletions) {
  for (const T& object : after) {
    auto old = std::find_if(before.begin(), before.end(),
                            [&](const T& o) { return o.name == object.name; });
    if (old == before.end()) {
      changes->push_back({Change::Kind::kAdd, type, object.name, {}});
      continue;
    }
    Members a = members(*old), b = members(object);
    std::vector<std::string> fields;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].second != b[i].second) fields.push_back(a[i].first);
    }
    if (!fields.empty()) changes->push_back({Change::Kind::kUpdate, type, object.name, fields});
  }
  for (const T& object : before) {
    bool kept =
        std::any_of(after.begin(), after.end(), [&](const T& o) { return o.name == object.name; });
    if (!kept) deletions->push_back({Change::Kind::kDelete, type, object.name, {}});
  }
}

}  // namespace

std::vector<Change> Diff(const Definitions& before, const Definitions& after) {
  std::vector<Change> changes, deletions;
  DiffObjects(before.entities, after.entities, "entity", EntityMembers, &changes, &deletions);
  DiffObjects(before.sources, after.sources, "data_source", SourceMembers, &changes, &deletions);
  DiffObjects(before.feature_views, after.feature_views, "feature_view", FeatureViewMembers,
              &changes, &deletions);
  DiffObjects(before.feature_services, after.feature_services, "feature_service",
              FeatureServiceMembers, &changes, &deletions);
  DiffObjects(before.on_demand_feature_views, after.on_demand_feature_views,
              "on_demand_feature_view", OnDemandFeatureViewMembers, &changes, &deletions);
  changes.insert(changes.end(), deletions.begin(), deletions.end());
  return changes;
}

std::string FormatChanges(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& change : changes) {
    char sign = change.kind == Change::Kind::kAdd      ? '+'
                : change.kind == Change::Kind::kUpdate ? '~'
                                                       : '-';
    out += std::string(1, sign) + " " + change.object_type + " " + change.name;
    if (!change.fields.empty()) {
      out += " (";
      for (size_t i = 0; i < change.fields.size(); ++i) out += (i ? ", " : "") + change.fields[i];
      out += ")";
    }
    out += "\n";
  }
  return out;
}

}  // namespace headwater::registry
