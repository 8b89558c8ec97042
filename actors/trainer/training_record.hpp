#pragma once

// What a trainer reports as it goes: one record per progress report (every
// few steps) and per test-set evaluation. The metrics CSV holds one row per
// record; progress bars and the swarm launcher read the same fields.

#include <cstdint>
#include <optional>

namespace colony::trainer {

struct training_record {
  /// Seconds since training started.
  double time_s = 0;
  /// Optimizer steps taken so far.
  uint64_t step = 0;
  /// Training samples seen so far.
  uint64_t samples = 0;
  /// Mean training loss over the steps since the previous record.
  double train_loss = 0;
  /// Training samples per second over the steps since the previous record.
  double samples_per_s = 0;
  /// Distinct experts that answered forward calls since the previous record.
  uint32_t live_experts = 0;
  /// Share of expert calls (forward and backward) that failed or timed out
  /// since the previous record, in [0, 1].
  double failed_calls = 0;
  /// Set on records made right after a test-set evaluation.
  std::optional<double> test_accuracy;
  std::optional<double> test_loss;
  /// Collaborative training: the trainer's epoch (optimizer steps of the
  /// swarm), and the seconds its training thread spent averaging per epoch
  /// ended since the previous record (0 if none ended). Both 0 otherwise.
  uint64_t epoch = 0;
  double averaging_s = 0;
  /// Collaborative training: the swarm's samples per second, as its peers
  /// report them (not in the metrics CSV).
  double swarm_samples_per_s = 0;
};

} // namespace colony::trainer
