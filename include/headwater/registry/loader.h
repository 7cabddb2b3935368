#pragma once
// Reads definition files (YAML) and validates them against each other and their sources.

#include <filesystem>
#include <string>
#include <vector>

#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::registry {

/// The definition files of a repository: every *.yaml / *.yml under the root other than
/// feature_store.yaml, skipping hidden directories; sorted by path so loading is deterministic.
Result<std::vector<std::filesystem::path>> ListDefinitionFiles(const RepoConfig& config);

/// Parses one definition file's text and appends its objects to `out`. `file_name` is used in
/// error messages. Structural errors (bad YAML, unknown fields, wrong types, bad durations or
/// dtypes) are reported as "file:line: object 'name': problem".
Status ParseDefinitions(const std::string& text, const std::string& file_name, Definitions* out);

/// Checks that the definitions are consistent: unique names per kind, references that exist,
/// sources whose Parquet files have the timestamp, created and join-key columns with the right
/// types and whose declared schema matches the file. Fills inferred schemas. Errors name the
/// file, line and object.
Status Validate(const RepoConfig& config, Definitions* definitions);

/// ListDefinitionFiles + ParseDefinitions + Validate.
Result<Definitions> LoadDefinitions(const RepoConfig& config);

}  // namespace headwater::registry
