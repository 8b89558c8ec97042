#pragma once

// hivemind's RemoteSwitchMixtureOfExperts as a LibTorch module: top-1
// routing over a grid of remote experts, with multiplicative input jitter
// and grid dropout for the gating in training, the output scaled by the
// gating probability of the chosen expert, a residual fallback for samples
// whose expert did not answer, and the Switch Transformer load-balancing
// loss. Composes a `RemoteMixtureOfExperts` (k_best = 1) for the gating
// layer and the expert calls; the options are in `moe_options.hpp`.
// Includes <torch/torch.h>.

#include "actors/moe/client/moe_layer.hpp"

#include <memory>
#include <utility>

namespace colony::moe {

/// hivemind's RemoteSwitchMixtureOfExperts.
///
/// `forward(x)` with x of shape (batch, in_features) returns (output,
/// balancing_loss). Gating logits `proj(x')` per grid dimension, where x'
/// is x with multiplicative jitter in training; in training, grid dropout
/// sets the logits of dropped coordinates to -inf. A beam search over the
/// DHT finds each sample's best declared expert, which is called through
/// `RemoteMixtureOfExperts::forward_with_experts`. A sample's output is its
/// expert's output times the gating probability of that expert (the
/// product over dimensions of the softmax probability of its coordinate),
/// so the gate learns; a sample whose expert did not answer (or that has
/// none) gets its input back.
///
/// The inner layer makes the calls with `options().calls()`, the settings
/// both layers share; with the Switch defaults (`k_min` and
/// `backward_k_min` 0, `allow_zero_outputs`) neither forward nor backward
/// needs an expert's answer.
///
/// balancing_loss = sum over dimensions d of grid_size[d] * sum over
/// coordinates c of fraction(d, c) * mean_prob(d, c), where fraction is the
/// share of the answered samples routed to coordinate c (no gradient) and
/// mean_prob is the batch mean of the softmax probability of c (with
/// gradient). The fractions also update per-dimension exponential moving
/// averages (`grid_utilization()`, buffers starting uniform).
///
/// Not thread-safe; failures throw `std::runtime_error`.
class RemoteSwitchMixtureOfExpertsImpl
    : public torch::nn::Cloneable<RemoteSwitchMixtureOfExpertsImpl> {
 public:
  RemoteSwitchMixtureOfExpertsImpl(caf::actor_system& system,
                                   caf::actor transport, caf::actor dht,
                                   RemoteSwitchMixtureOfExpertsOptions options);

  /// Creates the inner `RemoteMixtureOfExperts` (and so `proj`) and the
  /// utilization buffers.
  void reset() override;

  /// (output (batch, in_features), scalar balancing loss).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& input);

  /// Per grid dimension, the moving average of the share of samples routed
  /// to each coordinate (sums to 1).
  [[nodiscard]] std::vector<at::Tensor> grid_utilization() const;

  [[nodiscard]] const RemoteSwitchMixtureOfExpertsOptions&
  options() const noexcept {
    return options_;
  }

  /// The inner layer: gating, expert calls, `last_*` of the last forward.
  RemoteMixtureOfExperts moe{nullptr};

  /// The gating layer (the inner layer's `proj`).
  torch::nn::Linear proj{nullptr};

  /// The expert chosen per sample in the last forward (empty if none).
  std::vector<std::string> last_chosen_uids;

  /// Per sample of the last forward: its expert answered.
  at::Tensor last_answered;

 private:
  caf::actor_system* system_;
  caf::actor transport_;
  caf::actor dht_;
  RemoteSwitchMixtureOfExpertsOptions options_;
  std::vector<at::Tensor> utilization_;
};

TORCH_MODULE(RemoteSwitchMixtureOfExperts);

} // namespace colony::moe
