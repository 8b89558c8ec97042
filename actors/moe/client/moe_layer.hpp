#pragma once

// hivemind's RemoteMixtureOfExperts as a LibTorch module: a gating layer
// scores a grid of experts, beam search over the DHT picks each sample's
// best declared experts, the samples go to their experts' servers (one
// batched call per expert, all concurrently), and the answers are averaged
// with softmax weights over the experts' scores. Includes <torch/torch.h>.

#include "actors/moe/client/expert_backoff.hpp"
#include "actors/moe/client/expert_calls.hpp"
#include "actors/moe/expert_record.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace colony::moe {

class beam_searcher;

/// Settings of a `RemoteMixtureOfExperts`; defaults are hivemind's, except
/// the timeouts, which hivemind leaves unbounded.
struct RemoteMixtureOfExpertsOptions {
  RemoteMixtureOfExpertsOptions(int64_t in_features, std::vector<int> grid_size,
                                std::string uid_prefix)
      : in_features_(in_features), grid_size_(std::move(grid_size)),
        uid_prefix_(std::move(uid_prefix)) {}
  /// Width of the input (and of the experts' inputs).
  TORCH_ARG(int64_t, in_features);
  /// Coordinates per grid dimension, e.g. {4, 8} for `ffn.[0:4].[0:8]`.
  TORCH_ARG(std::vector<int>, grid_size);
  /// The prefix of the grid's uids, e.g. `ffn.`.
  TORCH_ARG(std::string, uid_prefix);
  /// Experts chosen per sample.
  TORCH_ARG(size_t, k_best) = 4;
  /// Answers each forward call round waits for before `timeout_after_k_min`
  /// starts; also the answers a sample needs (see `forward_with_experts`).
  TORCH_ARG(size_t, k_min) = 1;
  /// Deadline of the beam search and of the expert calls, each.
  TORCH_ARG(std::chrono::milliseconds,
            forward_timeout) = std::chrono::seconds(30);
  /// Once `k_min` forward calls answered, how much longer the others may
  /// take; nullopt: until `forward_timeout`.
  TORCH_ARG(std::optional<std::chrono::milliseconds>,
            timeout_after_k_min) = std::nullopt;
  /// `k_min` of the backward calls.
  TORCH_ARG(size_t, backward_k_min) = 1;
  /// Deadline of the backward calls.
  TORCH_ARG(std::chrono::milliseconds,
            backward_timeout) = std::chrono::seconds(30);
  /// `timeout_after_k_min` of the backward calls.
  TORCH_ARG(std::optional<std::chrono::milliseconds>,
            backward_timeout_after_k_min) = std::nullopt;
  /// Samples without any answering expert get zero outputs (and zero input
  /// gradients) instead of an exception.
  TORCH_ARG(bool, allow_zero_outputs) = false;
  /// Refuse NaN/inf inputs and gradients (exception); count experts whose
  /// outputs or input gradients hold NaN/inf as failed.
  TORCH_ARG(bool, detect_anomalies) = false;
  /// Codec of the tensors this side sends.
  TORCH_ARG(compression_type, compression) = compression_type::none;
  /// After an expert fails a call (no answer in time, an error, or, with
  /// `detect_anomalies`, NaN/inf; or an output of the wrong shape), this
  /// layer's search passes it over for this long, doubling with each
  /// further failure in a row up to `max_failure_backoff` (see
  /// `expert_backoff`). Zero: never (hivemind's behaviour).
  TORCH_ARG(std::chrono::milliseconds,
            failure_backoff) = std::chrono::seconds(1);
  /// Cap of `failure_backoff`'s doubling.
  TORCH_ARG(std::chrono::milliseconds,
            max_failure_backoff) = std::chrono::seconds(30);
};

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
