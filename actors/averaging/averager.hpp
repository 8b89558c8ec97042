#pragma once

// The averager actor: one per averaged tensor group. It owns the group's
// tensors (in place: the caller's tensors see the averages), its group
// bits and its matchmaking, serves other averagers through the transport,
// and runs one all-reduce round per step.
//
// Services (registered on the node's transport):
// - `averager/<prefix>/matchmaking`: join, awaitGroup, leave
//   (messages/averaging.capnp, Matchmaking);
// - `averager/<prefix>/allreduce`: the parts a sender streams to this
//   peer's span (messages/averaging.capnp, All-reduce).
// - `averager/<prefix>/state`: served by a state server of its own
//   (state_server.hpp) when `shares_state(options)`; the server declares
//   the averager under `{prefix}.all_averagers` and stops with it.
//
// Message interface (atoms in averaging_atoms.hpp):
// - (step_atom, step_request) -> step_result | error: finds a group through
//   the DHT (retrying while `timeout` lasts), averages with it, updates the
//   group bits. Errors: invalid_argument (a step under way, a bad weight or
//   gathered bytes), group_too_small (too few peers at the last scheduled
//   time), no_group_found (the timeout passed while searching),
//   allreduce_failed (the round could not start, or none of this peer's
//   parts was averaged; the tensors keep their values). A step never
//   leaves a part half-written: each is averaged or keeps its values.
// - (get_group_bits_atom) -> string; (set_group_bits_atom, string) -> unit
//   | error (invalid_argument: not a bits string, or a step under way).
// - (get_state_copy_atom, uint64_t id, part_options) -> state_copy: the
//   tensors as snapshot `id` (parts encoded), with the metadata and
//   priority set below; answered after the current round.
// - (set_state_metadata_atom, bytes) -> unit; (set_state_priority_atom,
//   double) -> unit; (get_state_priority_atom) -> double.
// - (load_state_atom, caf::timespan timeout) -> downloaded_state | error:
//   hivemind's `load_state_from_peers`, through a short-lived state loader
//   (state_loader.hpp) that expects this averager's dtypes and shapes and
//   leaves this peer out. The tensors are not changed: the caller applies
//   the state. Errors: unreachable (nobody shares or served the state),
//   timeout, invalid_argument (a timeout that is not positive).
//
// Tensor access: the averager reads and writes the tensors under
// `tensors_lock` (if given), one part at a time; whoever else writes them
// (a training loop) holds the lock while it does.

#include "actors/averaging/allreduce_messages.hpp"
#include "actors/averaging/averager_options.hpp"
#include "actors/averaging/group_info.hpp"

#include <ATen/core/Tensor.h>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace colony::averaging {

/// What an averager actor is made of.
struct averager_config {
  /// The averaged tensors: floating, dense, contiguous, on the CPU; written
  /// in place. An auxiliary averager only reads their dtypes and shapes.
  std::vector<at::Tensor> tensors;
  /// The node's transport and DHT node actors.
  caf::actor transport;
  caf::actor dht;
  /// This node: its peer id and the address its transport listens on
  /// (empty for a client-mode node).
  peer_contact self;
  averager_options options;
  /// Held while the averager reads or writes the tensors; null: nobody
  /// else writes them.
  std::shared_ptr<std::mutex> tensors_lock;
  std::shared_ptr<spdlog::logger> log;
  /// Seeds group ids and member orders (0: from std::random_device).
  uint64_t seed = 0;
  /// Deadline of a DHT store or lookup.
  std::chrono::milliseconds dht_timeout{5000};
  /// For fault-injection tests only; leave it empty. Called on every part
  /// this averager is about to send (to other members and to its own
  /// span), so that a test member can send garbage: another size, group
  /// id or values. Outgoing values view the tensors: clone before writing.
  std::function<void(part_message&)> tamper_part;
};

/// The service names of an averager of `prefix`.
[[nodiscard]] std::string matchmaking_service(const std::string& prefix);
[[nodiscard]] std::string allreduce_service(const std::string& prefix);
[[nodiscard]] std::string state_service(const std::string& prefix);

/// Checks `config` (options, tensors, actors), spawns the averager and
/// registers its services on the transport. Blocking (it waits for the
/// registration): call it from a thread or a blocking actor, not from an
/// event-based actor's handler.
/// Errors: invalid_argument (bad options or tensors, a missing actor, a
/// node address in client mode or none otherwise), and the transport's.
[[nodiscard]] caf::expected<caf::actor>
spawn_averager(caf::actor_system& system, averager_config config);

} // namespace colony::averaging
