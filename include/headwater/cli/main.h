#pragma once
// The `headwater` command as a function, so the executable and the Python package's `headwater`
// entry point run the same code.

namespace headwater::cli {

/// Parses `argv` and runs one subcommand, printing to stdout and stderr. Returns the exit code:
/// 0 on success, 1 for an error (printed as "error: <message>"), 2 for a usage error.
int Main(int argc, char** argv);

}  // namespace headwater::cli
