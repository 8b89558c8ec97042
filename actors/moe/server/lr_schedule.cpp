#include "actors/moe/server/lr_schedule.hpp"

#include "messages/error.hpp"

#include <algorithm>

namespace colony::moe {

lr_schedule lr_schedule::linear_warmup(int64_t warmup_steps,
                                       int64_t training_steps) noexcept {
  lr_schedule result;
  result.linear_ = true;
  result.warmup_steps_ = warmup_steps;
  result.training_steps_ = training_steps;
  return result;
}

caf::expected<lr_schedule> lr_schedule::parse(const std::string& name,
                                              int64_t warmup_steps,
                                              int64_t training_steps) {
  if (warmup_steps < 0 || training_steps < 0)
    return make_error(errc::invalid_argument,
                      "learning rate schedule: negative step count (warm-up " +
                          std::to_string(warmup_steps) + ", training " +
                          std::to_string(training_steps) + ")");
  if (name == "none" || name.empty())
    return lr_schedule{};
  if (name == "linear") {
    if (training_steps <= 0)
      return make_error(errc::invalid_argument,
                        "learning rate schedule linear needs a positive "
                        "number of training steps");
    return linear_warmup(warmup_steps, training_steps);
  }
  return make_error(errc::invalid_argument, "unknown learning rate schedule '" +
                                                name +
                                                "' (expected none or linear)");
}

double lr_schedule::factor(int64_t step) const noexcept {
  if (!linear_)
    return 1.0;
  if (step < warmup_steps_)
    return static_cast<double>(step) /
           static_cast<double>(std::max<int64_t>(1, warmup_steps_));
  return std::max(0.0, static_cast<double>(training_steps_ - step) /
                           static_cast<double>(std::max<int64_t>(
                               1, training_steps_ - warmup_steps_)));
}

const char* lr_schedule::name() const noexcept {
  return linear_ ? "linear" : "none";
}

} // namespace colony::moe
