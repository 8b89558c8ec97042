#include "runtime/log_throttle.hpp"

#include <gtest/gtest.h>

using colony::log_throttle;
using namespace std::chrono_literals;

TEST(log_throttle, one_line_per_key_per_interval) {
  log_throttle t{5s};
  auto t0 = log_throttle::clock::now();
  // The first event is logged at once, alone.
  EXPECT_EQ(t.note("flooder", t0), 1u);
  // A flood within the interval is held back...
  for (int i = 1; i < 1000; ++i)
    EXPECT_FALSE(t.note("flooder", t0 + 1ms * i));
  // ...and reported by the next line, with the count it stands for.
  EXPECT_EQ(t.note("flooder", t0 + 5s), 1000u);
  EXPECT_FALSE(t.note("flooder", t0 + 6s));
  EXPECT_EQ(t.total(), 1002u);
}

TEST(log_throttle, keys_are_throttled_apart) {
  log_throttle t{5s};
  auto t0 = log_throttle::clock::now();
  EXPECT_EQ(t.note("a", t0), 1u);
  EXPECT_FALSE(t.note("a", t0 + 1s));
  // Another peer's first event is not held back by the first peer's flood.
  EXPECT_EQ(t.note("b", t0 + 1s), 1u);
  EXPECT_EQ(t.keys(), 2u);
}

TEST(log_throttle, forgets_idle_keys) {
  log_throttle t{1s};
  auto t0 = log_throttle::clock::now();
  EXPECT_TRUE(t.note("a", t0));
  EXPECT_TRUE(t.note("b", t0 + 50s));
  t.forget_idle(t0 + 61s, 60s);
  EXPECT_EQ(t.keys(), 1u);
  EXPECT_EQ(t.note("a", t0 + 61s), 1u);
}
