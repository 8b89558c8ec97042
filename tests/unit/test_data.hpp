#pragma once

// Small helpers the unit tests share.

#include "actors/dht/dht_id.hpp"
#include "runtime/peer_id.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace colony::testing {

/// The bytes spelled by a hex string ("0a1b..." -> {0x0a, 0x1b, ...}).
inline std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(
        static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

/// A DHT id drawn from `rng` (reproducible, unlike dht_id::random()).
inline dht::dht_id random_dht_id(std::mt19937_64& rng) {
  dht::dht_id::bytes_type b;
  for (auto& x : b)
    x = static_cast<uint8_t>(rng());
  return dht::dht_id{b};
}

/// A peer id of a key drawn from `rng`.
inline peer_id random_peer(std::mt19937_64& rng) {
  ed25519_public_key key;
  for (auto& b : key)
    b = static_cast<uint8_t>(rng());
  return peer_id::from_public_key(key);
}

} // namespace colony::testing
