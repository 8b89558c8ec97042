#pragma once

// The model a trainer trains: Fashion-MNIST images through
// `Linear(784, d) -> ReLU -> DMoE blocks -> Linear(d, 10)`, where each block
// is a mixture of experts over one grid. Includes <torch/torch.h>.

#include "actors/moe/client/local_mixture_of_experts.hpp"
#include "actors/moe/client/switch_moe_layer.hpp"
#include "actors/trainer/swarm_access.hpp"
#include "actors/trainer/trainer_options.hpp"

#include <torch/optim/adam.h>

#include <memory>
#include <string>
#include <vector>

namespace colony::trainer {

/// The model's answer to a batch.
struct classifier_output {
  /// (batch, 10) class logits.
  at::Tensor logits;
  /// Scalar to add to the loss: the weighted load-balancing losses of
  /// switch blocks (0 otherwise).
  at::Tensor aux_loss;
};

class DmoeClassifierImpl : public torch::nn::Module {
 public:
  /// Blocks follow `options.layer`, `grids` and the call options; with
  /// `options.local_experts` every expert is built here and `swarm` is not
  /// used. Throws std::invalid_argument for options that do not make a
  /// model (bad grid, unknown layer, local switch).
  DmoeClassifierImpl(const trainer_options& options, const swarm_access& swarm,
                     int64_t input_features = 784, int64_t classes = 10);

  /// (batch, input_features) -> logits and auxiliary loss. Throws
  /// std::runtime_error when a block fails (no expert found, too few
  /// answers without allow_zero_outputs).
  classifier_output forward(const at::Tensor& images);

  /// Uids of the remote experts that answered the last forward, all blocks.
  [[nodiscard]] std::vector<std::string> last_answered_experts() const;

  /// The remote blocks' calls so far, summed.
  [[nodiscard]] moe::expert_call_stats call_stats() const;

  torch::nn::Linear input{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  double balancing_loss_weight_;
  std::vector<moe::RemoteMixtureOfExperts> moe_blocks_;
  std::vector<moe::RemoteSwitchMixtureOfExperts> switch_blocks_;
  std::vector<LocalMixtureOfExperts> local_blocks_;
};

TORCH_MODULE(DmoeClassifier);

/// The trainer's model and its optimizer (Adam at `learning_rate`): what
/// every trainer builds, and an auxiliary peer of a collaborative run for
/// the averaged tensors' shapes. Throws std::invalid_argument (options
/// that make no model).
struct trainer_model {
  DmoeClassifier model{nullptr};
  std::shared_ptr<torch::optim::Adam> optimizer;
};
[[nodiscard]] trainer_model make_trainer_model(const trainer_options& options,
                                               const swarm_access& swarm);

} // namespace colony::trainer
