#pragma once
// How the CLI reads Python definition files: by running them with the headwater package's
// exporter in a child Python process (the registry never starts processes itself).

#include "headwater/registry/loader.h"

namespace headwater::cli {

/// Runs Python definition files with `<python> -m headwater._export`, where <python> is
/// $HEADWATER_PYTHON, or else the interpreter the build was configured with.
registry::PythonExporter PythonExporter();

}  // namespace headwater::cli
