#pragma once

// The baseline of a remote mixture of experts: the same gating and mixing,
// with every expert of the grid built in this process. It answers "what
// would this architecture reach without a network": no DHT, no calls, no
// failures, exact top-k. Includes <torch/torch.h> (through moe_layer.hpp).

#include "actors/moe/client/moe_layer.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace colony::moe {
class expert_module;
}

namespace colony::trainer {

/// hivemind's RemoteMixtureOfExperts with local experts: gating logits
/// `proj(x)` per grid dimension; an expert's score is the sum of its
/// coordinates' logits; each sample goes to its `k_best` highest-scoring
/// experts, whose outputs are averaged with softmax weights over their
/// scores. Each expert runs once per forward on all of its samples.
class LocalMixtureOfExpertsImpl
    : public torch::nn::Cloneable<LocalMixtureOfExpertsImpl> {
 public:
  /// Experts are `expert_cls` (a registered class) of width `in_features`,
  /// one per cell of `grid_size`. Throws std::invalid_argument for an
  /// unknown class or an empty grid.
  LocalMixtureOfExpertsImpl(int64_t in_features, std::vector<int> grid_size,
                            std::string expert_cls, size_t k_best);

  /// Builds `proj` and the experts afresh.
  void reset() override;

  /// (batch, in_features) -> (batch, in_features).
  at::Tensor forward(const at::Tensor& input);

  /// Sets training mode of the gating and of every expert.
  void train(bool on = true) override;

  /// The gating layer.
  torch::nn::Linear proj{nullptr};

  /// Per sample of the last forward, the indices (row-major over the grid)
  /// of its experts, best first.
  at::Tensor last_chosen;

 private:
  int64_t in_features_;
  std::vector<int> grid_size_;
  std::string expert_cls_;
  size_t k_best_;
  std::vector<std::shared_ptr<moe::expert_module>> experts_;
};

TORCH_MODULE(LocalMixtureOfExperts);

} // namespace colony::trainer
