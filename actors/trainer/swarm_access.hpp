#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace colony::trainer {

/// Where a trainer's remote layers reach the swarm: a node's actor system,
/// transport and DHT actor (all must outlive the trainer).
struct swarm_access {
  caf::actor_system* system = nullptr;
  caf::actor transport;
  caf::actor dht;
};

} // namespace colony::trainer
