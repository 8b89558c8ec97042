#pragma once

// Downloading an averager's state from the peers that share it (hivemind's
// `load_state_from_peers`). A short-lived actor looks up the peers declared
// under `{prefix}.all_averagers`, asks them in order of priority (highest
// first, ties in random order, itself left out) and downloads the first
// complete state it gets: several part requests in flight, every part
// checked by a `state_assembler` before it is written. Any failure of a
// peer (an error, a timeout, a bad part, a snapshot it dropped) moves on to
// the next peer.
//
// Message interface of the loader: (load_state_atom) -> downloaded_state |
// error, answered once; then the loader stops. An averager answers
// (load_state_atom, caf::timespan timeout) the same way, through a loader
// of its own (averager.hpp).

#include "actors/averaging/averaging_atoms.hpp"
#include "actors/averaging/state_codec.hpp"
#include "actors/averaging/state_messages.hpp"
#include "actors/averaging/state_transfer.hpp"
#include "runtime/peer_id.hpp"

#include <ATen/core/Tensor.h>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace colony::averaging {

/// Part requests a download keeps in flight to one peer by default: enough
/// to hide a round trip per part, few enough to bound what arrives at once.
constexpr uint32_t default_state_parts_in_flight = 4;

/// What a state loader is made of.
struct state_loader_config {
  /// The node's transport and DHT node.
  caf::actor transport;
  caf::actor dht;
  /// This node's peer id: never asked (nil: nobody is left out).
  peer_id self;
  /// The averager's prefix: the peers are those under
  /// `state_declaration_key(prefix)`, serving `state_service(prefix)`.
  std::string prefix;
  /// Bound of the whole download, lookup included: past it the loader
  /// answers errc::timeout. Positive.
  std::chrono::milliseconds timeout{60000};
  /// Deadline of one part request (within `timeout`). Positive.
  std::chrono::milliseconds request_timeout{30000};
  /// Deadline of the DHT lookup (within `timeout`). Positive.
  std::chrono::milliseconds dht_timeout{5000};
  /// Part requests in flight to one peer, at least 1.
  uint32_t parts_in_flight = default_state_parts_in_flight;
  /// The downloader's own state tensors: a peer whose tensors differ in
  /// number, dtype or shape is given up (and nothing is allocated beyond
  /// them). nullopt: any state within `limits`.
  std::optional<std::vector<state_tensor_info>> expected;
  /// Bounds of what a peer may send.
  state_limits limits;
  std::shared_ptr<spdlog::logger> log;
  /// Seeds the order of peers of equal priority (0: from
  /// std::random_device).
  uint64_t seed = 0;
};

/// The dtypes and shapes of `tensors`, as a loader's `expected`.
[[nodiscard]] std::vector<state_tensor_info>
state_tensor_infos(const std::vector<at::Tensor>& tensors);

/// Spawns a loader: send it (load_state_atom) once.
/// Errors: invalid_argument (a missing actor or logger, an empty prefix, a
/// timeout that is not positive, no part in flight).
[[nodiscard]] caf::expected<caf::actor>
spawn_state_loader(caf::actor_system& system, state_loader_config config);

/// Downloads the state and waits for it: for C++ callers outside actors
/// (a training thread). Blocking; never call it from an event-based
/// actor's handler (send the loader or averager `load_state_atom`
/// instead).
/// Errors: unreachable (no peer shares the state, or none of them served
/// it; the text names each peer's failure), timeout (`timeout` passed),
/// and those of `spawn_state_loader`.
[[nodiscard]] caf::expected<downloaded_state>
load_state_from_peers(caf::actor_system& system, state_loader_config config);

} // namespace colony::averaging
