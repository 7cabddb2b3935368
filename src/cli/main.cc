// The `headwater` executable.

#include "headwater/cli/main.h"

int main(int argc, char** argv) { return headwater::cli::Main(argc, argv); }
