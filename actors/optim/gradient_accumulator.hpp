#pragma once

// Gradients summed over a peer's steps until its epoch ends, then handed
// to the averager as one mean gradient per sample: the batch each step saw
// weighs as many samples as it held, so the peers' weighted average equals
// the gradient of one batch made of all their samples.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace colony::optim {

class gradient_accumulator {
 public:
  /// Accumulates the gradients of `parameters`. With `reuse_grad_buffers`
  /// the parameters' own .grad buffers hold the sum (the caller does not
  /// zero them between steps, and every step's batch has the same size),
  /// which saves one copy of the model.
  gradient_accumulator(std::vector<at::Tensor> parameters,
                       bool reuse_grad_buffers);

  /// Adds the gradients the parameters now hold, each the mean over a batch
  /// of `batch_size` samples (> 0). Parameters without a gradient add zero.
  /// Without `reuse_grad_buffers` the caller zeroes the gradients after.
  void accumulate(uint64_t batch_size);

  /// Samples and steps accumulated since the last reset.
  [[nodiscard]] uint64_t samples() const noexcept { return samples_; }
  [[nodiscard]] uint64_t steps() const noexcept { return steps_; }

  /// Writes the mean gradient per sample into `out` (one tensor per
  /// parameter, same shapes); zeros if nothing was accumulated.
  void mean_into(const std::vector<at::Tensor>& out) const;

  /// Forgets what was accumulated (and zeroes the .grad buffers it reuses).
  void reset();

 private:
  std::vector<at::Tensor> parameters_;
  /// Sum over steps of gradient × batch size (empty when reusing buffers).
  std::vector<at::Tensor> sums_;
  bool reuse_grad_buffers_;
  uint64_t samples_ = 0;
  uint64_t steps_ = 0;
};

} // namespace colony::optim
