#include "headwater/core/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace headwater {

Status SyncPath(const std::filesystem::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return Status::IOError("cannot open ", path.string(), " to sync");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IOError("cannot sync ", path.string());
  return Status::OK();
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  std::error_code error;
  const std::filesystem::path directory =
      path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::filesystem::create_directories(directory, error);
  if (error) return Status::IOError("cannot create ", directory.string(), ": ", error.message());
  std::filesystem::path temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      std::filesystem::remove(temporary, error);
      return Status::IOError("cannot write ", temporary.string());
    }
  }
  Status synced = SyncPath(temporary);
  if (synced.ok()) {
    std::filesystem::rename(temporary, path, error);
    if (error) synced = Status::IOError("cannot replace ", path.string(), ": ", error.message());
  }
  if (!synced.ok()) {
    std::filesystem::remove(temporary, error);
    return synced;
  }
  // The rename is durable only once the directory entry is on disk.
  return SyncPath(directory, /*directory=*/true);
}

std::optional<int64_t> NumberInFileName(std::string_view name, std::string_view prefix,
                                        size_t digits, std::string_view suffix) {
  if (digits == 0 || name.size() != prefix.size() + digits + suffix.size() ||
      !name.starts_with(prefix) || !name.ends_with(suffix)) {
    return std::nullopt;
  }
  int64_t number = 0;
  for (char c : name.substr(prefix.size(), digits)) {
    if (c < '0' || c > '9' || number > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
    number = number * 10 + (c - '0');
  }
  return number;
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return Status::IOError(path.string(), " is a directory, not a file");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IOError("cannot read ", path.string(), ": ",
                           errno != 0 ? std::strerror(errno) : "cannot open");
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read ", path.string());
  return text.str();
}

Result<std::vector<std::filesystem::path>> ListDirectory(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> entries;
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error), end;
  for (; !error && it != end; it.increment(error)) entries.push_back(it->path());
  if (error) return Status::IOError("cannot list ", directory.string(), ": ", error.message());
  return entries;
}

Result<std::filesystem::path> ChildPath(const std::filesystem::path& directory,
                                        std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Status::Invalid("'", name, "' is not a single file name, so it cannot name an entry of ",
                           directory.string());
  }
  return directory / std::filesystem::path(name);
}

}  // namespace headwater
