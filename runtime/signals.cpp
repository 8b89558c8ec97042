#include "runtime/signals.hpp"

#include <cerrno>
#include <cmath>
#include <csignal>
#include <ctime>
#include <pthread.h>

namespace colony {

namespace {

/// Longer timeouts wait without a bound; keeps every timespec and deadline
/// far from overflow (seconds).
constexpr double max_bounded_wait_s = 365.0 * 24 * 3600;

sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

timespec to_timespec(double seconds) {
  auto whole = std::floor(seconds);
  auto nanos = static_cast<long>((seconds - whole) * 1e9);
  // Rounding may reach a whole second; sigtimedwait refuses that.
  if (nanos > 999999999)
    nanos = 999999999;
  if (nanos < 0)
    nanos = 0;
  return timespec{static_cast<time_t>(whole), nanos};
}

} // namespace

void block_shutdown_signals() {
  auto set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_shutdown_signal() {
  auto set = shutdown_set();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
    // retry: sigwait only fails on EINTR-like conditions
  }
  return sig;
}

int wait_for_shutdown_signal(std::chrono::duration<double> timeout) {
  double seconds = timeout.count();
  // Written as a negation so that NaN only polls too.
  if (!(seconds > 0))
    seconds = 0;
  if (seconds > max_bounded_wait_s)
    return wait_for_shutdown_signal();
  auto set = shutdown_set();
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                     std::chrono::duration<double>(seconds));
  for (;;) {
    auto ts = to_timespec(seconds);
    auto sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0)
      return sig;
    // EAGAIN: the time is up. Anything but EINTR would fail again at once;
    // returning keeps a caller's loop from spinning on it.
    if (errno != EINTR)
      return 0;
    // Another signal interrupted the wait: wait for the rest of the time.
    seconds = std::chrono::duration<double>(deadline - clock::now()).count();
    if (!(seconds > 0))
      seconds = 0;
  }
}

int wait_for_shutdown_signal(long timeout_ms) {
  return wait_for_shutdown_signal(
      std::chrono::duration<double>(static_cast<double>(timeout_ms) / 1000));
}

} // namespace colony
