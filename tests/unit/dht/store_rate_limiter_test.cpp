#include "actors/dht/store_rate_limiter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace colony::dht {
namespace {

constexpr double rate_t0 = 1000.0;

/// How many of `n` stores at time `now` `peer` gets through.
size_t rate_allowed(store_rate_limiter& r, const std::string& peer, size_t n,
                    double now) {
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i)
    ok += r.allow(peer, now) ? 1 : 0;
  return ok;
}

TEST(store_rate_limiter_test, allows_a_burst_of_a_minute_then_refuses) {
  store_rate_limiter r{60};
  EXPECT_EQ(rate_allowed(r, "a", 100, rate_t0), 60u);
  EXPECT_FALSE(r.allow("a", rate_t0));
  // Other peers have buckets of their own.
  EXPECT_EQ(rate_allowed(r, "b", 10, rate_t0), 10u);
}

TEST(store_rate_limiter_test, refills_at_the_rate) {
  store_rate_limiter r{60}; // one a second
  EXPECT_EQ(rate_allowed(r, "a", 60, rate_t0), 60u);
  EXPECT_EQ(rate_allowed(r, "a", 10, rate_t0 + 0.5), 0u);
  EXPECT_EQ(rate_allowed(r, "a", 10, rate_t0 + 1.0), 1u);
  EXPECT_EQ(rate_allowed(r, "a", 10, rate_t0 + 11.0), 10u);
  // Never more than a minute's worth, however long the pause.
  EXPECT_EQ(rate_allowed(r, "a", 1000, rate_t0 + 1e6), 60u);
  // A clock that goes back adds nothing.
  EXPECT_EQ(rate_allowed(r, "a", 10, rate_t0), 0u);
}

TEST(store_rate_limiter_test, default_rate_and_no_limit) {
  store_rate_limiter r{12000};
  EXPECT_EQ(rate_allowed(r, "a", 13000, rate_t0), 12000u);
  EXPECT_EQ(rate_allowed(r, "a", 1000, rate_t0 + 1.0), 200u);
  store_rate_limiter off{0};
  EXPECT_EQ(rate_allowed(off, "a", 100000, rate_t0), 100000u);
}

TEST(store_rate_limiter_test, forgets_idle_peers_beyond_its_bound) {
  store_rate_limiter r{60};
  for (size_t i = 0; i < store_rate_limiter::max_tracked_peers; ++i)
    ASSERT_TRUE(r.allow("peer" + std::to_string(i), rate_t0));
  EXPECT_EQ(r.tracked(), store_rate_limiter::max_tracked_peers);
  // A minute later every bucket is full again: forgotten for a new peer.
  EXPECT_TRUE(r.allow("new", rate_t0 + 60));
  EXPECT_EQ(r.tracked(), 1u);
  // A busy peer is not forgotten (it would get a fresh bucket).
  store_rate_limiter busy{60};
  EXPECT_EQ(rate_allowed(busy, "flood", 60, rate_t0), 60u);
  for (size_t i = 1; i < store_rate_limiter::max_tracked_peers; ++i)
    (void)busy.allow("peer" + std::to_string(i), rate_t0);
  EXPECT_TRUE(busy.allow("another", rate_t0 + 0.5)); // tracked peers are full
  EXPECT_FALSE(busy.allow("flood", rate_t0 + 0.5));
}

} // namespace
} // namespace colony::dht
