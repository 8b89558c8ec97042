#pragma once

// The state server: serves a state-sharing averager's state to peers that
// download it (hivemind's `rpc_download_state`), and declares the averager
// in the DHT so that they find it. One per sharing averager; it stops when
// the averager stops.
//
// Service `averager/<prefix>/state` (messages/averaging.capnp, State
// download), a `StateRequest` in, a `StatePart` out:
// - snapshot 0, part 0 -> asks the averager for a state copy, freezes it as
//   a snapshot with a fresh nonzero id and answers its part 0. Requests
//   that come while a copy is on its way share it.
// - snapshot S, part i -> part i of snapshot S.
// - errors: malformed (bytes that do not decode), invalid_argument (a
//   snapshot this server does not hold: never made, or dropped; a part
//   index past the snapshot's parts), and the averager's (no copy).
// The server keeps `max_snapshots` snapshots, the newest, and drops those
// no request used for `snapshot_idle_timeout`, so that its memory stays
// within that many copies of the state.
//
// DHT: every `declare_state_period` (and at once) it stores a
// `StateDeclaration` with the averager's current priority under
// `{prefix}.all_averagers` (state_declaration.hpp); when it stops it
// stores a withdrawal.

#include "actors/averaging/detail/snapshot_store.hpp"
#include "actors/averaging/group_info.hpp"
#include "actors/averaging/tensor_parts.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace colony::averaging {

/// Longest wait for the averager's state copy (it waits for a running
/// all-reduce round to end).
constexpr std::chrono::milliseconds default_state_copy_timeout{60000};

/// What a state server is made of.
struct state_server_config {
  /// The averager whose state is served: answers get_state_copy_atom and
  /// get_state_priority_atom. The server stops when it does.
  caf::actor averager;
  /// The node's transport and DHT node.
  caf::actor transport;
  caf::actor dht;
  /// This node: its peer id and the address its transport listens on.
  peer_contact self;
  /// The averager's prefix: the service is `state_service(prefix)`, the
  /// declarations go under `state_declaration_key(prefix)`.
  std::string prefix;
  std::chrono::milliseconds declare_state_period{30000};
  /// Part size and codec of the snapshots (`part_size_bytes`,
  /// `state_compression`).
  part_options parts;
  size_t max_snapshots = detail::default_max_snapshots;
  std::chrono::milliseconds snapshot_idle_timeout =
      detail::default_snapshot_idle_timeout;
  std::chrono::milliseconds copy_timeout = default_state_copy_timeout;
  /// Deadline of a DHT store and of asking the averager for its priority.
  std::chrono::milliseconds dht_timeout{5000};
  std::shared_ptr<spdlog::logger> log;
  /// Seeds snapshot ids (0: from std::random_device).
  uint64_t seed = 0;
};

/// Spawns a state server and registers `state_service(prefix)` on the
/// transport. Blocking (it waits for the registration): call it from a
/// thread or a blocking actor.
/// Errors: invalid_argument (a missing actor or logger, no peer id or
/// address, an empty prefix, a period or timeout that is not positive, a
/// part size of 0), and the transport's.
[[nodiscard]] caf::expected<caf::actor>
spawn_state_server(caf::actor_system& system, state_server_config config);

} // namespace colony::averaging
