#pragma once

// Waiting for a condition in a test: poll it until it holds or a deadline
// passes, instead of sleeping a fixed time that is too long on a quiet
// machine and too short on a loaded one.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

namespace colony::testing {

/// How often `wait_until` asks by default: often enough that a test ends
/// soon after its condition holds, rarely enough to leave the CPU to the
/// code under test.
inline constexpr std::chrono::milliseconds default_poll_interval{10};

/// Asks `condition` every `interval` until it returns true or `timeout`
/// has passed; returns whether it held. The condition is asked once more
/// after the deadline, so a slow condition gets its last chance.
template <class Condition>
[[nodiscard]] bool
wait_until(std::chrono::milliseconds timeout, Condition&& condition,
           std::chrono::milliseconds interval = default_poll_interval) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + timeout;
  for (;;) {
    if (condition())
      return true;
    auto now = clock::now();
    if (now >= deadline)
      return false;
    std::this_thread::sleep_for(
        std::min<clock::duration>(interval, deadline - now));
  }
}

/// `wait_until` as a GoogleTest assertion: `ASSERT_TRUE(eventually("the
/// value expired", 5s, [&] { ... }))` fails the test at the caller's line
/// with a message naming `what` was awaited and for how long.
template <class Condition>
[[nodiscard]] ::testing::AssertionResult
eventually(const std::string& what, std::chrono::milliseconds timeout,
           Condition&& condition,
           std::chrono::milliseconds interval = default_poll_interval) {
  if (wait_until(timeout, std::forward<Condition>(condition), interval))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "timed out after " << timeout.count()
                                       << " ms waiting until " << what;
}

} // namespace colony::testing
