#pragma once

// An auxiliary peer of a collaborative run (hivemind's Optimizer with
// auxiliary=True, started by `colony run` from a config whose [trainer] has
// `collaborative = true` and `auxiliary = true`): it trains nothing and
// holds no data; it builds the run's model only for its tensor shapes,
// follows the swarm's epoch and joins every gradient and state round,
// reducing a share of each for the trainers. It adds no tensors of its own
// to any average and shares no state with joiners.

#include "actors/optim/collaborative_optimizer.hpp"
#include "actors/trainer/swarm_access.hpp"
#include "actors/trainer/trainer_options.hpp"

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <memory>

namespace colony::trainer {

class auxiliary_peer {
 public:
  /// Builds the model of `options` (which must be collaborative and
  /// auxiliary) and its optimizer, joins the run and starts stepping every
  /// `poll_period`. Blocking (the optimizer reads the run's progress
  /// first). Errors: invalid_argument (not an auxiliary collaborative
  /// trainer, a model the options cannot make), the optimizer's.
  static caf::expected<std::unique_ptr<auxiliary_peer>>
  start(const trainer_options& options, const swarm_access& swarm,
        std::chrono::milliseconds poll_period = std::chrono::milliseconds{50});

  /// Stops stepping, lands the rounds under way and leaves the run.
  ~auxiliary_peer();

  auxiliary_peer(const auxiliary_peer&) = delete;
  auxiliary_peer& operator=(const auxiliary_peer&) = delete;

  /// The optimizer's counters (rounds joined, epoch).
  [[nodiscard]] optim::collaborative_status status() const;

 private:
  struct impl;
  explicit auxiliary_peer(std::unique_ptr<impl> self);
  std::unique_ptr<impl> self_;
};

} // namespace colony::trainer
