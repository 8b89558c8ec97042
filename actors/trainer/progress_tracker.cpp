#include "actors/trainer/progress_tracker.hpp"

namespace colony::trainer {

void progress_tracker::on_step(
    double loss, uint64_t samples,
    const std::vector<std::string>& answered_experts) {
  ++steps_;
  samples_ += samples;
  ++window_steps_;
  window_samples_ += samples;
  loss_sum_ += loss;
  window_experts_.insert(answered_experts.begin(), answered_experts.end());
}

void progress_tracker::on_epoch(uint64_t epoch, bool ended, double averaging_s,
                                double swarm_samples_per_s) {
  epoch_ = epoch;
  swarm_samples_per_s_ = swarm_samples_per_s;
  if (ended) {
    ++window_epochs_;
    window_averaging_s_ += averaging_s;
  }
}

training_record progress_tracker::report(double now_s,
                                         const moe::expert_call_stats& calls) {
  training_record r;
  r.time_s = now_s - start_s_;
  r.step = steps_;
  r.samples = samples_;
  // A record without new steps (e.g. an evaluation right after a report)
  // repeats the previous loss rather than claiming 0.
  r.train_loss = window_steps_ > 0
                     ? loss_sum_ / static_cast<double>(window_steps_)
                     : last_.train_loss;
  auto elapsed = now_s - window_start_s_;
  r.samples_per_s = window_steps_ > 0 && elapsed > 0
                        ? static_cast<double>(window_samples_) / elapsed
                        : last_.samples_per_s;
  r.live_experts = window_steps_ > 0
                       ? static_cast<uint32_t>(window_experts_.size())
                       : last_.live_experts;
  const auto& before = calls_at_window_start_;
  auto made = (calls.forward_calls - before.forward_calls) +
              (calls.backward_calls - before.backward_calls);
  auto failed = (calls.forward_failures - before.forward_failures) +
                (calls.backward_failures - before.backward_failures);
  r.failed_calls =
      made > 0 ? static_cast<double>(failed) / static_cast<double>(made) : 0;
  r.epoch = epoch_;
  r.swarm_samples_per_s = swarm_samples_per_s_;
  r.averaging_s = window_epochs_ > 0 ? window_averaging_s_ /
                                           static_cast<double>(window_epochs_)
                                     : 0;
  window_epochs_ = 0;
  window_averaging_s_ = 0;
  loss_sum_ = 0;
  window_steps_ = 0;
  window_samples_ = 0;
  window_experts_.clear();
  window_start_s_ = now_s;
  calls_at_window_start_ = calls;
  last_ = r;
  return r;
}

training_record progress_tracker::report(double now_s,
                                         const moe::expert_call_stats& calls,
                                         double test_accuracy,
                                         double test_loss) {
  auto r = report(now_s, calls);
  r.test_accuracy = test_accuracy;
  r.test_loss = test_loss;
  last_ = r;
  return r;
}

} // namespace colony::trainer
