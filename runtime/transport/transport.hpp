#pragma once

#include "runtime/identity.hpp"
#include "runtime/peer_id.hpp"
#include "runtime/transport/transport_options.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace colony {

/// What a node's transport needs to start.
struct transport_config {
  transport_options options;
  /// HOST:PORT to accept connections on (port 0: any free port). Empty:
  /// client mode, no listener; the node only makes calls.
  std::string listen = "127.0.0.1:0";
  /// Peers with another swarm id are refused at the handshake.
  std::string swarm_id = "colony";
  /// The swarm authority: when set, peers must present an access token it
  /// signed for them, and this node presents its own (`access_token_path`).
  std::optional<peer_id> authority;
  /// File holding this node's access token (runtime/access_token.hpp),
  /// read again when it changes; empty: none.
  std::string access_token_path;
  std::shared_ptr<const identity> me;
  std::shared_ptr<spdlog::logger> log;
};

/// A running transport: the broker actor and the address it accepts on.
struct transport_handle {
  caf::actor actor;
  /// "HOST:PORT" bound (empty in client mode).
  std::string address;
};

/// The reason of a `cancelled` error with which a service drops a call
/// (fault injection): the transport forwards nothing, so the caller hears
/// silence until its deadline, as if the request were lost, and the call no
/// longer counts against its peer's quota.
inline constexpr std::string_view dropped_call_reason =
    "dropped unanswered (fault injection)";

/// Spawns colony's transport: an `io::broker` that speaks colony's framed,
/// authenticated wire with other nodes, dispatches incoming calls to the
/// services registered on it, and carries calls of local actors out. It also
/// hosts the built-in `ping` service. Binding errors are returned at once.
///
/// Message interface (atoms in transport_atoms.hpp):
/// - register_service_atom, name, actor -> unit
/// - call_atom, address, service, envelope, timespan -> envelope | error
/// - start_call_atom, address, service, envelope, timespan -> uint64 id;
///   later (call_result_atom, id, envelope | error) to the sender
/// - cancel_atom, id -> unit
/// - get_address_atom -> string;  peers_atom -> vector<string>;
///   connections_atom -> size_t
/// - set_faults_atom, fault_settings -> unit (fault injection: delay, loss,
///   partition of this node's traffic); fault_counters_atom ->
///   fault_counters
/// A service receives (serve_atom, service, caller peer id, envelope) and
/// answers with an envelope or a `caf::error`, whose text reaches the caller.
caf::expected<transport_handle> spawn_transport(caf::actor_system& system,
                                                transport_config config);

} // namespace colony
