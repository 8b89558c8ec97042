#include "apps/bench/sample_statistics.hpp"

#include <algorithm>

namespace colony::apps {

double quantile(std::vector<double> samples, double q) {
  if (samples.empty())
    return 0;
  std::sort(samples.begin(), samples.end());
  auto last = samples.size() - 1;
  auto idx = static_cast<size_t>(q * static_cast<double>(last) + 0.5);
  return samples[std::min(idx, last)];
}

double median(std::vector<double> samples) {
  if (samples.empty())
    return 0;
  std::sort(samples.begin(), samples.end());
  auto n = samples.size();
  return n % 2 == 1 ? samples[n / 2]
                    : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

} // namespace colony::apps
