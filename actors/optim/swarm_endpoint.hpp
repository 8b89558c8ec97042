#pragma once

// Where a training loop's swarm-facing parts (remote layers, the
// collaborative optimizer) reach the swarm: a node's actor system,
// transport and DHT (all outliving them), its identity, the address its
// transport listens on (empty in client mode) and its logger.

#include "runtime/identity.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace colony::optim {

struct swarm_endpoint {
  caf::actor_system* system = nullptr;
  caf::actor transport;
  caf::actor dht;
  std::shared_ptr<const identity> me;
  std::string address;
  std::shared_ptr<spdlog::logger> log;
};

} // namespace colony::optim
