#pragma once
// Process-wide memory settings for batch work.

namespace headwater {

/// Turns off transparent huge pages for this process (prctl PR_SET_THP_DISABLE). A batch command
/// touches gigabytes of fresh memory once: with huge pages the kernel zeroes 2 MiB per first
/// touch, compacting memory to find them, and that system time (measured: 4.3-5.8 s of a 10M-row
/// retrieval, 2.8-3.8 s without; materialization 0.8-1.1 s against 0.45 s) outweighs the fewer
/// TLB misses. Long-running servers keep the system's setting. Does nothing where unsupported.
void DisableTransparentHugePages();

/// Sets whether transparent huge pages are off for this process and returns the setting it
/// replaced, so a library call can turn them off for its batch work and put back what its host
/// process chose (the Python SDK around a retrieval and its conversion to pandas, where numpy
/// asks for huge pages: 10M rows to pandas took 1.45 s with them, 0.38 s without).
bool SetTransparentHugePagesDisabled(bool disabled);

}  // namespace headwater
