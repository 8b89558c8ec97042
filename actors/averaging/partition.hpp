#pragma once

// Splitting the flat vector of an all-reduce among the members of a group.
// Pure: no actors, no tensors.

#include "actors/averaging/group_info.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace colony::averaging {

/// What partitioning needs to know of one member.
struct member_capacity {
  /// Its bandwidth (any unit, the same for all members; finite, >= 0);
  /// nullopt counts as the mean of the others' stated bandwidths.
  std::optional<double> bandwidth;
  peer_mode mode = peer_mode::node;
};

/// The elements [begin, end) of the flat vector one member reduces.
struct vector_span {
  uint64_t begin = 0;
  uint64_t end = 0;

  [[nodiscard]] uint64_t size() const noexcept { return end - begin; }
  [[nodiscard]] bool empty() const noexcept { return begin == end; }

  friend bool operator==(const vector_span& a, const vector_span& b) {
    return a.begin == b.begin && a.end == b.end;
  }
};

/// Splits a vector of `size` elements among `members`: one span per member,
/// contiguous, in member order, summing exactly to `size`.
///
/// A reducer receives every sender's copy of its span and sends the deltas
/// back, so its time is proportional to its span over its bandwidth; the
/// slowest member is fastest when spans are proportional to bandwidth.
/// Client-mode members and members of bandwidth 0 get an empty span; a
/// member whose share would be below `min_vector_size` gets none either and
/// its share goes to the others (the smallest is dropped first), but one
/// reducer is always kept. Fractional shares are rounded by largest
/// remainder (ties to the earlier member).
///
/// Errors: errc::invalid_argument if no member can reduce (none at all,
/// all in client mode or of bandwidth 0) or a bandwidth is negative or not
/// finite.
[[nodiscard]] caf::expected<std::vector<vector_span>>
partition_vector(uint64_t size, const std::vector<member_capacity>& members,
                 uint64_t min_vector_size = 0);

/// The capacities of a group's members, in the group's order.
[[nodiscard]] std::vector<member_capacity>
capacities_of(const group_info& group);

} // namespace colony::averaging
