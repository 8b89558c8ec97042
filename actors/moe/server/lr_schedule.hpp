#pragma once

// Learning rate schedules of an expert's optimizer, as multipliers of the
// base learning rate per optimizer step (PyTorch's LambdaLR): the step with
// index k (0-based) uses base_lr * factor(k).

#include <caf/expected.hpp>

#include <cstdint>
#include <string>

namespace colony::moe {

/// A learning rate schedule: constant, or linear warm-up then linear decay
/// (transformers' `get_linear_schedule_with_warmup`).
class lr_schedule {
 public:
  /// Factor 1 at every step.
  lr_schedule() = default;

  /// Factor step/warmup_steps during warm-up, then a linear decay to 0 at
  /// `training_steps`; 0 afterwards.
  [[nodiscard]] static lr_schedule
  linear_warmup(int64_t warmup_steps, int64_t training_steps) noexcept;

  /// The schedule named `name`: "none" (constant) or "linear" (warm-up then
  /// decay). Errors: invalid_argument for another name, for negative step
  /// counts, or for "linear" with `training_steps` <= 0.
  [[nodiscard]] static caf::expected<lr_schedule>
  parse(const std::string& name, int64_t warmup_steps, int64_t training_steps);

  /// The multiplier of the base learning rate at optimizer step `step`.
  [[nodiscard]] double factor(int64_t step) const noexcept;

  /// "none" or "linear".
  [[nodiscard]] const char* name() const noexcept;

  /// Returns true for the constant schedule.
  [[nodiscard]] bool is_constant() const noexcept { return !linear_; }

 private:
  bool linear_ = false;
  int64_t warmup_steps_ = 0;
  int64_t training_steps_ = 0;
};

/// The constant schedule (factor 1).
[[nodiscard]] inline lr_schedule constant_schedule() noexcept {
  return {};
}

/// Warm-up for `warmup_steps`, then linear decay to 0 at `training_steps`.
[[nodiscard]] inline lr_schedule
linear_warmup_schedule(int64_t warmup_steps, int64_t training_steps) noexcept {
  return lr_schedule::linear_warmup(warmup_steps, training_steps);
}

} // namespace colony::moe
