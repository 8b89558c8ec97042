#pragma once

// collaborative_optimizer: hivemind's `Optimizer` for LibTorch. It wraps a
// torch optimizer over a trainer's parameters so that the trainers of a run
// train one model together: each accumulates gradients over its steps, a
// progress tracker in the DHT tells when the swarm together reached
// `target_batch_size`, and then the peers average their gradients (weighted
// by samples) with an averager, step their optimizers alike, and go to the
// next epoch. Every `average_state_every` epochs they also average the
// parameters (and chosen optimizer statistics) with a second averager; a
// peer that joins late or falls behind downloads the state from a peer.
//
// A blocking façade for one training thread, like the MoE layers: call
// `step()` after each backward pass. The averagers and the tracker are
// actors of the node; the background rounds run on threads of this object.

#include "actors/optim/collaborative_options.hpp"
#include "actors/optim/swarm_endpoint.hpp"
#include "runtime/identity.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace torch::optim {
class Optimizer;
}

namespace colony::optim {

/// What one `step()` did.
struct step_report {
  /// The local epoch after the step.
  uint64_t epoch = 0;
  /// The step ended an epoch: an optimizer step was taken (or, with
  /// delay_grad_averaging, its round started).
  bool epoch_changed = false;
  /// The epoch's gradients were averaged with `group_size` peers (false:
  /// local gradients were used, or the round is delayed).
  bool averaged = false;
  size_t group_size = 0;
  /// Time the gradient round took (matchmaking and all-reduce), if one ran;
  /// with delay_grad_averaging, the time spent waiting for the last round.
  std::chrono::microseconds averaging_time{0};
  /// Bytes this peer sent in the epoch's gradient round, if it averaged
  /// (both phases of PowerSGD).
  uint64_t grad_bytes_sent = 0;
  /// The step found this peer behind the swarm and loaded its state
  /// instead of accumulating.
  bool loaded_state = false;
};

/// Counters and the tracker's view, for logs and progress bars.
struct collaborative_status {
  uint64_t local_epoch = 0;
  uint64_t global_epoch = 0;
  /// Samples this peer accumulated toward its epoch.
  uint64_t local_samples = 0;
  /// Samples the swarm accumulated toward the global epoch.
  uint64_t global_samples = 0;
  /// The swarm's samples per second and its peers, as reported.
  double swarm_samples_per_second = 0;
  size_t peers = 0;
  uint64_t epochs = 0;
  uint64_t grad_rounds_averaged = 0;
  uint64_t grad_rounds_failed = 0;
  /// Bytes this peer sent in the gradient rounds that averaged.
  uint64_t grad_bytes_sent = 0;
  uint64_t state_rounds_averaged = 0;
  uint64_t state_rounds_failed = 0;
  uint64_t states_loaded = 0;
  /// Seconds spent in gradient and state rounds (the training thread's
  /// share only: delayed rounds do not count).
  double averaging_seconds = 0;
};

class collaborative_optimizer {
 public:
  /// Wraps `optimizer` (its parameters are the model's; their state is
  /// initialized here, see optimizer_state.hpp). `extra_tensors` (floating,
  /// contiguous, CPU) are averaged and downloaded with the parameters.
  /// Spawns the progress tracker and the gradient and state averagers on
  /// `swarm`'s node. Blocking.
  /// Errors: invalid_argument (options, an unsupported optimizer, tensors),
  /// and the averagers' and tracker's.
  static caf::expected<std::unique_ptr<collaborative_optimizer>>
  create(swarm_endpoint swarm,
         std::shared_ptr<torch::optim::Optimizer> optimizer,
         collaborative_options options,
         std::vector<at::Tensor> extra_tensors = {});

  /// Waits for background rounds and stops the actors. Destroy it while
  /// the node's actor system still runs: the rounds need its actors.
  ~collaborative_optimizer();

  collaborative_optimizer(const collaborative_optimizer&) = delete;
  collaborative_optimizer& operator=(const collaborative_optimizer&) = delete;

  /// Call after a backward pass over a batch of `batch_size` samples
  /// (nullopt: `batch_size_per_step`; 0: no new gradients, only see whether
  /// the swarm finished the epoch). Consumes the gradients (zeroes them,
  /// unless reuse_grad_buffers); may end the epoch (averaging, optimizer
  /// step), or load the swarm's state if this peer fell behind. An
  /// auxiliary peer calls it with 0 now and then to join the rounds.
  /// Errors: invalid_argument (no batch size); averaging failures are not
  /// errors (the step uses local gradients and logs it).
  caf::expected<step_report>
  step(std::optional<uint64_t> batch_size = std::nullopt);

  /// Downloads parameters, optimizer state and epoch from the peer with the
  /// latest epoch and applies them. Errors: the download's (e.g. nobody
  /// shares state yet).
  caf::error load_state_from_peers();

  /// Waits for the rounds under way (delayed gradients, background state)
  /// and applies them: call before reading the final parameters.
  void finish();

  [[nodiscard]] uint64_t local_epoch() const;
  [[nodiscard]] collaborative_status status() const;

  /// Hold this while reading the parameters for a consistent copy (a
  /// background round writes them under it).
  [[nodiscard]] std::unique_lock<std::mutex> lock_parameters();

  [[nodiscard]] torch::optim::Optimizer& optimizer() noexcept;

 private:
  struct impl;
  explicit collaborative_optimizer(std::unique_ptr<impl> self);
  std::unique_ptr<impl> self_;
};

} // namespace colony::optim
