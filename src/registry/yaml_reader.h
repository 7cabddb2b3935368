#pragma once
// Reading YAML nodes with errors that say file:line and what was expected. Private to registry.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "headwater/core/status.h"
#include "headwater/registry/definitions.h"

namespace headwater::registry {

/// Wraps one YAML file and the object being read, so every error carries both.
class YamlReader {
 public:
  explicit YamlReader(std::string file_name) : file_(std::move(file_name)) {}

  /// Names the object errors refer to ("feature_view 'driver_stats'"); empty for top level.
  void SetContext(std::string context) { context_ = std::move(context); }

  /// Status::Invalid("file:line: context: message").
  Status Error(const YAML::Node& node, std::string_view message) const;
  SourceLocation Location(const YAML::Node& node) const;

  /// Fails when `map` is not a mapping or has a key outside `known`, naming the key.
  Status CheckKeys(const YAML::Node& map, std::initializer_list<std::string_view> known) const;

  /// A required scalar string at map[key].
  Status RequiredString(const YAML::Node& map, const char* key, std::string* out) const;
  /// An optional scalar string at map[key]; `out` keeps its value when absent.
  Status OptionalString(const YAML::Node& map, const char* key, std::string* out) const;
  Status OptionalBool(const YAML::Node& map, const char* key, bool* out) const;
  Status OptionalInt(const YAML::Node& map, const char* key, int64_t* out) const;
  /// A mapping of strings to strings (tags, field_mapping).
  Status OptionalStringMap(const YAML::Node& map, const char* key,
                           std::map<std::string, std::string>* out) const;
  /// A sequence of strings, or a single string taken as a one-element list.
  Status OptionalStringList(const YAML::Node& map, const char* key,
                            std::vector<std::string>* out) const;

  /// Calls `visit` for each element of the sequence at map[key] (absent or null: none).
  Status ForEach(const YAML::Node& map, const char* key,
                 const std::function<Status(const YAML::Node&)>& visit) const;

  const std::string& file() const { return file_; }

 private:
  Status Scalar(const YAML::Node& node, std::string_view what, std::string* out) const;

  std::string file_;
  std::string context_;
};

/// Parses text into a YAML node, turning yaml-cpp's exceptions into a Status with file:line.
/// Every YAML input comes through here: at most 16 MiB, nested at most 64 levels, at most a
/// million nodes with aliases expanded, and no key twice in one mapping (file:line of the second).
Result<YAML::Node> ParseYaml(const std::string& text, const std::string& file_name);

}  // namespace headwater::registry
