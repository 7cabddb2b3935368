#include "headwater/registry/repo_config.h"

#include <algorithm>
#include <cstdlib>

#include "headwater/core/file.h"
#include "headwater/core/object_store.h"
#include "headwater/registry/definitions.h"
#include "yaml_reader.h"

namespace headwater::registry {
namespace {

constexpr const char* kConfigFile = "feature_store.yaml";

// Replaces ${NAME} with the environment variable NAME; an unset one is an error with its line.
Result<std::string> SubstituteEnvironment(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  int line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') ++line;
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string::npos) {
        return Status::Invalid(kConfigFile, ":", line, ": unterminated ${ in '", text.substr(i, 20),
                               "'");
      }
      std::string name = text.substr(i + 2, close - i - 2);
      const char* value = std::getenv(name.c_str());
      if (name.empty() || value == nullptr) {
        return Status::Invalid(kConfigFile, ":", line, ": environment variable '", name,
                               "' is not set");
      }
      out += value;
      i = close;
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

// Each section of the file, read into `config`; errors carry file:line from `reader`.

Status ReadSkew(YamlReader& reader, const YAML::Node& root, RepoConfig* config) {
  if (!root["max_event_time_skew"]) return Status::OK();
  std::string text;
  ARROW_RETURN_NOT_OK(reader.OptionalString(root, "max_event_time_skew", &text));
  auto skew = ParseDuration(text);
  if (!skew.ok() || skew->micros < 0) {
    return reader.Error(
        root["max_event_time_skew"],
        "max_event_time_skew must be a duration such as 1h or 0s, not '" + text + "'");
  }
  config->max_event_time_skew = *skew;
  return Status::OK();
}

// `registry: PATH`, or Feast's `registry: {path, registry_type}`.
Status ReadRegistrySection(YamlReader& reader, const YAML::Node& root, RepoConfig* config) {
  std::string registry = "data/registry.json";
  YAML::Node node = root["registry"];
  if (node && node.IsMap()) {
    reader.SetContext("registry");
    ARROW_RETURN_NOT_OK(reader.CheckKeys(node, {"path", "registry_type"}));
    ARROW_RETURN_NOT_OK(reader.RequiredString(node, "path", &registry));
    std::string type = "file";
    ARROW_RETURN_NOT_OK(reader.OptionalString(node, "registry_type", &type));
    if (type != "file") {
      return reader.Error(node["registry_type"],
                          "unknown registry_type '" + type + "' (supported: file)");
    }
    reader.SetContext("");
  } else {
    ARROW_RETURN_NOT_OK(reader.OptionalString(root, "registry", &registry));
  }
  config->registry_path = config->Resolve(registry);
  return Status::OK();
}

Status ReadOnlineStore(YamlReader& reader, const YAML::Node& online, RepoConfig* config) {
  OnlineStoreConfig* store = &config->online_store;
  if (!online || online.IsNull()) return Status::OK();
  reader.SetContext("online_store");
  // Feast's vector-search settings of its sqlite store.
  static constexpr const char* kFeastOnly[] = {
      "vector_enabled", "vector_len", "text_search_enabled", "enable_openai_compatible_store",
      "full_scan_for_deletion"};
  ARROW_RETURN_NOT_OK(reader.CheckKeys(
      online, {"type", "path", "connection_string", "key_ttl_seconds", "redis_type", "memtable_mb",
               "block_cache_mb", "row_cache_mb", kFeastOnly[0], kFeastOnly[1], kFeastOnly[2],
               kFeastOnly[3], kFeastOnly[4]}));
  for (const char* name : kFeastOnly) {
    if (!online[name]) continue;
    config->ignored.push_back(reader.Location(online[name]).ToString() + ": online_store '" + name +
                              "' is Feast's and changes nothing in Headwater: ignored");
  }
  ARROW_RETURN_NOT_OK(reader.OptionalString(online, "type", &store->type));
  if (store->type != "rocksdb" && store->type != "redis" && store->type != "sqlite") {
    return reader.Error(online["type"],
                        "unknown type '" + store->type + "' (supported: rocksdb, sqlite, redis)");
  }
  if (store->type == "sqlite") store->path = "data/online.db";  // Feast's default file
  ARROW_RETURN_NOT_OK(reader.OptionalString(online, "path", &store->path));
  ARROW_RETURN_NOT_OK(
      reader.OptionalString(online, "connection_string", &store->connection_string));
  ARROW_RETURN_NOT_OK(reader.OptionalInt(online, "key_ttl_seconds", &store->key_ttl_seconds));
  ARROW_RETURN_NOT_OK(reader.OptionalString(online, "redis_type", &store->redis_type));
  if (store->redis_type != "redis" && store->redis_type != "redis_cluster") {
    return reader.Error(online["redis_type"], "unknown redis_type '" + store->redis_type +
                                                  "' (supported: redis, redis_cluster)");
  }
  if (store->key_ttl_seconds < 0) {
    return reader.Error(online["key_ttl_seconds"], "key_ttl_seconds must not be negative");
  }
  const std::pair<const char*, int64_t*> sizes[] = {{"memtable_mb", &store->memtable_mb},
                                                    {"block_cache_mb", &store->block_cache_mb},
                                                    {"row_cache_mb", &store->row_cache_mb}};
  for (const auto& [key, value] : sizes) {
    if (!online[key]) continue;
    ARROW_RETURN_NOT_OK(reader.OptionalInt(online, key, value));
    if (*value < 1 || *value > (int64_t{1} << 20)) {
      return reader.Error(online[key], std::string(key) + " must be between 1 and 1048576");
    }
    if (store->type != "rocksdb") {
      return reader.Error(online[key], std::string(key) + " is a setting of the rocksdb store");
    }
  }
  return Status::OK();
}

// Feast's Spark and Ray offline stores and compute engines run over the same Parquet files
// Headwater's engine reads: their settings (Spark configuration, Ray cluster sizes) are listed
// as ignored, one line each, and the section is read as Headwater's own.
void IgnoreAllBut(YamlReader& reader, const YAML::Node& section, const std::string& what,
                  std::initializer_list<std::string_view> kept, RepoConfig* config) {
  for (const auto& entry : section) {
    const std::string name = entry.first.Scalar();
    if (std::find(kept.begin(), kept.end(), name) != kept.end()) continue;
    config->ignored.push_back(reader.Location(entry.first).ToString() + ": " + what + " '" + name +
                              "' is Feast's and changes nothing in Headwater: ignored");
  }
}

Status ReadOfflineStore(YamlReader& reader, const YAML::Node& offline, RepoConfig* config) {
  OfflineStoreConfig* store = &config->offline_store;
  if (!offline || offline.IsNull()) return Status::OK();
  reader.SetContext("offline_store");
  ARROW_RETURN_NOT_OK(reader.OptionalString(offline, "type", &store->type));
  if (store->type == "spark" || store->type == "ray") {
    IgnoreAllBut(reader, offline, "offline_store", {"type"}, config);
    store->type = "file";
    return Status::OK();
  }
  ARROW_RETURN_NOT_OK(reader.CheckKeys(offline, {"type", "path"}));
  ARROW_RETURN_NOT_OK(reader.OptionalString(offline, "path", &store->path));
  // Feast's dask and duckdb offline stores read the same Parquet files as its file store.
  if (store->type == "dask" || store->type == "duckdb") store->type = "file";
  if (store->type != "file") {
    return reader.Error(offline["type"], "unknown type '" + store->type +
                                             "' (supported: file, dask, duckdb, spark, ray)");
  }
  return Status::OK();
}

// A positive duration at node[key], if present.
Status ReadPositiveDuration(YamlReader& reader, const YAML::Node& node, const char* key,
                            Duration* out) {
  if (!node[key]) return Status::OK();
  std::string text;
  ARROW_RETURN_NOT_OK(reader.OptionalString(node, key, &text));
  auto duration = ParseDuration(text);
  if (!duration.ok() || duration->micros <= 0) {
    return reader.Error(
        node[key],
        std::string(key) + " must be a positive duration such as 5s, not '" + text + "'");
  }
  *out = *duration;
  return Status::OK();
}

Status ReadStream(YamlReader& reader, const YAML::Node& stream, StreamConfig* config) {
  if (!stream || stream.IsNull()) return Status::OK();
  reader.SetContext("stream");
  ARROW_RETURN_NOT_OK(reader.CheckKeys(stream, {"path", "checkpoint_interval", "idle_timeout"}));
  ARROW_RETURN_NOT_OK(reader.OptionalString(stream, "path", &config->path));
  ARROW_RETURN_NOT_OK(
      ReadPositiveDuration(reader, stream, "checkpoint_interval", &config->checkpoint_interval));
  return ReadPositiveDuration(reader, stream, "idle_timeout", &config->idle_timeout);
}

Status ReadFlinkAddresses(YamlReader& reader, const YAML::Node& engine, std::string* rest_address,
                          std::string* sql_gateway) {
  ARROW_RETURN_NOT_OK(reader.OptionalString(engine, "rest_address", rest_address));
  ARROW_RETURN_NOT_OK(reader.OptionalString(engine, "sql_gateway", sql_gateway));
  for (auto [key, address] :
       {std::pair{"rest_address", rest_address}, std::pair{"sql_gateway", sql_gateway}}) {
    if (!address->empty() && address->rfind("http://", 0) != 0 &&
        address->rfind("https://", 0) != 0) {
      return reader.Error(engine[key],
                          std::string(key) + " must be an http:// URL, not '" + *address + "'");
    }
  }
  return Status::OK();
}

Status ReadParallelism(YamlReader& reader, const YAML::Node& engine, int64_t* parallelism) {
  ARROW_RETURN_NOT_OK(reader.OptionalInt(engine, "parallelism", parallelism));
  if (*parallelism < 1 || *parallelism > 32768) {
    return reader.Error(engine["parallelism"], "parallelism must be between 1 and 32768");
  }
  return Status::OK();
}

Status ReadStreamEngine(YamlReader& reader, const YAML::Node& engine, StreamEngineConfig* config) {
  if (!engine || engine.IsNull()) return Status::OK();
  reader.SetContext("stream_engine");
  ARROW_RETURN_NOT_OK(
      reader.CheckKeys(engine, {"type", "rest_address", "sql_gateway", "parallelism",
                                "checkpoint_interval", "table_config"}));
  ARROW_RETURN_NOT_OK(reader.OptionalString(engine, "type", &config->type));
  if (config->type != "embedded" && config->type != "flink") {
    return reader.Error(engine["type"],
                        "unknown type '" + config->type + "' (supported: embedded, flink)");
  }
  ARROW_RETURN_NOT_OK(
      ReadFlinkAddresses(reader, engine, &config->rest_address, &config->sql_gateway));
  ARROW_RETURN_NOT_OK(ReadParallelism(reader, engine, &config->parallelism));
  ARROW_RETURN_NOT_OK(
      ReadPositiveDuration(reader, engine, "checkpoint_interval", &config->checkpoint_interval));
  return reader.OptionalStringMap(engine, "table_config", &config->table_config);
}

Status ReadBatchEngine(YamlReader& reader, const YAML::Node& engine, RepoConfig* repo) {
  BatchEngineConfig* config = &repo->batch_engine;
  if (!engine || engine.IsNull()) return Status::OK();
  reader.SetContext("batch_engine");
  std::string type;
  ARROW_RETURN_NOT_OK(reader.OptionalString(engine, "type", &type));
  if (type == "spark.engine" || type == "ray.engine") {
    repo->ignored.push_back(reader.Location(engine["type"]).ToString() + ": batch_engine '" + type +
                            "' is Feast's: Headwater's embedded engine computes instead");
    IgnoreAllBut(reader, engine, "batch_engine", {"type"}, repo);
    return Status::OK();
  }
  ARROW_RETURN_NOT_OK(reader.CheckKeys(
      engine, {"type", "execution_mode", "rest_address", "sql_gateway", "parallelism",
               "pandas_split_num", "table_config", "staging_location"}));
  ARROW_RETURN_NOT_OK(reader.OptionalString(engine, "type", &config->type));
  if (config->type == "flink.engine") config->type = "flink";
  if (config->type != "embedded" && config->type != "flink") {
    return reader.Error(engine["type"], "unknown type '" + config->type +
                                            "' (supported: embedded, flink, flink.engine, "
                                            "spark.engine, ray.engine)");
  }
  std::string execution_mode = "batch";
  ARROW_RETURN_NOT_OK(reader.OptionalString(engine, "execution_mode", &execution_mode));
  if (execution_mode != "batch") {
    return reader.Error(engine["execution_mode"],
                        "execution_mode '" + execution_mode +
                            "' is not supported: batch jobs are bounded (supported: batch; "
                            "stream views run on stream_engine)");
  }
  ARROW_RETURN_NOT_OK(
      ReadFlinkAddresses(reader, engine, &config->rest_address, &config->sql_gateway));
  ARROW_RETURN_NOT_OK(ReadParallelism(reader, engine, &config->parallelism));
  // Feast's pandas_split_num: Headwater hands Flink no DataFrames, so it changes nothing.
  int64_t pandas_split_num = 0;
  ARROW_RETURN_NOT_OK(reader.OptionalInt(engine, "pandas_split_num", &pandas_split_num));
  ARROW_RETURN_NOT_OK(reader.OptionalString(engine, "staging_location", &config->staging_location));
  return reader.OptionalStringMap(engine, "table_config", &config->table_config);
}

Result<ApiToken> ReadToken(YamlReader& reader, const YAML::Node& node) {
  ARROW_RETURN_NOT_OK(reader.CheckKeys(node, {"name", "sha256", "scopes"}));
  ApiToken token;
  ARROW_RETURN_NOT_OK(reader.RequiredString(node, "name", &token.name));
  ARROW_RETURN_NOT_OK(reader.RequiredString(node, "sha256", &token.sha256));
  bool hex = token.sha256.size() == 64;
  for (char c : token.sha256) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) {
    return reader.Error(node["sha256"], "token '" + token.name +
                                            "': sha256 must be 64 lower-case hex digits "
                                            "(from `headwater hash-token`), never the token");
  }
  std::vector<std::string> scopes;
  ARROW_RETURN_NOT_OK(reader.OptionalStringList(node, "scopes", &scopes));
  for (const std::string& scope : scopes) {
    auto known = std::find_if(std::begin(kScopeNames), std::end(kScopeNames),
                              [&](const auto& entry) { return entry.second == scope; });
    if (known != std::end(kScopeNames)) {
      token.scopes |= known->first;
    } else {
      return reader.Error(node["scopes"], "token '" + token.name + "': unknown scope '" + scope +
                                              "' (read_online, write_online, write_offline, "
                                              "materialize, read_offline)");
    }
  }
  return token;
}

Status ReadAuth(YamlReader& reader, const YAML::Node& auth, AuthConfig* config) {
  if (!auth || auth.IsNull()) return Status::OK();
  reader.SetContext("auth");
  // Feast's `auth: {type: no_auth}` (its template's default) is no authentication.
  if (auth.IsMap() && auth["type"]) {
    ARROW_RETURN_NOT_OK(reader.CheckKeys(auth, {"type"}));
    std::string type;
    ARROW_RETURN_NOT_OK(reader.OptionalString(auth, "type", &type));
    if (type == "no_auth") return Status::OK();
    return reader.Error(auth["type"], "type '" + type +
                                          "' is not supported (supported: no_auth, or `tokens` "
                                          "for API tokens; see http_api.md)");
  }
  ARROW_RETURN_NOT_OK(reader.CheckKeys(auth, {"tokens"}));
  config->enabled = true;
  ARROW_RETURN_NOT_OK(reader.ForEach(auth, "tokens", [&](const YAML::Node& node) -> Status {
    ARROW_ASSIGN_OR_RAISE(auto token, ReadToken(reader, node));
    config->tokens.push_back(std::move(token));
    return Status::OK();
  }));
  if (config->tokens.empty()) return reader.Error(auth, "auth needs at least one token");
  return Status::OK();
}

Status ReadSections(YamlReader& reader, const YAML::Node& root, RepoConfig* config) {
  if (root.IsNull()) return reader.Error(root, "the file is empty; 'project' is required");
  // Feast's keys that change nothing here: accepted, each said once by plan and apply.
  constexpr std::string_view kFeastOnly[] = {
      "project_description", "feature_server",         "flags",       "repo_path",
      "coerce_tz_aware",     "materialization",        "openlineage", "mlflow",
      "embedding_model",     "data_quality_monitoring"};
  ARROW_RETURN_NOT_OK(reader.CheckKeys(root, {"project",
                                              "registry",
                                              "provider",
                                              "online_store",
                                              "offline_store",
                                              "entity_key_serialization_version",
                                              "auth",
                                              "stream",
                                              "stream_engine",
                                              "batch_engine",
                                              "max_event_time_skew",
                                              "project_description",
                                              "feature_server",
                                              "flags",
                                              "repo_path",
                                              "coerce_tz_aware",
                                              "materialization",
                                              "openlineage",
                                              "mlflow",
                                              "embedding_model",
                                              "data_quality_monitoring"}));
  for (const auto& entry : root) {
    const std::string name = entry.first.Scalar();
    if (std::find(std::begin(kFeastOnly), std::end(kFeastOnly), name) == std::end(kFeastOnly)) {
      continue;
    }
    config->ignored.push_back(reader.Location(entry.first).ToString() + ": '" + name +
                              "' is Feast's and changes nothing in Headwater: ignored");
  }
  ARROW_RETURN_NOT_OK(reader.RequiredString(root, "project", &config->project));
  Status named = CheckName(config->project);
  if (!named.ok()) return reader.Error(root["project"], "project " + named.message());
  ARROW_RETURN_NOT_OK(ReadSkew(reader, root, config));
  ARROW_RETURN_NOT_OK(ReadRegistrySection(reader, root, config));
  ARROW_RETURN_NOT_OK(reader.OptionalString(root, "provider", &config->provider));
  if (config->provider != "local") {
    return reader.Error(root["provider"],
                        "unknown provider '" + config->provider + "' (supported: local)");
  }
  int64_t key_version = 3;  // Feast's key; Headwater's key encoding is its own (entity_key.h)
  ARROW_RETURN_NOT_OK(reader.OptionalInt(root, "entity_key_serialization_version", &key_version));
  ARROW_RETURN_NOT_OK(ReadOnlineStore(reader, root["online_store"], config));
  ARROW_RETURN_NOT_OK(ReadOfflineStore(reader, root["offline_store"], config));
  ARROW_RETURN_NOT_OK(ReadStream(reader, root["stream"], &config->stream));
  ARROW_RETURN_NOT_OK(ReadStreamEngine(reader, root["stream_engine"], &config->stream_engine));
  ARROW_RETURN_NOT_OK(ReadBatchEngine(reader, root["batch_engine"], config));
  // One cluster serves both where only one section names it.
  BatchEngineConfig& batch = config->batch_engine;
  if (batch.rest_address.empty()) batch.rest_address = config->stream_engine.rest_address;
  if (batch.sql_gateway.empty()) batch.sql_gateway = config->stream_engine.sql_gateway;
  return ReadAuth(reader, root["auth"], &config->auth);
}

}  // namespace

std::filesystem::path RepoConfig::Resolve(const std::string& path) const {
  std::filesystem::path p(path);
  if (p.is_absolute() || storage::IsObjectUri(p)) return p;
  return (repo_path / p).lexically_normal();
}

Result<RepoConfig> LoadRepoConfig(const std::filesystem::path& repo_path) {
  std::error_code error;
  std::filesystem::path root = std::filesystem::absolute(repo_path, error).lexically_normal();
  if (root.has_filename() == false) root = root.parent_path();
  if (!std::filesystem::exists(root / kConfigFile, error)) {
    return Status::IOError("no ", kConfigFile, " in ", root.string(),
                           ": run `headwater init NAME` to create a repository, or pass -c DIR");
  }
  ARROW_ASSIGN_OR_RAISE(std::string text, ReadFile(root / kConfigFile));
  return ParseRepoConfig(text, root);
}

Result<RepoConfig> ParseRepoConfig(const std::string& raw_text,
                                   const std::filesystem::path& repo_path) {
  RepoConfig config;
  config.repo_path = repo_path;
  ARROW_ASSIGN_OR_RAISE(std::string text, SubstituteEnvironment(raw_text));
  ARROW_ASSIGN_OR_RAISE(YAML::Node root, ParseYaml(text, kConfigFile));
  YamlReader reader(kConfigFile);
  try {
    ARROW_RETURN_NOT_OK(ReadSections(reader, root, &config));
  } catch (const YAML::Exception& error) {
    return Status::Invalid(kConfigFile, ":", error.mark.line + 1, ": ", error.msg);
  }
  return config;
}

}  // namespace headwater::registry
