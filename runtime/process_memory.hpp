#pragma once

#include <cstdint>
#include <sys/types.h>

namespace colony {

/// Resident set size of this process in bytes (/proc/self/statm); 0 where
/// it cannot be read.
[[nodiscard]] uint64_t resident_set_bytes() noexcept;

/// Resident set size of process `pid` in bytes (/proc/PID/statm); 0 where
/// it cannot be read.
[[nodiscard]] uint64_t resident_set_bytes(pid_t pid) noexcept;

/// Peak resident set size of process `pid` in bytes (VmHWM in
/// /proc/PID/status); 0 where it cannot be read.
[[nodiscard]] uint64_t peak_resident_set_bytes(pid_t pid) noexcept;

} // namespace colony
