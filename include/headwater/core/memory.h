#pragma once
// Process-wide memory settings for batch work.

namespace headwater {

/// Sets whether transparent huge pages are off for this process (prctl PR_SET_THP_DISABLE) and
/// returns the setting it replaced. Batch work touches gigabytes of fresh memory once: with huge
/// pages the kernel zeroes 2 MiB per first touch, compacting memory to find them, and that system
/// time (measured: 4.3-5.8 s of a 10M-row retrieval, 2.8-3.8 s without; materialization 0.8-1.1 s
/// against 0.45 s) outweighs the fewer TLB misses. Batch commands turn them off for their
/// process; the Python SDK around a retrieval and its conversion to pandas only, putting back
/// what its host process chose (numpy asks for huge pages: 10M rows to pandas took 1.45 s with
/// them, 0.38 s without). Long-running servers keep the system's setting. Does nothing where
/// unsupported.
bool SetTransparentHugePagesDisabled(bool disabled);

}  // namespace headwater
