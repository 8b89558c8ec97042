#pragma once

namespace colony {

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it
/// starts later, so that `wait_for_shutdown_signal` receives them.
void block_shutdown_signals();

/// Waits until SIGINT or SIGTERM arrives; returns its number.
int wait_for_shutdown_signal();

/// Waits up to `timeout_ms` for SIGINT or SIGTERM; returns its number, or 0
/// if none arrived in time.
int wait_for_shutdown_signal(long timeout_ms);

} // namespace colony
