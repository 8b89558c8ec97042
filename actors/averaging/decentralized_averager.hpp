#pragma once

// decentralized_averager: the blocking façade over an averager actor for a
// program's own thread (a LibTorch training loop), as hivemind's
// DecentralizedAverager is used: create it over the tensors to average,
// call step() now and then, write the tensors only under lock_tensors().
// The actor's message interface (averager.hpp, averaging_atoms.hpp) stays
// available through actor() for actors that average without blocking.

#include "actors/averaging/averager.hpp"
#include "actors/averaging/averager_status.hpp"
#include "actors/averaging/averaging_step.hpp"
#include "actors/averaging/state_transfer.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace colony::averaging {

class decentralized_averager {
 public:
  /// Spawns an averager over `config.tensors` (its lock is created if
  /// `config.tensors_lock` is null). Blocking. Errors as spawn_averager.
  static caf::expected<std::unique_ptr<decentralized_averager>>
  create(caf::actor_system& system, averager_config config);

  /// Stops the averager (a step under way ends with it).
  ~decentralized_averager();

  decentralized_averager(const decentralized_averager&) = delete;
  decentralized_averager& operator=(const decentralized_averager&) = delete;

  /// One averaging step with `weight`, handing `gathered` to every member;
  /// `timeout` bounds the search for a group (nullopt: one search).
  /// Blocks until the round ends. Errors as the step message (averager.hpp).
  caf::expected<step_result>
  step(double weight = 1, std::string gathered = {},
       std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  /// One averaging step as `request` asks (e.g. with an expected group
  /// size). Blocks until the round ends.
  caf::expected<step_result> step(step_request request);

  /// hivemind's load_state_from_peers: the state of the peer with the
  /// highest declared priority (never this one), or an error (unreachable,
  /// timeout). The tensors are not changed: see apply_state.
  caf::expected<downloaded_state>
  load_state_from_peers(std::chrono::milliseconds timeout);

  /// Copies `state`'s tensors into the averaged tensors under the lock.
  /// Errors: invalid_argument if their count, shapes or dtypes differ.
  caf::error apply_state(const downloaded_state& state);

  /// What later state copies carry: metadata (e.g. the training step) and
  /// the priority peers choose a state by (higher first).
  void set_state_metadata(std::string metadata);
  void set_state_priority(double priority);

  [[nodiscard]] std::string group_bits();
  caf::error set_group_bits(std::string bits);
  [[nodiscard]] averager_status status();

  /// The averaged tensors (the averager writes them in place).
  [[nodiscard]] const std::vector<at::Tensor>& tensors() const noexcept {
    return tensors_;
  }

  /// Hold this while writing the tensors (e.g. an optimizer step): the
  /// averager reads and writes them only under it, one part at a time.
  [[nodiscard]] std::unique_lock<std::mutex> lock_tensors() {
    return std::unique_lock<std::mutex>{*lock_};
  }

  [[nodiscard]] const caf::actor& actor() const noexcept { return actor_; }

 private:
  decentralized_averager(caf::actor_system& system, caf::actor actor,
                         std::vector<at::Tensor> tensors,
                         std::shared_ptr<std::mutex> lock);

  caf::actor_system& system_;
  caf::actor actor_;
  std::vector<at::Tensor> tensors_;
  std::shared_ptr<std::mutex> lock_;
};

} // namespace colony::averaging
