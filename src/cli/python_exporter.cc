#include "headwater/cli/python_exporter.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "headwater/core/json_reader.h"

extern char** environ;

namespace headwater::cli {
namespace {

// Runs `argv` and returns its exit status and standard output; standard error is inherited.
Result<std::pair<int, std::string>> RunCapturingOutput(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::IOError("cannot create a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    return Status::IOError("cannot run ", argv[0], ": ", std::strerror(spawned));
  }
  std::string output;
  char buffer[65536];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : 128, std::move(output));
}

}  // namespace

registry::PythonExporter PythonExporter() {
  return [](const std::vector<std::filesystem::path>& files)
             -> Result<std::vector<registry::PythonDefinitions>> {
    const char* configured = std::getenv("HEADWATER_PYTHON");
    std::vector<std::string> argv{
        configured != nullptr && *configured != 0 ? configured : HEADWATER_PYTHON, "-m",
        "headwater._export"};
    for (const auto& file : files) argv.push_back(file.string());
    ARROW_ASSIGN_OR_RAISE(auto ran, RunCapturingOutput(argv));
    rapidjson::Document document;
    if (!ParseJson(ran.second, "the Python exporter's output", &document).ok() ||
        !document.IsObject()) {
      return Status::Invalid("running Python definition files with ", argv[0],
                             " failed (exit status ", ran.first,
                             "); is the headwater package installed for it? Set HEADWATER_PYTHON "
                             "to the Python that has it");
    }
    const rapidjson::Value& doc = document;
    if (doc.HasMember("error") && doc["error"].IsString()) {
      return Status::Invalid(doc["error"].GetString());
    }
    std::vector<registry::PythonDefinitions> exported;
    if (!doc.HasMember("files") || !doc["files"].IsArray()) {
      return Status::Invalid("the Python exporter's output has no \"files\"");
    }
    for (const auto& file : doc["files"].GetArray()) {
      registry::PythonDefinitions definitions;
      if (!file.IsObject() || !file.HasMember("yaml") || !file["yaml"].IsString() ||
          !file.HasMember("lines") || !file["lines"].IsArray()) {
        return Status::Invalid("the Python exporter's output is malformed");
      }
      definitions.yaml.assign(file["yaml"].GetString(), file["yaml"].GetStringLength());
      for (const auto& line : file["lines"].GetArray()) {
        definitions.python_lines.push_back(line.IsInt() ? line.GetInt() : 0);
      }
      exported.push_back(std::move(definitions));
    }
    return exported;
  };
}

}  // namespace headwater::cli
