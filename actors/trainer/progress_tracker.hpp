#pragma once

// Turns a trainer's steps into progress records: mean loss, throughput,
// live experts and the share of failed calls since the previous record.
// Pure logic (time is passed in), so it is tested without a clock.

#include "actors/moe/client/expert_calls.hpp"
#include "actors/trainer/training_record.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace colony::trainer {

class progress_tracker {
 public:
  /// Training started at `start_s` (seconds on any steady clock).
  explicit progress_tracker(double start_s = 0) : start_s_(start_s) {}

  /// A successful step: its loss, samples and the experts that answered.
  void on_step(double loss, uint64_t samples,
               const std::vector<std::string>& answered_experts);

  /// Collaborative training: the epoch after a step, and whether the step
  /// ended an epoch after `averaging_s` seconds of averaging.
  void on_epoch(uint64_t epoch, bool ended, double averaging_s,
                double swarm_samples_per_s);

  /// The record for the steps since the previous record, at `now_s`, with
  /// the calls' totals `calls` (cumulative, as the layers count them).
  training_record report(double now_s, const moe::expert_call_stats& calls);

  /// Like `report`, with a test-set evaluation attached.
  training_record report(double now_s, const moe::expert_call_stats& calls,
                         double test_accuracy, double test_loss);

  /// Leaves `seconds` (e.g. an evaluation) out of the current window's
  /// throughput.
  void exclude_time(double seconds) { window_start_s_ += seconds; }

  /// The last record made (default-constructed before the first).
  [[nodiscard]] const training_record& last() const noexcept { return last_; }

  [[nodiscard]] uint64_t steps() const noexcept { return steps_; }
  [[nodiscard]] uint64_t samples() const noexcept { return samples_; }

 private:
  double start_s_;
  uint64_t steps_ = 0;
  uint64_t samples_ = 0;
  // Since the previous record:
  double loss_sum_ = 0;
  uint64_t window_steps_ = 0;
  uint64_t window_samples_ = 0;
  std::set<std::string> window_experts_;
  double window_start_s_ = start_s_;
  moe::expert_call_stats calls_at_window_start_;
  uint64_t epoch_ = 0;
  double swarm_samples_per_s_ = 0;
  uint64_t window_epochs_ = 0;
  double window_averaging_s_ = 0;
  training_record last_;
};

} // namespace colony::trainer
