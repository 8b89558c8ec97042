#pragma once

// A deterministic replacement for libsodium's RNG, so that keys and nonces
// are the same in every run: seeds can then carry valid signatures of them,
// and a finding reproduces. Install it before anything starts libsodium
// (sodium_init fixes the RNG on its first call).

#include <sodium.h>

#include <cstddef>
#include <cstdint>

namespace colony::fuzz {

inline uint64_t rng_state = 0;

/// Restarts the sequence: the next random bytes depend on `state` alone.
inline void reset_rng(uint64_t state) {
  rng_state = state;
}

inline uint64_t next_random() {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull); // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Installs the deterministic RNG and starts libsodium; false on failure.
inline bool install_deterministic_rng() {
  static randombytes_implementation impl = {
      [] { return "colony-fuzz"; },
      [] { return static_cast<uint32_t>(next_random()); },
      nullptr,
      [](uint32_t upper) {
        return upper < 2 ? 0u : static_cast<uint32_t>(next_random() % upper);
      },
      [](void* buf, size_t n) {
        auto* p = static_cast<uint8_t*>(buf);
        for (size_t i = 0; i < n; ++i)
          p[i] = static_cast<uint8_t>(next_random());
      },
      nullptr};
  return randombytes_set_implementation(&impl) == 0 && sodium_init() >= 0;
}

} // namespace colony::fuzz
