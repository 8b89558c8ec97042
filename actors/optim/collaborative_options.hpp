#pragma once

// The options of a collaborative optimizer, with hivemind's names and
// defaults (`hivemind.Optimizer.__init__`); where colony differs, the field
// says so. Plain data, so configs fill it without LibTorch's headers.

#include "actors/averaging/averaging_compression.hpp"
#include "actors/averaging/role_adaptive_compression.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace colony::optim {

/// How an epoch's gradients are averaged.
enum class grad_averager_kind : uint8_t {
  /// Every gradient element travels (hivemind's GradientAverager).
  plain,
  /// Rank-r factors of the large gradient matrices travel, in two all-reduce
  /// phases, with error feedback (hivemind's PowerSGDGradientAverager;
  /// power_sgd_averager.hpp).
  power_sgd,
};

/// "plain" or "power_sgd".
[[nodiscard]] const char* to_string(grad_averager_kind kind) noexcept;

/// The kind named `text`, or nullopt.
[[nodiscard]] std::optional<grad_averager_kind>
parse_grad_averager_kind(const std::string& text);

/// Most PowerSGD rank accepted (the factors of a rank this high compress
/// no matrix of fewer than 2^17 columns and rows anyway).
constexpr int64_t max_power_sgd_rank = int64_t{1} << 16;

/// How peers train one model together: each accumulates gradients until
/// the swarm together has `target_batch_size` samples, then they average
/// the gradients, step their optimizers, and go to the next epoch.
struct collaborative_options {
  /// Names the run: peers with the same run_id train together. Progress
  /// goes under `{run_id}_progress`, averaging under the prefixes
  /// `{run_id}_grad_averager` and `{run_id}_state_averager`. Required:
  /// non-empty, no '.'.
  std::string run_id;
  /// Samples the swarm accumulates per epoch (one optimizer step). > 0.
  uint64_t target_batch_size = 0;
  /// Samples of a `step()` given no batch size.
  std::optional<uint64_t> batch_size_per_step;

  // -- averaging ----------------------------------------------------------

  /// How long an averaging round looks for its group: the averagers'
  /// `min_matchmaking_time`. A group assembles sooner once every peer the
  /// progress tracker knows at the epoch joined.
  std::chrono::milliseconds matchmaking_time{15000};
  /// Bound of a round's all-reduce (its matchmaking is one search of
  /// `matchmaking_time`: the peers of an epoch arrive together, and a peer
  /// that searched longer would only miss the swarm moving on).
  std::chrono::milliseconds averaging_timeout{60000};
  /// As the averagers' (averager_options.hpp); `allreduce_timeout` given
  /// replaces `averaging_timeout`.
  std::optional<std::chrono::milliseconds> allreduce_timeout;
  std::optional<std::chrono::milliseconds> next_chunk_timeout;
  /// Bound of a state download from peers.
  std::chrono::milliseconds load_state_timeout{600000};
  /// Parameters (and the statistics named below) are averaged every this
  /// many epochs. >= 1.
  uint64_t average_state_every = 1;
  /// Average the state in the background while training goes on (the
  /// averaged values land as deltas under the tensors' lock).
  bool delay_state_averaging = true;
  /// Average gradients in the background: the next epoch's steps go on
  /// while the round runs, and the optimizer step with the averaged
  /// gradients is applied by the first `step()` after it ended (one epoch
  /// late, as hivemind). Not with `reuse_grad_buffers`.
  bool delay_grad_averaging = false;
  /// hivemind runs a delayed optimizer step on its offloaded copy; colony
  /// keeps no offloaded copy, so a delayed step is the delayed gradient
  /// averaging's: nullopt follows `delay_grad_averaging`, true requires it.
  std::optional<bool> delay_optimizer_step;
  /// Step the local optimizer at every `step()` and average parameters at
  /// each epoch instead of averaging gradients.
  bool use_local_updates = false;
  /// Accumulate in the parameters' .grad buffers instead of a copy: the
  /// caller does not zero gradients between steps; batches of equal size.
  bool reuse_grad_buffers = false;
  /// Make no incoming connections' work: never lead a group, reduce no span
  /// (the peer still sends its gradients and downloads state).
  bool client_mode = false;
  /// Help averaging without data: reduce spans for the others, contribute
  /// no gradients; `step()` only joins the swarm's rounds.
  bool auxiliary = false;
  /// Plain gradient averaging or PowerSGD; PowerSGD averages the gradients
  /// under the prefixes `{run_id}_grad_averager` (phase 1) and
  /// `{run_id}_grad_averager_phase2`. Not with use_local_updates.
  grad_averager_kind grad_averager = grad_averager_kind::plain;
  /// Rank of PowerSGD's factors (hivemind's averager_rank, which has no
  /// default; colony's is 4). A gradient matrix whose rank-r factors would
  /// not save half of its elements goes plain. In [1, max_power_sgd_rank].
  int64_t power_sgd_rank = 4;
  /// Codecs of gradients, of averaged state and of downloaded state
  /// (size-adaptive: small tensors stay exact). The averaged state is
  /// role-adaptive: its parameters, optimizer statistics and extra tensors
  /// may each take their own codec (hivemind's RoleAdaptiveCompression).
  averaging::averaging_compression grad_compression;
  averaging::role_adaptive_compression state_averaging_compression;
  compression_type load_state_compression = compression_type::none;
  /// Optimizer statistics averaged with the parameters, e.g. {"exp_avg_sq"}
  /// for Adam (names: optimizer_state.hpp).
  std::vector<std::string> average_opt_statistics;

  // -- colony's additions -------------------------------------------------

  /// Learning rate of every parameter group for an epoch (empty: the
  /// optimizer's own), applied before each epoch's optimizer step, so a
  /// peer that loads state at epoch k gets epoch k's rate.
  std::function<double(uint64_t epoch)> lr_schedule;
  /// As the averagers' options; nullopt: as many as gather.
  std::optional<size_t> target_group_size;
  uint64_t part_size_bytes = uint64_t{512} << 10;
  std::optional<double> bandwidth;
  /// Bounds of the progress tracker's refresh period (hivemind's
  /// min_refresh_period 0.5 s, max_refresh_period 10 s).
  std::chrono::milliseconds min_refresh_period{500};
  std::chrono::milliseconds max_refresh_period{10000};
  /// Seeds the averagers' group ids and orders (0: random).
  uint64_t seed = 0;
  /// Fault injection (benchmarks, the harness): this share of the peer's
  /// gradient rounds fails at random, as a call lost on the network would:
  /// the peer steps with its local gradients and its group misses it.
  double averaging_drop_rate = 0;
};

/// Whether the optimizer step waits for a delayed gradient round.
[[nodiscard]] inline bool
delays_optimizer_step(const collaborative_options& o) noexcept {
  return o.delay_optimizer_step.value_or(o.delay_grad_averaging);
}

/// Checks `options`; the error (errc::invalid_argument) names every
/// problem, one per line.
[[nodiscard]] caf::error validate(const collaborative_options& options);

} // namespace colony::optim
