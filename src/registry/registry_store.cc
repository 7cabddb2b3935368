#include "headwater/registry/registry_store.h"

#include "headwater/core/file.h"
#include "headwater/core/object_store.h"
#include "headwater/registry/loader.h"
#include "headwater/registry/source_schema.h"

namespace headwater::registry {

namespace {

// The registry's bytes and, on S3, their version; exists false when there is no registry yet.
Result<storage::VersionedObject> ReadRegistryBytes(const std::filesystem::path& path) {
  if (storage::IsObjectUri(path)) return storage::ReadVersionedObject(path);
  storage::VersionedObject file;
  std::error_code error;
  if (!std::filesystem::exists(path, error) && !error) return file;
  file.exists = true;
  ARROW_ASSIGN_OR_RAISE(file.bytes, ReadFile(path));
  return file;
}

}  // namespace

Result<Registry> ReadRegistry(const RepoConfig& config) {
  const std::filesystem::path& path = config.registry_path;
  ARROW_ASSIGN_OR_RAISE(auto stored, ReadRegistryBytes(path));
  if (!stored.exists) {
    Registry empty;
    empty.project = config.project;
    return empty;
  }
  ARROW_ASSIGN_OR_RAISE(Registry registry, RegistryFromJson(stored.bytes, path.string()));
  registry.revision = std::move(stored.etag);
  ARROW_RETURN_NOT_OK(UseSourceEndpoints(registry.definitions.sources));
  if (registry.project != config.project) {
    return Status::Invalid("registry ", path.string(), " belongs to project '", registry.project,
                           "', not '", config.project, "'");
  }
  // Derived paths come from the configuration and the (checked) names, never from the file.
  for (FeatureView& view : registry.definitions.feature_views) {
    if (view.is_stream()) {
      ARROW_ASSIGN_OR_RAISE(view.windows, WindowsSource(config, view));
    }
  }
  return registry;
}

Status WriteRegistry(const std::filesystem::path& path, const Registry& registry) {
  if (storage::IsObjectUri(path)) {
    return storage::WriteObjectIfUnchanged(path, RegistryToJson(registry), registry.revision);
  }
  return WriteFileAtomically(path, RegistryToJson(registry));
}

}  // namespace headwater::registry
