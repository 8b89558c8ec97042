#pragma once

#include "actors/dht/dht_messages.hpp"

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace colony::dht {

/// Blocking calls into a dht_node actor, for CLIs, tests, benchmarks and
/// detached actors (never from an event-based actor's handler).
class dht_client {
 public:
  dht_client(caf::actor_system& system, caf::actor node);

  /// Joins the swarm through the node's initial peers.
  caf::expected<size_t> bootstrap(std::chrono::milliseconds timeout);

  /// Stores each request on the nodes nearest its key; true per request
  /// that at least one replica accepted.
  caf::expected<std::vector<bool>>
  store_many(std::vector<store_request> requests,
             std::chrono::milliseconds timeout);

  /// Stores one value; see `store_many`.
  caf::expected<bool> store(store_request request,
                            std::chrono::milliseconds timeout);

  /// Stores each request as `store_many` does, and says why a request no
  /// replica accepted was refused.
  caf::expected<std::vector<store_reply>>
  store_many_checked(std::vector<store_request> requests,
                     std::chrono::milliseconds timeout);

  /// Stores one value; see `store_many_checked`.
  caf::expected<store_reply> store_checked(store_request request,
                                           std::chrono::milliseconds timeout);

  /// Finds the values of `keys`; `latest` asks every replica on the path
  /// for the newest instead of stopping at the first value found.
  caf::expected<std::vector<get_result>>
  get_many(std::vector<std::string> keys, bool latest,
           std::chrono::milliseconds timeout);

  /// Finds one value; see `get_many`.
  caf::expected<get_result> get(std::string key, bool latest,
                                std::chrono::milliseconds timeout);

  /// Peer ids of the `k` nodes nearest `id_hex` (a lookup).
  caf::expected<std::vector<std::string>>
  find_nearest(const std::string& id_hex, size_t k,
               std::chrono::milliseconds timeout);

  /// Adds `validator` to the node's chain (see add_validator_atom).
  caf::error add_validator(validator_ptr validator,
                           std::chrono::milliseconds timeout);

  caf::expected<dht_stats> stats(std::chrono::milliseconds timeout);

 private:
  caf::scoped_actor self_;
  caf::actor node_;
};

} // namespace colony::dht
