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
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace headwater {

using Status = arrow::Status;
template <typename T>
using Result = arrow::Result<T>;

/// The kind of object a KeyError did not find, attached to the status so that an adapter can
/// name the error in its clients' vocabulary (the feature server's Feast-shaped errors) without
/// reading the message.
enum class Missing { kFeatureView, kOnDemandFeatureView, kFeatureService, kPushSource, kFeature };

class MissingDetail : public arrow::StatusDetail {
 public:
  explicit MissingDetail(Missing what) : what_(what) {}
  const char* type_id() const override { return "headwater::Missing"; }
  std::string ToString() const override { return "not found"; }
  Missing what() const { return what_; }

 private:
  Missing what_;
};

/// A KeyError saying which kind of object is missing; the message still names it.
template <typename... Args>
Status NotFound(Missing what, Args&&... message) {
  return Status::KeyError(std::forward<Args>(message)...)
      .WithDetail(std::make_shared<MissingDetail>(what));
}

/// The kind of object `status` did not find, when it came from NotFound.
inline std::optional<Missing> MissingOf(const Status& status) {
  const auto& detail = status.detail();
  if (detail == nullptr || std::string_view(detail->type_id()) != "headwater::Missing") {
    return std::nullopt;
  }
  return static_cast<const MissingDetail&>(*detail).what();
}

/// A service Headwater depends on does not answer (the Redis online store, a broker): the same
/// request may succeed once it is back. An IOError with this detail; adapters answer 503.
class UnavailableDetail : public arrow::StatusDetail {
 public:
  const char* type_id() const override { return "headwater::Unavailable"; }
  std::string ToString() const override { return "unavailable"; }
};

template <typename... Args>
Status Unavailable(Args&&... message) {
  return Status::IOError(std::forward<Args>(message)...)
      .WithDetail(std::make_shared<UnavailableDetail>());
}

inline bool IsUnavailable(const Status& status) {
  return status.detail() != nullptr &&
         std::string_view(status.detail()->type_id()) == "headwater::Unavailable";
}

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
