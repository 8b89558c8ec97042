#pragma once

#include "actors/dht/dht_id.hpp"
#include "runtime/peer_id.hpp"

#include <string>

namespace colony::dht {

/// A DHT node as routing tables and lookups see it.
struct node_ref {
  dht_id id;
  peer_id peer;
  std::string address; ///< HOST:PORT
};

} // namespace colony::dht
