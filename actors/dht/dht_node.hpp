#pragma once

#include "actors/dht/dht_messages.hpp"
#include "actors/dht/dht_options.hpp"
#include "runtime/identity.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace colony::dht {

/// What a DHT node needs from the node that hosts it.
struct dht_node_config {
  dht_options options;
  std::shared_ptr<const identity> me;
  /// HOST:PORT others reach this node at (empty in client mode).
  std::string address;
  /// The node's transport; the DHT registers itself there as `dht`.
  caf::actor transport;
  std::vector<std::string> initial_peers;
  std::shared_ptr<spdlog::logger> log;
};

/// Spawns a Kademlia DHT node actor (hivemind's DHT semantics): routing
/// table, storage and cache, iterative parallel lookups, replication to new
/// neighbours, signed records. Its messages are in dht_messages.hpp; peers
/// reach it through the transport's `dht` service (messages/dht.capnp).
/// Send it `bootstrap_atom` once to join through the initial peers.
caf::actor spawn_dht_node(caf::actor_system& system, dht_node_config config);

} // namespace colony::dht
