#include "yaml_reader.h"

#include <charconv>

namespace headwater::registry {

SourceLocation YamlReader::Location(const YAML::Node& node) const {
  return SourceLocation{file_, node.Mark().is_null() ? 0 : node.Mark().line + 1};
}

Status YamlReader::Error(const YAML::Node& node, std::string_view message) const {
  std::string where = Location(node).ToString();
  if (!context_.empty()) return Status::Invalid(where, ": ", context_, ": ", message);
  return Status::Invalid(where, ": ", message);
}

Status YamlReader::CheckKeys(const YAML::Node& map,
                             std::initializer_list<std::string_view> known) const {
  if (!map.IsMap()) return Error(map, "expected a mapping of field: value");
  for (const auto& entry : map) {
    std::string key = entry.first.Scalar();
    bool found = false;
    for (std::string_view k : known) found = found || k == key;
    if (!found) {
      std::string list;
      for (std::string_view k : known) {
        if (!list.empty()) list += ", ";
        list += k;
      }
      return Error(entry.first, "unknown field '" + key + "' (known fields: " + list + ")");
    }
  }
  return Status::OK();
}

Status YamlReader::Scalar(const YAML::Node& node, std::string_view what, std::string* out) const {
  if (!node.IsScalar()) {
    return Error(node, std::string(what) + " must be a single value, not a list or mapping");
  }
  *out = node.Scalar();
  return Status::OK();
}

Status YamlReader::RequiredString(const YAML::Node& map, const char* key, std::string* out) const {
  YAML::Node node = map[key];
  if (!node || node.IsNull())
    return Error(map, std::string("missing required field '") + key + "'");
  ARROW_RETURN_NOT_OK(Scalar(node, std::string("'") + key + "'", out));
  if (out->empty()) return Error(node, std::string("'") + key + "' must not be empty");
  return Status::OK();
}

Status YamlReader::OptionalString(const YAML::Node& map, const char* key, std::string* out) const {
  YAML::Node node = map[key];
  if (!node || node.IsNull()) return Status::OK();
  return Scalar(node, std::string("'") + key + "'", out);
}

Status YamlReader::OptionalBool(const YAML::Node& map, const char* key, bool* out) const {
  YAML::Node node = map[key];
  if (!node || node.IsNull()) return Status::OK();
  std::string text;
  ARROW_RETURN_NOT_OK(Scalar(node, std::string("'") + key + "'", &text));
  if (text == "true" || text == "True" || text == "yes") {
    *out = true;
  } else if (text == "false" || text == "False" || text == "no") {
    *out = false;
  } else {
    return Error(node, std::string("'") + key + "' must be true or false, not '" + text + "'");
  }
  return Status::OK();
}

Status YamlReader::OptionalInt(const YAML::Node& map, const char* key, int64_t* out) const {
  YAML::Node node = map[key];
  if (!node || node.IsNull()) return Status::OK();
  std::string text;
  ARROW_RETURN_NOT_OK(Scalar(node, std::string("'") + key + "'", &text));
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Error(node, std::string("'") + key + "' must be an integer, not '" + text + "'");
  }
  return Status::OK();
}

Status YamlReader::OptionalStringMap(const YAML::Node& map, const char* key,
                                     std::map<std::string, std::string>* out) const {
  YAML::Node node = map[key];
  if (!node || node.IsNull()) return Status::OK();
  if (!node.IsMap()) return Error(node, std::string("'") + key + "' must be a mapping");
  for (const auto& entry : node) {
    std::string value;
    ARROW_RETURN_NOT_OK(Scalar(entry.second, std::string(key) + " value", &value));
    (*out)[entry.first.Scalar()] = value;
  }
  return Status::OK();
}

Status YamlReader::OptionalStringList(const YAML::Node& map, const char* key,
                                      std::vector<std::string>* out) const {
  YAML::Node node = map[key];
  if (!node || node.IsNull()) return Status::OK();
  if (node.IsScalar()) {
    out->push_back(node.Scalar());
    return Status::OK();
  }
  if (!node.IsSequence()) return Error(node, std::string("'") + key + "' must be a list");
  for (const auto& element : node) {
    std::string value;
    ARROW_RETURN_NOT_OK(Scalar(element, std::string("an element of '") + key + "'", &value));
    out->push_back(std::move(value));
  }
  return Status::OK();
}

Status YamlReader::ForEach(const YAML::Node& map, const char* key,
                           const std::function<Status(const YAML::Node&)>& visit) const {
  YAML::Node node = map[key];
  if (!node || node.IsNull()) return Status::OK();
  if (!node.IsSequence()) return Error(node, std::string("'") + key + "' must be a list");
  for (const auto& element : node) ARROW_RETURN_NOT_OK(visit(element));
  return Status::OK();
}

Result<YAML::Node> ParseYaml(const std::string& text, const std::string& file_name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& error) {
    return Status::Invalid(file_name, ":", error.mark.line + 1, ":", error.mark.column + 1,
                           ": invalid YAML: ", error.msg);
  }
}

}  // namespace headwater::registry
