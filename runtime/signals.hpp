#pragma once

#include <chrono>

namespace colony {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// starts later, so that `wait_for_shutdown_signal` receives them.
void block_shutdown_signals();

/// Waits until SIGINT or SIGTERM arrives; returns its number.
int wait_for_shutdown_signal();

/// Waits up to `timeout` for SIGINT or SIGTERM; returns its number, or 0 if
/// none arrived in time. Any value is safe: zero, negative or NaN only looks
/// for a pending signal, and a timeout beyond a year (or infinite) waits
/// without a bound.
int wait_for_shutdown_signal(std::chrono::duration<double> timeout);

/// As above, with the timeout in milliseconds.
int wait_for_shutdown_signal(long timeout_ms);

} // namespace colony
