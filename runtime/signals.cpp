#include "runtime/signals.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>
#include <pthread.h>

namespace colony {

namespace {

sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
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

int wait_for_shutdown_signal(long timeout_ms) {
  auto set = shutdown_set();
  timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000};
  for (;;) {
    auto sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0)
      return sig;
    if (errno == EAGAIN)
      return 0;
    // EINTR: another signal interrupted the wait; wait again
  }
}

} // namespace colony
