#include "tests/support/wait_until.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

using namespace std::chrono_literals;
using colony::testing::eventually;
using colony::testing::wait_until;
using clock_type = std::chrono::steady_clock;

TEST(wait_until, returns_as_soon_as_the_condition_holds) {
  int asked = 0;
  auto t0 = clock_type::now();
  EXPECT_TRUE(wait_until(
      10s, [&] { return ++asked == 3; }, 1ms));
  EXPECT_EQ(asked, 3);
  EXPECT_LT(clock_type::now() - t0, 5s);
}

TEST(wait_until, gives_up_at_the_deadline_after_a_last_try) {
  int asked = 0;
  auto t0 = clock_type::now();
  EXPECT_FALSE(wait_until(50ms, [&] {
    ++asked;
    return false;
  }));
  auto took = clock_type::now() - t0;
  EXPECT_GE(took, 50ms);
  EXPECT_LT(took, 5s);
  EXPECT_GE(asked, 2); // at first and at the deadline at least
  // A condition that becomes true only at the last try still counts.
  auto until = clock_type::now() + 30ms;
  EXPECT_TRUE(wait_until(
      30ms, [&] { return clock_type::now() >= until; }, 1h));
}

TEST(wait_until, eventually_names_what_it_awaited) {
  EXPECT_TRUE(eventually("it holds", 1s, [] { return true; }));
  auto failed = eventually("the moon turns blue", 20ms, [] { return false; });
  EXPECT_FALSE(failed);
  EXPECT_EQ(std::string{failed.message()},
            "timed out after 20 ms waiting until the moon turns blue");
}
