#pragma once
// Reads definition files (YAML) and validates them against each other and their sources.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "headwater/registry/definitions.h"
#include "headwater/registry/repo_config.h"

namespace headwater::registry {

/// The definition files of a repository: every *.yaml / *.yml other than feature_store.yaml,
/// and every *.py, under the root, skipping hidden directories and __pycache__; sorted by path
/// so loading is deterministic.
Result<std::vector<std::filesystem::path>> ListDefinitionFiles(const RepoConfig& config);

/// A Python definition file turned into definition YAML by the headwater package
/// (python/headwater/_export.py): the objects it defines at module level, one per line.
struct PythonDefinitions {
  std::string yaml;
  /// python_lines[i] is the line of the Python file that defined what is on YAML line i + 1
  /// (0 when none), so errors point into the Python file.
  std::vector<int> python_lines;
};

/// Runs Python definition files (all of a repository's at once) and returns their YAML, in
/// order. The CLI provides it; the registry never starts processes itself.
using PythonExporter = std::function<Result<std::vector<PythonDefinitions>>(
    const std::vector<std::filesystem::path>& files)>;

/// Parses one definition file's text and appends its objects to `out`. `file_name` is used in
/// error messages. Structural errors (bad YAML, unknown fields, wrong types, bad durations or
/// dtypes) are reported as "file:line: object 'name': problem".
Status ParseDefinitions(const std::string& text, const std::string& file_name, Definitions* out);

/// Checks that the definitions are consistent: unique names per kind, references that exist,
/// sources whose Parquet files have the timestamp, created and join-key columns with the right
/// types and whose declared schema matches the file. Fills inferred schemas. Errors name the
/// file, line and object.
Status Validate(const RepoConfig& config, Definitions* definitions);

/// One line per feature whose source column is read through a cast (CastsOnRead: Float32 over a
/// float64 column, ...), as `plan` and `apply` print them; sources that cannot be read are left
/// to Validate.
std::vector<std::string> SourceCasts(const RepoConfig& config, const Definitions& definitions);

/// Where a stream view's window rows are kept offline: a file source over
/// `offline_store.path/<view name>` (join keys, event_timestamp, the features). Derived from the
/// name, never taken from a file: Validate and the registry reader both set `view.windows` here.
Result<DataSource> WindowsSource(const RepoConfig& config, const FeatureView& view);

/// ParseDefinitions for YAML made from a Python file: locations and error messages name the
/// Python file and its lines.
Status ParsePythonDefinitions(const PythonDefinitions& python, const std::string& file_name,
                              Definitions* out);

/// ListDefinitionFiles + ParseDefinitions (YAML files; Python files through `python`, which
/// may be empty when the repository has none) + Validate.
Result<Definitions> LoadDefinitions(const RepoConfig& config, const PythonExporter& python = {});

}  // namespace headwater::registry
