#pragma once
// One error model for all of Headwater: Arrow's Status and Result<T>.
//
// Functions that can fail return `Status` or `Result<T>` and never throw across a module
// boundary. Propagate with ARROW_RETURN_NOT_OK / ARROW_ASSIGN_OR_RAISE. User mistakes (bad
// definitions, bad data, bad arguments) are `Status::Invalid` (or `KeyError`, `IOError`) whose
// message names the file, line, object or value at fault; broken invariants are HW_DCHECKs.

#include <arrow/result.h>
#include <arrow/status.h>

#include <cstdio>
#include <cstdlib>

namespace headwater {

using Status = arrow::Status;
template <typename T>
using Result = arrow::Result<T>;

}  // namespace headwater

/// Internal invariant checks: abort with both values printed. Not for user input.
#define HW_CHECK_OP(a, op, b)                                                                    \
  do {                                                                                           \
    if (!((a)op(b))) {                                                                           \
      std::fprintf(stderr, "%s:%d: check failed: %s %s %s (%lld vs %lld)\n", __FILE__, __LINE__, \
                   #a, #op, #b, static_cast<long long>(a), static_cast<long long>(b));           \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)
#define HW_CHECK_EQ(a, b) HW_CHECK_OP(a, ==, b)
#define HW_CHECK_LE(a, b) HW_CHECK_OP(a, <=, b)
#define HW_CHECK_LT(a, b) HW_CHECK_OP(a, <, b)
