#pragma once

// Group keys and Moshpit group bits. Pure: no actors, no DHT.
//
// Averagers that look for a group declare themselves under the DHT key
// `{prefix}.0b{group_bits}`. With `group_bits` of length d and groups of g
// members, N = g^d peers sit on a d-dimensional grid; after each round every
// member shifts a distinct bucket index into its bits, so the next round
// groups it with peers of other groups, and d rounds mix everyone.

#include "actors/averaging/group_info.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace colony::averaging {

/// Longest group bits string accepted (characters).
constexpr size_t max_group_bits = 128;

/// Longest averaging prefix accepted (bytes).
constexpr size_t max_prefix_size = 256;

/// Most buckets a Moshpit draw may have (a bound on the draw's memory).
constexpr size_t max_moshpit_buckets = size_t{1} << 16;

/// Checks that `bits` is a group bits string: only '0' and '1' (possibly
/// empty), at most `max_group_bits` long. Errors: errc::invalid_argument.
[[nodiscard]] caf::error validate_group_bits(std::string_view bits);

/// Checks that `prefix` is an averaging prefix: non-empty, no '.', at most
/// `max_prefix_size` bytes. Errors: errc::invalid_argument.
[[nodiscard]] caf::error validate_prefix(std::string_view prefix);

/// Returns the group key `{prefix}.0b{bits}` after validating both parts.
[[nodiscard]] caf::expected<std::string> make_group_key(std::string_view prefix,
                                                        std::string_view bits);

/// The number of Moshpit buckets for a group of `group_size`:
/// `target_group_size` if set, else the next power of two of `group_size`
/// (1 for an empty group).
[[nodiscard]] size_t moshpit_buckets(size_t group_size,
                                     std::optional<size_t> target_group_size);

/// Draws `group_size` distinct bucket indices in [0, buckets), the i-th for
/// the group's i-th member, from a generator seeded by `id` alone, so every
/// member of the group draws the same.
///
/// The generator, specified so that any implementation can match it:
/// SplitMix64. With mix(z) its output function (z ^= z >> 30; z *=
/// 0xbf58476d1ce4e5b9; z ^= z >> 27; z *= 0x94d049bb133111eb; z ^= z >> 31),
/// the state starts at 0 and absorbs the id as two little-endian 64-bit
/// words w, state = mix(state ^ w); each draw is state += 0x9e3779b97f4a7c15,
/// then mix(state). A draw below n is r % n for the first r >= 2^64 mod n
/// (no bias). The indices are a partial Fisher-Yates shuffle of
/// 0..buckets-1: for i < group_size, swap position i with i + draw below
/// (buckets - i).
///
/// Errors: errc::invalid_argument if `group_size` > `buckets` or `buckets` >
/// `max_moshpit_buckets`.
[[nodiscard]] caf::expected<std::vector<size_t>>
draw_buckets(const group_id& id, size_t group_size, size_t buckets);

/// Returns the group bits of the member at `index` of a group of
/// `group_size` after the round of group `id`: its drawn bucket index, in
/// ceil(log2(buckets)) bits, shifted in at the right while the oldest bits
/// fall out at the left, keeping the length of `bits` (empty bits stay
/// empty). Deterministic given (id, index, group size, target).
///
/// Errors: errc::invalid_argument for bad bits, `index` >= `group_size`, or
/// a draw `draw_buckets` refuses.
[[nodiscard]] caf::expected<std::string>
next_group_bits(std::string_view bits, const group_id& id, size_t index,
                size_t group_size, std::optional<size_t> target_group_size);

/// The same for `self` in `group`, by its position in the group's order.
/// Errors: errc::invalid_argument also if `self` is not a member.
[[nodiscard]] caf::expected<std::string>
next_group_bits(std::string_view bits, const group_info& group,
                const peer_id& self, std::optional<size_t> target_group_size);

} // namespace colony::averaging
