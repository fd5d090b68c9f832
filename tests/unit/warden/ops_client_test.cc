// parse_metrics: per-cell figures from warden's /metrics text, percentiles
// interpolated within their histogram bucket rather than the bucket's bound.
#include "brig/warden/ops_client.h"

#include <gtest/gtest.h>

#include <string>

namespace brig::warden {
namespace {

// A histogram for cell c1: `counts` cumulative over the bounds below, then +Inf.
std::string histogram(const std::vector<std::pair<std::string, int>>& counts) {
  std::string text = "# TYPE brig_warden_request_duration_seconds histogram\n";
  for (const auto& [le, n] : counts) {
    text += "brig_warden_request_duration_seconds_bucket{cell=\"c1\",le=\"" + le + "\"} " + std::to_string(n) + "\n";
  }
  return text;
}

TEST(ParseMetrics, PercentilesAreInterpolatedWithinTheirBucket) {
  // 90 requests at <= 1 ms, 10 between 50 and 100 ms.
  auto s = parse_metrics(histogram({{"0.001", 90}, {"0.0025", 90}, {"0.005", 90}, {"0.01", 90}, {"0.025", 90},
                                    {"0.05", 90}, {"0.1", 100}, {"0.25", 100}, {"+Inf", 100}}));
  ASSERT_EQ(s.count("c1"), 1u);
  EXPECT_NEAR(s["c1"].p50_ms, 0.5556, 1e-3);  // 50 of the 90 in [0, 1 ms]
  EXPECT_NEAR(s["c1"].p95_ms, 75.0, 1e-9);    // half way through (50, 100 ms]
  EXPECT_NEAR(s["c1"].p99_ms, 95.0, 1e-9);
}

TEST(ParseMetrics, PastTheLargestBoundIsThatBound) {
  auto s = parse_metrics(histogram({{"0.001", 0}, {"10", 50}, {"+Inf", 100}}));
  EXPECT_DOUBLE_EQ(s["c1"].p99_ms, 10000.0);
}

TEST(ParseMetrics, NoRequestsNoPercentiles) {
  auto s = parse_metrics(histogram({{"0.001", 0}, {"+Inf", 0}}));
  EXPECT_EQ(s["c1"].p50_ms, 0);
}

TEST(ParseMetrics, CountsRequestsAndBytes) {
  auto s = parse_metrics(
      "brig_warden_requests_total{cell=\"c1\",decision=\"allow\"} 7\n"
      "brig_warden_requests_total{cell=\"c1\",decision=\"deny\"} 3\n"
      "brig_warden_bytes_total{cell=\"c1\",direction=\"in\"} 100\n");
  EXPECT_EQ(s["c1"].requests, 10);
  EXPECT_EQ(s["c1"].denied, 3);
  EXPECT_EQ(s["c1"].bytes_in, 100);
}

}  // namespace
}  // namespace brig::warden
