#pragma once

#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace colony::moe {

// Expert uids, as hivemind names experts on a grid: a name without dots,
// then one coordinate per grid dimension, e.g. `ffn.0.13`. A coordinate is a
// non-negative decimal integer without leading zeros. A prefix is a uid cut
// after a dot (`ffn.`, `ffn.0.`); beam search walks the grid prefix by prefix.

/// The separator between a uid's name and its coordinates.
constexpr char uid_delimiter = '.';

/// Largest coordinate colony accepts (hivemind has no bound; colony keeps
/// coordinates in an `int`).
constexpr int max_uid_coordinate = 0x7fffffff;

/// A uid split into its parts: `ffn.0.13` is {"ffn", {0, 13}}.
struct parsed_uid {
  /// The part before the first dot; never empty, never contains a dot.
  std::string name;

  /// One coordinate per grid dimension; never empty.
  std::vector<int> coordinates;

  friend bool operator==(const parsed_uid& a, const parsed_uid& b) {
    return a.name == b.name && a.coordinates == b.coordinates;
  }
  friend bool operator!=(const parsed_uid& a, const parsed_uid& b) {
    return !(a == b);
  }
};

/// Returns true if `uid` is a valid expert uid (`NAME.N[.N...]`).
[[nodiscard]] bool is_valid_uid(std::string_view uid) noexcept;

/// Returns true if `prefix` is a valid uid prefix: `NAME.` followed by zero
/// or more `N.` coordinates, e.g. `ffn.` or `ffn.0.`.
[[nodiscard]] bool is_valid_prefix(std::string_view prefix) noexcept;

/// Splits `uid` into name and coordinates. Fails with
/// `errc::invalid_argument` naming the uid and what is wrong with it (empty
/// name, missing coordinate, leading zero, non-digit, too large).
[[nodiscard]] caf::expected<parsed_uid> parse_uid(std::string_view uid);

/// Parses `N[.N...]`, the coordinates of a uid without its name: `0.13`
/// gives {0, 13}. Returns nothing for empty or malformed text.
[[nodiscard]] std::optional<std::vector<int>>
parse_coordinates(std::string_view text);

/// Returns the prefixes of a valid uid, shortest first: for `ffn.1.2.3`
/// these are `ffn.`, `ffn.1.`, `ffn.1.2.`. Returns an empty vector if `uid`
/// is not a valid uid.
[[nodiscard]] std::vector<std::string> uid_prefixes(std::string_view uid);

/// Appends `coordinate` to `prefix`: `join_uid("ffn.0.", 3)` is `ffn.0.3`.
/// Expects a valid prefix and a non-negative coordinate.
[[nodiscard]] std::string join_uid(std::string_view prefix, int coordinate);

/// Returns `prefix` followed by `coordinate` and a dot: the prefix one level
/// deeper, e.g. `ffn.0.` and 3 give `ffn.0.3.`.
[[nodiscard]] std::string child_prefix(std::string_view prefix, int coordinate);

/// A set of uids written as hivemind server's `--expert_pattern`, e.g.
/// `ffn.[0:4].[0:8]`: a name, then per dimension either a fixed coordinate
/// or a half-open range `[BEGIN:END]`.
class expert_pattern {
 public:
  /// Parses `text`. Fails with `errc::invalid_argument` naming the pattern
  /// and the bad part (empty name, malformed or empty range, bad number).
  [[nodiscard]] static caf::expected<expert_pattern>
  parse(std::string_view text);

  /// The name before the first dot.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// Per dimension, the half-open range [first, second) of coordinates; a
  /// fixed coordinate N is the range [N, N+1).
  [[nodiscard]] const std::vector<std::pair<int, int>>&
  ranges() const noexcept {
    return ranges_;
  }

  /// Number of uids the pattern spans, saturated at UINT64_MAX.
  [[nodiscard]] uint64_t size() const noexcept;

  /// Returns true if `uid` is one of the pattern's uids.
  [[nodiscard]] bool contains(std::string_view uid) const;

  /// Returns the `index`-th uid in order (last coordinate varies fastest).
  /// Expects `index < size()`.
  [[nodiscard]] std::string uid_at(uint64_t index) const;

  /// Returns all uids in order, last coordinate varying fastest. Fails with
  /// `errc::too_large` if there are more than `max_uids`.
  [[nodiscard]] caf::expected<std::vector<std::string>>
  expand(size_t max_uids = default_max_expanded_uids) const;

  /// Bound on `expand` so a typo such as `[0:100000000]` fails instead of
  /// exhausting memory (uids).
  static constexpr size_t default_max_expanded_uids = size_t{1} << 20;

 private:
  std::string name_;
  std::vector<std::pair<int, int>> ranges_;
};

/// Parses `pattern` and returns all its uids, e.g. `ffn.[0:4].[0:8]` gives
/// the 32 uids `ffn.0.0` ... `ffn.3.7`.
[[nodiscard]] caf::expected<std::vector<std::string>> expand_expert_pattern(
    std::string_view pattern,
    size_t max_uids = expert_pattern::default_max_expanded_uids);

/// Draws `count` distinct uids of `pattern` uniformly at random with `rng`,
/// skipping those in `taken` (e.g. uids already declared in the DHT by other
/// servers). Fails with `errc::invalid_argument` if the pattern is malformed
/// or has fewer than `count` uids outside `taken`. The result is in the
/// order drawn.
[[nodiscard]] caf::expected<std::vector<std::string>>
sample_expert_uids(std::string_view pattern, size_t count, std::mt19937_64& rng,
                   const std::unordered_set<std::string>& taken = {});

} // namespace colony::moe
