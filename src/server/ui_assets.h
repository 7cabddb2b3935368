#pragma once
// The web UI's files (ui/ in the repository), built into the binary by cmake/EmbedFiles.cmake.

#include <string_view>

namespace headwater::server {

struct UiAsset {
  std::string_view path;  // "/ui/app.js"
  std::string_view content_type;
  std::string_view data;
};

/// The asset served at `path` ("/ui" and "/ui/" are index.html), or nullptr.
const UiAsset* FindUiAsset(std::string_view path);

}  // namespace headwater::server
