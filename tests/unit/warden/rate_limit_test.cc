// The per-cell token bucket, driven with an injected clock.
#include "warden/rate_limit.h"

#include <gtest/gtest.h>

namespace brig::warden {
namespace {

using namespace std::chrono_literals;
const TokenBucket::Clock::time_point t0{};

TEST(TokenBucketTest, BurstThenEmpty) {
  TokenBucket b;
  b.configure_at(1, 3, t0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.take_at(t0, nullptr)) << i;
  double retry = -1;
  EXPECT_FALSE(b.take_at(t0, &retry));
  EXPECT_DOUBLE_EQ(retry, 1.0);
  EXPECT_FALSE(b.take_at(t0, nullptr));  // no retry pointer: still refused
}

TEST(TokenBucketTest, RefillsAtTheRateUpToTheBurst) {
  TokenBucket b;
  b.configure_at(2, 4, t0);  // 2 tokens a second, 4 at most
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(b.take_at(t0, nullptr));
  double retry = 0;
  EXPECT_FALSE(b.take_at(t0 + 250ms, &retry));  // half a token
  EXPECT_DOUBLE_EQ(retry, 0.25);
  EXPECT_TRUE(b.take_at(t0 + 500ms, nullptr));  // one token
  EXPECT_FALSE(b.take_at(t0 + 500ms, nullptr));
  // A long pause refills to the burst, not beyond.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.take_at(t0 + 100s, nullptr)) << i;
  EXPECT_FALSE(b.take_at(t0 + 100s, nullptr));
  // A clock going backwards adds nothing.
  EXPECT_FALSE(b.take_at(t0 + 50s, nullptr));
}

TEST(TokenBucketTest, ZeroRateIsUnlimited) {
  TokenBucket b;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.take_at(t0, nullptr));  // never configured
  b.configure_at(0, 0, t0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.take_at(t0, nullptr));
  b.configure_at(-1, 5, t0);
  EXPECT_TRUE(b.take(nullptr));
}

TEST(TokenBucketTest, ReconfiguringTheSameValuesKeepsTheTokens) {
  TokenBucket b;
  b.configure_at(1, 2, t0);
  ASSERT_TRUE(b.take_at(t0, nullptr));
  ASSERT_TRUE(b.take_at(t0, nullptr));
  b.configure_at(1, 2, t0);  // a reload with an unchanged policy
  EXPECT_FALSE(b.take_at(t0, nullptr));
  b.configure_at(1, 3, t0);  // a new limit starts full
  EXPECT_TRUE(b.take_at(t0, nullptr));
}

}  // namespace
}  // namespace brig::warden
