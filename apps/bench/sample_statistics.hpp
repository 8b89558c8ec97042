#pragma once

#include <vector>

namespace colony::apps {

/// The `q`-quantile (0..1, nearest rank) of `samples`; 0 when empty.
double quantile(std::vector<double> samples, double q);

/// The median of `samples` (mean of the middle two for even counts).
double median(std::vector<double> samples);

} // namespace colony::apps
