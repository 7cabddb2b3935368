#include "metrics.h"

#include <gtest/gtest.h>

namespace headwater::server {
namespace {

TEST(LabelValueTest, EscapesWhatTheExpositionFormatRequires) {
  EXPECT_EQ(LabelValue("driver_stats"), "driver_stats");
  // A value that would otherwise end the label and start a line of its own.
  EXPECT_EQ(LabelValue("x\"} 1\nfake_metric{a=\"b"), "x\\\"} 1\\nfake_metric{a=\\\"b");
  EXPECT_EQ(LabelValue("a\\b"), "a\\\\b");
}

}  // namespace
}  // namespace headwater::server
