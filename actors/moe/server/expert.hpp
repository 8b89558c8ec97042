#pragma once

// The expert actor: the server-side face of one hosted expert. It answers
// the transport's calls to `expert/<uid>/{forward,backward,info}`, checks
// every request against the expert's schema, feeds its two task pools and
// saves checkpoints through the device (which owns all computation).

#include "actors/moe/expert_description.hpp"
#include "actors/moe/server/expert_backend.hpp"
#include "actors/moe/server/task_pool.hpp"
#include "messages/tensor_codec.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace colony::moe {

/// (save_checkpoint_atom) -> unit | error: saves the expert's state now
/// (in device order). Errors: invalid_argument without a checkpoint dir.
using save_checkpoint_atom = caf::atom_constant<caf::atom("save_ckpt")>;
/// (poison_atom, poison_mode) -> unit (expert_poison.hpp): from now on the
/// expert's replies are poisoned that way (fault injection).
/// Internal: the periodic checkpoint timer.
using checkpoint_tick_atom = caf::atom_constant<caf::atom("ckpt_tick")>;

/// What an expert actor is made of.
struct expert_actor_config {
  std::shared_ptr<expert_backend> backend;
  /// The device actor that runs this expert's batches.
  caf::actor device;
  size_t min_batch_size = 1;
  size_t max_batch_size = 16384;
  /// Codec of replies (outputs and gradients).
  compression_type compression = compression_type::none;
  /// Bounds on received tensors.
  tensor_limits limits;
  /// Saves `<dir>/<uid>/checkpoint_*.pt` every `checkpoint_period` while
  /// the expert changed; empty: no checkpoints.
  std::string checkpoint_dir;
  std::chrono::milliseconds checkpoint_period{30000};
  /// Fault injection: the share (in [0, 1]) of forward and backward
  /// requests the expert silently drops, as if lost: a dropped request is
  /// neither queued nor answered; its caller fails with `timeout` at its
  /// deadline, and it holds nothing on the server (nor the caller's
  /// per-peer quota). `info` is never dropped.
  double drop_rate = 0;
  /// Seed of the drop decisions (0: from std::random_device).
  uint64_t drop_seed = 0;
  std::shared_ptr<spdlog::logger> log;
};

/// The description a server publishes for `config`'s expert.
[[nodiscard]] expert_description
describe_expert(const expert_actor_config& config);

/// Spawns the expert actor and its forward and backward task pools. It
/// serves the transport's `serve_atom` messages for the methods of
/// messages/expert.capnp; register it under `expert_service_prefix(uid)`.
/// Wrong tensor counts, shapes or dtypes fail the call with `bad_shape` or
/// `unknown_dtype` (naming the expected and the received shape) before
/// anything is queued; an unknown method fails with `unknown_service`.
caf::actor spawn_expert(caf::actor_system& system, expert_actor_config config);

} // namespace colony::moe
