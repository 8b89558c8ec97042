#pragma once

// hivemind's RemoteMixtureOfExperts as a LibTorch module: a gating layer
// scores a grid of experts, beam search over the DHT picks each sample's
// best declared experts, the samples go to their experts' servers (one
// batched call per expert, all concurrently), and the answers are averaged
// with softmax weights over the experts' scores. The options are in
// `moe_options.hpp`. Includes <torch/torch.h>.

#include "actors/moe/client/expert_backoff.hpp"
#include "actors/moe/client/expert_calls.hpp"
#include "actors/moe/client/moe_options.hpp"
#include "actors/moe/expert_record.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace colony::moe {

class beam_searcher;

/// hivemind's RemoteMixtureOfExperts.
///
/// `forward(x)` with x of shape (batch, in_features): gating logits
/// `proj(x)` are split per grid dimension; a beam search over the DHT finds
/// each sample's `k_best` declared experts with the highest score (the sum
/// over dimensions of the logit of the expert's coordinate); then
/// `forward_with_experts` calls them and mixes their answers.
///
/// Calls: the samples routed to one expert go to it in ONE call (hivemind
/// makes one call per sample and expert). All calls run concurrently under
/// `expert_calls.hpp` deadlines, where `k_min` counts answered calls, not
/// answers per sample as in hivemind. Backward sends each expert that
/// answered forward one backward call with its samples' inputs and output
/// gradients (which also applies the expert's optimizer step); gradients of
/// a sample's experts add up; an expert failing in backward contributes
/// zero. The gating weights stay in ordinary autograd, so `proj` learns.
///
/// Experts take one input and return one output of a fixed row shape. Calls
/// block the calling thread: run models in detached actors or plain
/// threads. Not thread-safe (one forward at a time per module). Failures
/// throw `std::runtime_error`.
class RemoteMixtureOfExpertsImpl
    : public torch::nn::Cloneable<RemoteMixtureOfExpertsImpl> {
 public:
  /// Calls go through `transport` (a node's transport actor) of `system`,
  /// which must outlive the module; the beam search reads the DHT through
  /// `dht` (a node's DHT actor; may be null if only `forward_with_experts`
  /// is used).
  RemoteMixtureOfExpertsImpl(caf::actor_system& system, caf::actor transport,
                             caf::actor dht,
                             RemoteMixtureOfExpertsOptions options);

  /// Creates `proj` = Linear(in_features, sum(grid_size)).
  void reset() override;

  /// Mixes the `k_best` best experts of each sample of `input` (batch,
  /// in_features); returns (batch, expert output row shape...). Throws if
  /// the search finds no expert for any sample, and as
  /// `forward_with_experts` does.
  at::Tensor forward(const at::Tensor& input);

  /// The layer after the search: calls `experts[sample]` (any experts, best
  /// first) for each sample of `input` and mixes their answers with softmax
  /// weights over `expert_scores(grid_logits, experts)` of the experts that
  /// answered (the mask). `grid_logits` are the per-dimension gating logits
  /// (batch, grid_size[d]) each. A sample that got fewer than min(k_min,
  /// its number of experts) answers throws unless `allow_zero_outputs`; a
  /// sample without answers (or experts) gets zeros. Sets `last_*`.
  at::Tensor
  forward_with_experts(const at::Tensor& input,
                       const std::vector<at::Tensor>& grid_logits,
                       const std::vector<std::vector<expert_info>>& experts);

  /// Same, with the gating logits of `proj(input)`.
  at::Tensor
  forward_with_experts(const at::Tensor& input,
                       const std::vector<std::vector<expert_info>>& experts);

  /// The beam search: each sample's `k` declared experts with the highest
  /// score under `grid_logits` (per dimension, (batch, grid_size[d]); -inf
  /// excludes a coordinate), best first, within `forward_timeout`. Experts
  /// held back after failures (`failure_backoff`) are passed over, unless
  /// that would leave a sample without any. Throws if the search fails or
  /// finds no expert for any sample.
  std::vector<std::vector<expert_info>>
  find_experts(const std::vector<at::Tensor>& grid_logits, size_t k);

  /// Splits `proj(input)` into per-dimension logits (batch, grid_size[d]).
  std::vector<at::Tensor> grid_logits(const at::Tensor& input);

  /// Scores (batch, slots) of each sample's experts: the sum over dimensions
  /// of `grid_logits[d][sample][coordinate d of the expert]`, differentiable
  /// with respect to the logits; 0 for slots past a sample's list. Throws
  /// for uids that are not on this grid.
  at::Tensor
  expert_scores(const std::vector<at::Tensor>& grid_logits,
                const std::vector<std::vector<expert_info>>& experts) const;

  [[nodiscard]] const RemoteMixtureOfExpertsOptions& options() const noexcept {
    return options_;
  }

  /// The layer's calls so far (backward passes count when they ran).
  [[nodiscard]] expert_call_stats call_stats() const { return *call_stats_; }

  /// The experts this layer holds back after failures.
  [[nodiscard]] const expert_backoff& backoff() const { return *backoff_; }

  /// The gating layer.
  torch::nn::Linear proj{nullptr};

  /// The experts of the last forward, per sample, best first.
  std::vector<std::vector<expert_info>> last_chosen_experts;

  /// The scores (batch, slots) of `last_chosen_experts`.
  at::Tensor last_expert_scores;

  /// The mask (batch, slots) of the last forward: true where the expert
  /// answered.
  at::Tensor last_mask;

 private:
  caf::actor_system* system_;
  caf::actor transport_;
  caf::actor dht_;
  RemoteMixtureOfExpertsOptions options_;
  // Created by the first search; keeps the negative cache between forwards.
  struct search_state;
  std::shared_ptr<search_state> search_;
  // Shared with the autograd records, whose backward runs later.
  std::shared_ptr<expert_call_stats> call_stats_ =
      std::make_shared<expert_call_stats>();
  // Failed experts the search passes over; shared with the autograd
  // records, whose backward reports failures later. Made by reset().
  std::shared_ptr<expert_backoff> backoff_;
};

TORCH_MODULE(RemoteMixtureOfExperts);

} // namespace colony::moe
