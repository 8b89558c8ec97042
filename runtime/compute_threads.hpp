#pragma once

#include <cstddef>

namespace colony {

/// Sets the number of threads LibTorch's intra-op parallelism uses; 0 means
/// one per core. Debian's LibTorch 1.13 starts with 1, so every node and
/// benchmark sets it explicitly. Returns the number in effect.
size_t set_compute_threads(size_t threads);

} // namespace colony
