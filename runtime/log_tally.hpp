#pragma once

#include <spdlog/sinks/sink.h>

#include <cstdint>

namespace colony {

/// Log lines at warning level or worse written by this process's node
/// loggers since it started: the "errors seen" a node reports through its
/// control service (a malformed frame, a failed call, a refused peer each
/// log one).
struct log_tally {
  uint64_t warnings = 0;
  /// Lines at error level or worse.
  uint64_t errors = 0;
};

/// The process-wide tally.
[[nodiscard]] log_tally process_log_tally() noexcept;

/// The sink every node logger carries besides its output: counts into the
/// process-wide tally, writes nothing.
[[nodiscard]] spdlog::sink_ptr log_tally_sink();

} // namespace colony
