#pragma once

#include "runtime/identity.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace colony::trainer {

/// Where a trainer's remote layers reach the swarm: a node's actor system,
/// transport and DHT actor (all must outlive the trainer); for a
/// collaborative trainer also its identity, the address its transport
/// listens on (empty in client mode) and its logger.
struct swarm_access {
  caf::actor_system* system = nullptr;
  caf::actor transport;
  caf::actor dht;
  std::shared_ptr<const identity> me;
  std::string address;
  std::shared_ptr<spdlog::logger> log;
};

} // namespace colony::trainer
