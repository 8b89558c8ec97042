#pragma once

// Where `colony bench moshpit` places its peers: a d-dimensional grid of
// side g (the target group size), each peer's initial group bits its
// coordinates but the first, so that the g peers of a row share a key and
// each round's bucket draw (actors/averaging/group_key.hpp) moves them on
// to the next dimension. Pure.

#include <caf/expected.hpp>

#include <cstddef>
#include <string>

namespace colony::apps {

/// The shape of a Moshpit grid of `peers` peers in groups of `group_size`.
struct moshpit_grid {
  /// Dimensions d: the least with group_size^d >= peers (1 for one group).
  size_t dims = 1;
  /// Bits of one coordinate: log2(group_size).
  size_t coordinate_bits = 0;
  /// Length of every peer's group bits: (dims - 1) * coordinate_bits.
  size_t key_bits = 0;
};

/// The grid for `peers` peers in groups of `group_size`.
/// Errors: errc::invalid_argument unless `group_size` is a power of two
/// >= 2 and `peers` >= 2, or if the key would exceed max_group_bits.
[[nodiscard]] caf::expected<moshpit_grid> make_moshpit_grid(size_t peers,
                                                            size_t group_size);

/// The initial group bits of peer `index`: `index / group_size` (its
/// coordinates past the first) in `key_bits` bits, most significant first.
[[nodiscard]] std::string initial_bits(const moshpit_grid& grid, size_t index);

} // namespace colony::apps
