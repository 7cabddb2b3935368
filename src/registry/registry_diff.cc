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

OnlineTableChanges ChangedOnlineTables(const Definitions& before, const Definitions& after) {
  // How an on-demand view computes: everything but its free-text fields.
  auto computation = [](const OnDemandFeatureView& view) {
    Members members = OnDemandFeatureViewMembers(view);
    std::erase_if(members, [](const auto& member) {
      return member.first == "owner" || member.first == "description" || member.first == "tags";
    });
    return members;
  };
  OnlineTableChanges out;
  for (const auto& view : after.feature_views) {
    if (view.online) out.create.push_back(view.name);
  }
  for (const auto& view : after.on_demand_feature_views) {
    if (view.write_to_online_store) out.create.push_back(view.name);
  }
  for (const auto& old : before.feature_views) {
    const FeatureView* now = after.FindFeatureView(old.name);
    if (old.online && (now == nullptr || !now->online || now->features != old.features)) {
      out.drop.push_back(old.name);
    }
  }
  for (const auto& old : before.on_demand_feature_views) {
    const OnDemandFeatureView* now = after.FindOnDemandFeatureView(old.name);
    if (old.write_to_online_store && (now == nullptr || computation(*now) != computation(old))) {
      out.drop.push_back(old.name);
    }
  }
  return out;
}

}  // namespace headwater::registry
