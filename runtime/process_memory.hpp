#pragma once

#include <cstdint>

namespace colony {

/// Resident set size of this process in bytes (/proc/self/statm); 0 where
/// it cannot be read.
[[nodiscard]] uint64_t resident_set_bytes() noexcept;

} // namespace colony
