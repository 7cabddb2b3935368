#include "headwater/registry/definitions.h"

#include <algorithm>

namespace headwater::registry {
namespace {

template <typename T>
const T* FindByName(const std::vector<T>& objects, std::string_view name) {
  auto it = std::find_if(objects.begin(), objects.end(),
                         [&](const T& object) { return object.name == name; });
  return it == objects.end() ? nullptr : &*it;
}

}  // namespace

Status CheckName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength && name[0] != '-';
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-');
  }
  if (ok) return Status::OK();
  return Status::Invalid("name '", name, "' must be 1 to ", kMaxNameLength,
                         " letters, digits, '_' or '-', not starting with '-'");
}

std::string SourceLocation::ToString() const {
  if (file.empty()) return "";
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

std::string DataSource::ColumnFor(const std::string& name) const {
  for (const auto& [from, to] : field_mapping) {
    if (to == name) return from;
  }
  return name;
}

const Field* FeatureView::FindFeature(std::string_view feature) const {
  return FindByName(features, feature);
}

const Entity* Definitions::FindEntity(std::string_view name) const {
  return FindByName(entities, name);
}
const DataSource* Definitions::FindSource(std::string_view name) const {
  return FindByName(sources, name);
}
const FeatureView* Definitions::FindFeatureView(std::string_view name) const {
  return FindByName(feature_views, name);
}
const FeatureService* Definitions::FindFeatureService(std::string_view name) const {
  return FindByName(feature_services, name);
}

const OnDemandFeatureView* Definitions::FindOnDemandFeatureView(std::string_view name) const {
  return FindByName(on_demand_feature_views, name);
}

const Field* OnDemandFeatureView::FindFeature(std::string_view feature) const {
  for (const Field& field : features) {
    if (field.name == feature) return &field;
  }
  return nullptr;
}

namespace {

template <typename T>
void MergeByName(std::vector<T> from, std::vector<T>* into) {
  for (T& object : from) {
    auto same = std::find_if(into->begin(), into->end(),
                             [&](const T& existing) { return existing.name == object.name; });
    if (same != into->end()) {
      *same = std::move(object);
    } else {
      into->push_back(std::move(object));
    }
  }
}

}  // namespace

void Definitions::Merge(Definitions other) {
  MergeByName(std::move(other.entities), &entities);
  MergeByName(std::move(other.sources), &sources);
  MergeByName(std::move(other.feature_views), &feature_views);
  MergeByName(std::move(other.feature_services), &feature_services);
  MergeByName(std::move(other.on_demand_feature_views), &on_demand_feature_views);
}

const DataSource* Definitions::BatchSourceOf(const FeatureView& view) const {
  if (view.is_stream()) return &view.windows;
  return EventSourceOf(view);
}

const DataSource* Definitions::EventSourceOf(const FeatureView& view) const {
  const DataSource* source = FindSource(view.source);
  if (source != nullptr &&
      (source->type == SourceType::kPush || source->type == SourceType::kKafka))
    source = FindSource(source->batch_source);
  return source != nullptr && source->type == SourceType::kFile ? source : nullptr;
}

std::string_view SourceTypeName(SourceType type) {
  switch (type) {
    case SourceType::kFile:
      return "file";
    case SourceType::kPush:
      return "push";
    case SourceType::kKafka:
      return "kafka";
    case SourceType::kRequest:
      return "request";
  }
  return "file";
}

}  // namespace headwater::registry
