#include "yaml_reader.h"

#include <yaml-cpp/depthguard.h>

#include <charconv>
#include <unordered_map>
#include <utility>
#include <vector>

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

namespace {

// What a YAML input may be: bounded in size before it is parsed, then in depth and node count
// (aliases let a small file name a huge tree) before anything walks it.
constexpr size_t kMaxYamlBytes = 16 << 20;
constexpr int kMaxYamlDepth = 64;
constexpr size_t kMaxYamlNodes = 1'000'000;

std::string At(const std::string& file_name, const YAML::Mark& mark) {
  return file_name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

Status DeeperThanTheLimit(const std::string& file_name, const YAML::Mark& mark) {
  return Status::Invalid(At(file_name, mark), ": nesting deeper than ", kMaxYamlDepth,
                         " levels (the limit)");
}

// One walk, with an explicit stack: depth and size limits, and no key twice in a mapping
// (yaml-cpp keeps both and lookups see the first, so a repeated key would be silently lost).
Status CheckStructure(const YAML::Node& root, const std::string& file_name) {
  std::vector<std::pair<YAML::Node, int>> stack = {{root, 1}};
  size_t visited = 0;
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    if (++visited > kMaxYamlNodes) {
      return Status::Invalid(file_name, ": more than ", kMaxYamlNodes,
                             " nodes once aliases are expanded (the limit)");
    }
    if (depth > kMaxYamlDepth) return DeeperThanTheLimit(file_name, node.Mark());
    if (node.IsSequence()) {
      for (const auto& element : node) stack.emplace_back(element, depth + 1);
    } else if (node.IsMap()) {
      std::unordered_map<std::string, int> lines;
      for (const auto& entry : node) {
        if (entry.first.IsScalar()) {
          auto [first, inserted] = lines.emplace(entry.first.Scalar(), entry.first.Mark().line + 1);
          if (!inserted) {
            return Status::Invalid(file_name, ":", entry.first.Mark().line + 1, ": duplicate key '",
                                   entry.first.Scalar(), "' (first at line ", first->second, ")");
          }
        } else {
          stack.emplace_back(entry.first, depth + 1);
        }
        stack.emplace_back(entry.second, depth + 1);
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<YAML::Node> ParseYaml(const std::string& text, const std::string& file_name) {
  if (text.size() > kMaxYamlBytes) {
    return Status::Invalid(file_name, ": ", text.size(), " bytes; a YAML file may have at most ",
                           kMaxYamlBytes, " (16 MiB)");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& error) {
    return DeeperThanTheLimit(file_name, error.mark);
  } catch (const YAML::Exception& error) {
    return Status::Invalid(At(file_name, error.mark), ": invalid YAML: ", error.msg);
  }
  ARROW_RETURN_NOT_OK(CheckStructure(root, file_name));
  return root;
}

}  // namespace headwater::registry
