#include "headwater/store/feature_store.h"

#include <algorithm>

#include "headwater/registry/feature_reference.h"

// The read path of serving: a selection of features resolved against the registry, then read
// from the online store. Writes stay in feature_store.cc with the ledger and the pipelines.

namespace headwater::store {

Result<std::vector<online::OnlineCatalog::Feature>> FeatureStore::Resolve(
    const Snapshot& snapshot, const FeatureSelection& features) {
  ARROW_RETURN_NOT_OK(registry::CheckFeatureSelection(features.references, features.service));
  return features.service.empty() ? snapshot.catalog->ResolveReferences(features.references)
                                  : snapshot.catalog->ResolveService(features.service);
}

Result<OnlineSelection> FeatureStore::SelectOnline(const FeatureSelection& features) {
  ARROW_ASSIGN_OR_RAISE(auto snapshot, Applied());
  // A model asks for the same features call after call: the last selection resolved on this
  // thread is reused while the registry snapshot is the same one (it holds that snapshot, so
  // its address cannot be another's).
  thread_local FeatureSelection last_features;
  thread_local OnlineSelection last;
  if (last.snapshot == snapshot && last_features.service == features.service &&
      last_features.references == features.references) {
    return last;
  }
  OnlineSelection selection;
  selection.snapshot = std::move(snapshot);
  ARROW_ASSIGN_OR_RAISE(selection.features, Resolve(*selection.snapshot, features));
  std::vector<const online::OnlineCatalog::View*> keyed;
  auto add_keys = [&](const online::OnlineCatalog::View& view) {
    if (std::find(keyed.begin(), keyed.end(), &view) != keyed.end()) return;
    keyed.push_back(&view);
    for (size_t k = 0; k < view.join_keys.size(); ++k) {
      // Integer keys of either width compare alike: read them as Int64.
      ScalarKind kind = view.key_kinds[k];
      if (kind == ScalarKind::kInt32) kind = ScalarKind::kInt64;
      selection.column_types.emplace(view.join_keys[k], FeatureType{kind, false});
    }
  };
  std::vector<const online::OnlineCatalog::OnDemandView*> seen;
  for (const auto& feature : selection.features) {
    if (feature.on_demand == nullptr) {
      add_keys(*feature.view);
      continue;
    }
    if (std::find(seen.begin(), seen.end(), feature.on_demand) != seen.end()) continue;
    seen.push_back(feature.on_demand);
    for (const auto* view : feature.on_demand->source_views) add_keys(*view);
    static constexpr ScalarKind kKinds[] = {ScalarKind::kBool, ScalarKind::kInt64,
                                            ScalarKind::kFloat64, ScalarKind::kString,
                                            ScalarKind::kUnixTimestamp};
    for (const auto& [field, type] : feature.on_demand->request_fields) {
      selection.column_types.emplace(field, FeatureType{kKinds[static_cast<int>(type)], false});
    }
  }
  last_features = features;
  last = selection;
  return selection;
}

Result<online::OnlineFeatures> FeatureStore::GetOnlineFeatures(const online::EntityRows& entities,
                                                               OnlineSelection selection,
                                                               bool full_feature_names) {
  ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/false));
  ARROW_ASSIGN_OR_RAISE(auto read,
                        online::ReadOnlineFeatures(online.get(), selection.features, entities,
                                                   full_feature_names, clock_->Now()));
  read.KeepAlive(std::move(selection.snapshot));
  return read;
}

Result<std::shared_ptr<arrow::RecordBatch>> FeatureStore::GetOnlineFeatures(
    const arrow::RecordBatch& entities, const FeatureSelection& features, bool full_feature_names) {
  ARROW_ASSIGN_OR_RAISE(auto selection, SelectOnline(features));
  ARROW_ASSIGN_OR_RAISE(auto read, GetOnlineFeatures(online::EntityRowsFromArrow(entities),
                                                     std::move(selection), full_feature_names));
  return read.ToArrow(entities);
}

Status FeatureStore::PingOnline() {
  ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/false));
  return online->Ping();
}

Result<std::optional<Timestamp>> FeatureStore::NewestOnlineEventTime(const std::string& view) {
  ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/false));
  return online::NewestEventTime(*online.get(), view);
}

Status FeatureStore::ScanOnline(
    const std::string& view, const std::function<void(std::string_view, std::string_view)>& visit) {
  ARROW_ASSIGN_OR_RAISE(auto current, Applied());
  if (current->catalog->FindView(view) == nullptr) {
    return NotFound(Missing::kFeatureView, "unknown feature view '", view, "'");
  }
  ARROW_ASSIGN_OR_RAISE(auto online, UseOnline(/*write=*/false));
  return online->Scan(view, visit);
}

}  // namespace headwater::store
