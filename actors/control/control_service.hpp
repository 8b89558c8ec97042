#pragma once

// A node's control service: answers `control` calls from the peers its
// config trusts (node.control_peers) with the node's status, and switches
// fault injection (transport faults, poisoned experts) for them. The
// fault-injection harness drives every node of a test swarm through it.

#include "actors/control/node_status.hpp"
#include "actors/trainer/training_record.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace colony::control {

struct control_service_config {
  /// Peer ids (base58, as peer_id::to_string) allowed to call; all others are
  /// told there is no such service.
  std::vector<std::string> allowed_peers;
  caf::actor transport;
  /// The node's DHT actor, if any.
  caf::actor dht;
  std::string peer_id;
  std::string address;
  std::shared_ptr<spdlog::logger> log;
};

/// The experts a node serves, by uid.
struct hosted_experts {
  std::vector<std::pair<std::string, caf::actor>> experts;
};

// Message interface, besides serving `control` for the transport:
/// (attach_experts_atom, hosted_experts) -> unit: experts to report and to
/// poison on request.
using attach_experts_atom = caf::atom_constant<caf::atom("ctl_expts")>;
/// (training_report_atom, training_record, bool finished) -> unit: the
/// node's trainer's latest record.
using training_report_atom = caf::atom_constant<caf::atom("ctl_train")>;
/// (node_status_atom) -> node_status, for actors of the same process.
using node_status_atom = caf::atom_constant<caf::atom("ctl_status")>;

caf::actor spawn_control_service(caf::actor_system& system,
                                 control_service_config config);

} // namespace colony::control

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(colony::control::hosted_experts)
