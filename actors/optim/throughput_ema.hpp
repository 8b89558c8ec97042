#pragma once

// A trainer's throughput in samples per second, as an exponential moving
// average of the time per sample with bias correction (hivemind's
// PerformanceEMA, alpha 0.1). Pure: the caller passes the time.

#include <cstdint>

namespace colony::optim {

class throughput_ema {
 public:
  explicit throughput_ema(double alpha = 0.1) noexcept : alpha_(alpha) {}

  /// `samples` more were processed by `now` (seconds, any clock). The
  /// first call only starts the clock unless `restart` preceded it.
  void update(uint64_t samples, double now) noexcept;

  /// Time from `now` on counts, time before does not (e.g. after waiting
  /// for an averaging round).
  void restart(double now) noexcept;

  /// Samples per second; 0 before the first measured interval.
  [[nodiscard]] double samples_per_second() const noexcept;

 private:
  double alpha_;
  double seconds_per_sample_ = 0;
  uint64_t updates_ = 0;
  double last_ = 0;
  bool started_ = false;
};

} // namespace colony::optim
