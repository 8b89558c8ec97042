#include "actors/optim/throughput_ema.hpp"

#include <algorithm>
#include <cmath>

namespace colony::optim {

void throughput_ema::update(uint64_t samples, double now) noexcept {
  if (!started_) {
    restart(now);
    return;
  }
  if (samples == 0)
    return;
  auto interval = std::max(0.0, now - last_);
  last_ = now;
  auto per_sample = interval / static_cast<double>(samples);
  seconds_per_sample_ =
      alpha_ * per_sample + (1 - alpha_) * seconds_per_sample_;
  ++updates_;
}

void throughput_ema::restart(double now) noexcept {
  last_ = now;
  started_ = true;
}

double throughput_ema::samples_per_second() const noexcept {
  if (updates_ == 0)
    return 0;
  // Bias correction: the average starts at 0.
  auto corrected = seconds_per_sample_ /
                   (1 - std::pow(1 - alpha_, static_cast<double>(updates_)));
  return corrected > 1e-12 ? 1 / corrected : 0;
}

} // namespace colony::optim
