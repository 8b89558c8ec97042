#pragma once

// What a trainer is told: the `[trainer]` section of a node config. Plain
// data, so configs, tests and benchmarks fill it without LibTorch's module
// headers.

#include "actors/moe/client/moe_options.hpp"
#include "actors/optim/collaborative_options.hpp"
#include "actors/trainer/fashion_mnist.hpp"
#include "messages/tensor_codec.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace colony::trainer {

/// A Fashion-MNIST classifier `784 -> hidden_dim -> DMoE blocks -> 10`
/// trained with Adam; the blocks' experts live on expert servers (or, for
/// a baseline, in this process).
///
/// The call keys (`k_min` to `compression`) are one flat key each, as the
/// config writes them; `call_options()` turns them into the
/// `moe::MoECallOptions` that both kinds of block take. Their defaults
/// differ from the layers' for training on loopback or a LAN: 5 s
/// timeouts, 250 ms after k_min, zero outputs allowed.
struct trainer_options {
  /// `dataset_dir`: where the gzipped IDX files are.
  std::string dataset_dir = fashion_mnist_default_dir;
  /// `classes`: the labels to train and test on (empty: all ten). The head
  /// still has ten outputs.
  std::vector<int64_t> classes;
  /// `hidden_dim`: width between the input layer, the blocks and the head;
  /// the experts' hidden_dim must match.
  int64_t hidden_dim = 128;
  /// `layer`: `moe` (RemoteMixtureOfExperts) or `switch`
  /// (RemoteSwitchMixtureOfExperts, top-1 with a balancing loss).
  std::string layer = "moe";
  /// `grids`: one DMoE block per entry, each a grid of expert uids written
  /// as an expert pattern whose ranges start at 0, e.g. `ffn0.[0:4].[0:4]`.
  std::vector<std::string> grids = {"ffn0.[0:4].[0:4]", "ffn1.[0:4].[0:4]"};
  /// `local_experts`: build every expert of the grids in this process (the
  /// fully local baseline of the same architecture); the DHT is not used.
  bool local_experts = false;
  /// `expert_cls`: the class of local experts (as `colony server`'s).
  std::string expert_cls = "ffn";
  /// `k_best`, `k_min`, `backward_k_min`: as the MoE layer's (switch uses
  /// k_best 1; both blocks take k_min and backward_k_min from here, not
  /// the Switch layer's defaults of 0).
  size_t k_best = 4;
  size_t k_min = 1;
  size_t backward_k_min = 1;
  /// `forward_timeout`, `backward_timeout`: deadlines of the beam search
  /// and of the expert calls.
  std::chrono::milliseconds forward_timeout{5000};
  std::chrono::milliseconds backward_timeout{5000};
  /// `timeout_after_k_min`: once k_min experts answered, how much longer
  /// the others may take (0: until the timeout). Also used for backward.
  std::chrono::milliseconds timeout_after_k_min{250};
  /// `allow_zero_outputs`: samples whose experts all failed get zeros
  /// (moe) or their input (switch) instead of failing the step.
  bool allow_zero_outputs = true;
  /// `detect_anomalies`: refuse NaN/inf; NaN-answering experts count as
  /// failed.
  bool detect_anomalies = false;
  /// `failure_backoff`: how long the search passes over an expert after it
  /// failed a call, doubling per further failure in a row up to
  /// `max_failure_backoff` (0: never; hivemind's behaviour).
  std::chrono::milliseconds failure_backoff{1000};
  std::chrono::milliseconds max_failure_backoff{30000};
  /// `compression`: codec of the tensors the trainer sends.
  compression_type compression = compression_type::none;
  /// `batch_size`: training samples per step.
  size_t batch_size = 128;
  /// `learning_rate`: Adam's, for the trainer's own parameters (and, with
  /// local_experts, the experts').
  double learning_rate = 1e-3;
  /// `balancing_loss_weight`: switch only, the weight of each block's
  /// load-balancing loss.
  double balancing_loss_weight = 0.01;
  /// `max_steps`, `max_time`: training stops at whichever comes first
  /// (0: no limit; at least one must be set).
  uint64_t max_steps = 0;
  std::chrono::milliseconds max_time{0};
  /// `eval_every`: steps between test-set evaluations (0: only at the end).
  uint64_t eval_every = 200;
  /// `eval_samples`: test samples per evaluation (0: all of the split); the
  /// final evaluation always uses all.
  uint64_t eval_samples = 2000;
  /// `report_every`: steps between progress records.
  uint64_t report_every = 10;
  /// `seed`: of parameter init, shuffling and jitter (0: random).
  uint64_t seed = 0;
  /// `init_seed`: of parameter init alone (0: `seed`, or in a collaborative
  /// run one derived from `run_id`, so that its trainers start alike). A
  /// benchmark sets it to compare runs that differ only in how they train.
  uint64_t init_seed = 0;
  /// `wait_for_experts`: at start, how long to wait until every grid has a
  /// declared expert.
  std::chrono::milliseconds wait_for_experts{60000};
  /// `metrics_csv`: write a row per progress record here (empty: none).
  std::string metrics_csv;
  /// `plot`: draw the learning curve into this PNG at the end (needs
  /// gnuplot; empty: none).
  std::string plot;
  /// `collaborative`: the trainer's own parameters (input layer, gating
  /// networks, head) go through a collaborative optimizer, so that the
  /// trainers of one `run_id` train them together; the experts keep
  /// training on their servers. Its options are the `[trainer]` keys of
  /// the same names (`run_id`, `target_batch_size`, `matchmaking_time`,
  /// ...); `batch_size_per_step` is `batch_size`. Every trainer of a run
  /// starts from the same parameters (drawn from the run id).
  bool collaborative = false;
  optim::collaborative_options collaboration;
  /// `max_epochs`: a collaborative trainer also stops once the swarm's
  /// epoch (its local one) reaches this, so that the trainers of a run stop
  /// together with equal parameters (0: no limit).
  uint64_t max_epochs = 0;
  /// `final_parameters`: write the trainer's own parameters (flat, float32
  /// little-endian) here at the end, so that runs can compare them (empty:
  /// none).
  std::string final_parameters;

  /// The call settings of the remote blocks (moe and switch alike) that the
  /// keys above give; `timeout_after_k_min` serves forward and backward.
  [[nodiscard]] moe::MoECallOptions call_options() const {
    std::optional<std::chrono::milliseconds> after_k_min;
    if (timeout_after_k_min.count() > 0) // 0: until the timeout
      after_k_min = timeout_after_k_min;
    return moe::MoECallOptions()
        .k_min(k_min)
        .forward_timeout(forward_timeout)
        .timeout_after_k_min(after_k_min)
        .backward_k_min(backward_k_min)
        .backward_timeout(backward_timeout)
        .backward_timeout_after_k_min(after_k_min)
        .allow_zero_outputs(allow_zero_outputs)
        .detect_anomalies(detect_anomalies)
        .compression(compression)
        .failure_backoff(failure_backoff)
        .max_failure_backoff(max_failure_backoff);
  }
};

} // namespace colony::trainer
