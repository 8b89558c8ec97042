#pragma once

#include "actors/dht/dht_options.hpp"
#include "runtime/identity.hpp"
#include "runtime/transport/transport.hpp"

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include <memory>
#include <string>
#include <vector>

namespace colony::apps {

/// Many DHT nodes in one actor system, each with its own identity,
/// transport and TCP listener on loopback, talking over the real wire. For
/// tests and `colony bench dht`; a real deployment runs one per process.
class dht_swarm {
 public:
  /// One DHT node of the swarm.
  struct member {
    std::shared_ptr<const identity> me;
    transport_handle transport;
    caf::actor dht;
    bool alive = true;
  };

  dht_swarm(caf::actor_system& system, dht::dht_options dht_opts,
            transport_options transport_opts, std::string swarm_id = "colony");
  ~dht_swarm();

  /// Starts a node and bootstraps it through `initial_peers` (blocking).
  /// Returns its index.
  caf::expected<size_t> add(const std::vector<std::string>& initial_peers,
                            bool client_mode = false);

  /// Stops node `i` at once (its connections close; peers see it vanish).
  void kill(size_t i);

  [[nodiscard]] member& at(size_t i) { return members_.at(i); }
  [[nodiscard]] size_t size() const noexcept { return members_.size(); }

 private:
  caf::actor_system& system_;
  dht::dht_options dht_opts_;
  transport_options transport_opts_;
  std::string swarm_id_;
  std::vector<member> members_;
};

} // namespace colony::apps
