#include "runtime/signals.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <limits>
#include <pthread.h>
#include <thread>

namespace colony {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using seconds_d = std::chrono::duration<double>;

/// Blocks the shutdown signals in this thread for one test, then drops any
/// still pending and restores the mask. Signals are sent to this thread
/// only (other threads of the test binary keep the default action).
class blocked_signals {
 public:
  blocked_signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~blocked_signals() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

/// Runs `wait` and returns its result and how long it took.
template <class F>
std::pair<int, clock_type::duration> timed(F wait) {
  auto start = clock_type::now();
  int sig = wait();
  return {sig, clock_type::now() - start};
}

TEST(signals, timeouts_without_a_future_only_poll) {
  blocked_signals guard;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  for (double s : {0.0, -1.0, -0.5, -1e300, nan}) {
    auto [sig, took] =
        timed([&] { return wait_for_shutdown_signal(seconds_d{s}); });
    EXPECT_EQ(sig, 0) << s;
    EXPECT_LT(took, 1s) << s;
  }
  for (long ms : {0L, -1L, -1000L, std::numeric_limits<long>::min()}) {
    auto [sig, took] = timed([&] { return wait_for_shutdown_signal(ms); });
    EXPECT_EQ(sig, 0) << ms;
    EXPECT_LT(took, 1s) << ms;
  }
}

TEST(signals, a_short_timeout_waits_then_returns_zero) {
  blocked_signals guard;
  auto [sig, took] = timed([] { return wait_for_shutdown_signal(50L); });
  EXPECT_EQ(sig, 0);
  EXPECT_GE(took, 40ms);
  EXPECT_LT(took, 5s);
}

TEST(signals, a_pending_signal_is_returned_whatever_the_timeout) {
  blocked_signals guard;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double inf = std::numeric_limits<double>::infinity();
  for (double s : {0.0, -1.0, nan, 0.5, 1e300, inf}) {
    ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);
    auto [sig, took] =
        timed([&] { return wait_for_shutdown_signal(seconds_d{s}); });
    EXPECT_EQ(sig, SIGTERM) << s;
    EXPECT_LT(took, 1s) << s;
  }
  ASSERT_EQ(pthread_kill(pthread_self(), SIGINT), 0);
  EXPECT_EQ(wait_for_shutdown_signal(std::numeric_limits<long>::max()), SIGINT);
}

TEST(signals, a_huge_timeout_still_ends_at_a_signal) {
  blocked_signals guard;
  auto waiter = pthread_self();
  std::thread sender{[waiter] {
    std::this_thread::sleep_for(50ms); // let the wait begin
    pthread_kill(waiter, SIGTERM);
  }};
  auto [sig, took] =
      timed([] { return wait_for_shutdown_signal(seconds_d{1e300}); });
  sender.join();
  EXPECT_EQ(sig, SIGTERM);
  EXPECT_LT(took, 10s);
}

} // namespace
} // namespace colony
