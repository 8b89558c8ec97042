#pragma once

#include <chrono>
#include <vector>

namespace colony::apps {

/// The `q`-quantile (0..1, nearest rank) of `samples`; 0 when empty.
double quantile(std::vector<double> samples, double q);

/// The median of `samples` (mean of the middle two for even counts).
double median(std::vector<double> samples);

/// Seconds from `t0` to now on the steady clock: one timing sample.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

} // namespace colony::apps
