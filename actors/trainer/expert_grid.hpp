#pragma once

// A DMoE block's grid of expert uids, written as an expert pattern whose
// ranges start at 0: `ffn0.[0:4].[0:8]` is the prefix `ffn0.` with grid
// size {4, 8}, the form the MoE layers take.

#include <caf/expected.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace colony::trainer {

struct expert_grid {
  /// e.g. `ffn0.`
  std::string uid_prefix;
  /// Coordinates per dimension, e.g. {4, 8}.
  std::vector<int> size;
};

/// Parses `pattern`. Fails with `errc::invalid_argument` naming the pattern
/// if it is not an expert pattern, has a fixed coordinate, or a range that
/// does not start at 0.
[[nodiscard]] caf::expected<expert_grid>
parse_expert_grid(std::string_view pattern);

} // namespace colony::trainer
