#pragma once

// How a collaborative optimizer averages an epoch's gradients: plain (one
// averager over the gradients themselves) or PowerSGD (power_sgd_averager).
// Both average the gradient tensors given at creation in place and leave
// them at their local values when a round fails.

#include "actors/averaging/averaging_step.hpp"
#include "actors/averaging/decentralized_averager.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace colony::optim {

class gradient_averager {
 public:
  virtual ~gradient_averager() = default;

  /// Hold this while writing the gradients (the averager reads and writes
  /// them only under it).
  [[nodiscard]] virtual std::unique_lock<std::mutex> lock_tensors() = 0;

  /// The group bits of the next round (peers of one epoch share them).
  virtual caf::error set_group_bits(std::string bits) = 0;

  /// One round: averages the gradients in place, weighted by
  /// `request.weight`. Blocks until it ends. On error the gradients keep
  /// their local values. Errors as decentralized_averager::step.
  virtual caf::expected<averaging::step_result>
  step(averaging::step_request request) = 0;
};

/// Plain averaging: one averager whose tensors are the gradients.
class plain_gradient_averager final : public gradient_averager {
 public:
  explicit plain_gradient_averager(
      std::unique_ptr<averaging::decentralized_averager> averager)
      : averager_(std::move(averager)) {}

  std::unique_lock<std::mutex> lock_tensors() override {
    return averager_->lock_tensors();
  }

  caf::error set_group_bits(std::string bits) override {
    return averager_->set_group_bits(std::move(bits));
  }

  caf::expected<averaging::step_result>
  step(averaging::step_request request) override {
    return averager_->step(std::move(request));
  }

 private:
  std::unique_ptr<averaging::decentralized_averager> averager_;
};

} // namespace colony::optim
