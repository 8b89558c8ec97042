#pragma once

#include "actors/moe/expert_record.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace colony::moe {

/// Fetches prefix dictionaries: given prefixes such as `ffn.3.`, returns for
/// each prefix that exists its active successors keyed by next coordinate
/// (as `decode_prefix_successors` decodes them). A prefix missing from the
/// result, or mapped to no successors, counts as inactive.
///
/// A lookup over a real DHT may time out or reach only some replicas; it
/// returns whatever it found. The search then goes on with what it has: it
/// may return fewer or worse experts, never an error. A lookup may throw to
/// report that it failed as a whole; the search treats that batch as empty
/// but does not negative-cache it.
using successor_lookup =
    std::function<std::map<std::string, std::map<int, expert_info>>(
        const std::vector<std::string>&)>;

/// Says which experts a search passes over (true: skip `uid`), e.g. those
/// an `expert_backoff` holds back.
using expert_filter = std::function<bool(const std::string& uid)>;

/// A prefix in the beam and its score: the sum of the scores of its
/// coordinates so far.
struct beam_entry {
  /// Sum over the prefix's coordinates of their scores.
  double score = 0;

  /// The prefix, e.g. `ffn.3.`.
  std::string prefix;
};

/// Settings of a `beam_searcher` beyond its grid.
struct beam_search_options {
  /// Remember prefixes found inactive and do not ask for them again until
  /// `negative_cache_ttl` passes.
  bool negative_caching = true;

  /// How long a prefix found inactive is skipped (seconds). hivemind keeps
  /// its "no prefix" entries for 300 s as well; a server that starts later
  /// becomes visible after at most this long.
  double negative_cache_ttl = 300;

  /// The same for the grid's root prefix, kept short: a lookup that reached
  /// only frozen or lossy nodes finds no root, and caching that for long
  /// would hide the whole grid after the swarm recovered (seconds).
  double root_negative_cache_ttl = 2;

  /// Time source for the negative cache (seconds, any epoch); a steady clock
  /// if empty. Tests pass a fake clock.
  std::function<double()> clock;
};

/// Search over a grid of experts declared in the DHT (see
/// `expert_declaration.hpp`), in the spirit of hivemind's MoE client: given
/// one score per coordinate of each grid dimension, find the active experts
/// with the highest total score, the sum over dimensions of their
/// coordinate's score.
///
/// The search is exact: its result is the `beam_size` best of all declared
/// experts, as an exhaustive search would rank them (given lookups that
/// return everything declared). It is a best-first (A*) search over the
/// prefix tree. An open prefix is keyed by an upper bound on the scores of
/// the experts below it: the scores of its coordinates plus, per remaining
/// dimension, the highest score of that dimension. A found expert is keyed
/// by its exact score; every dictionary entry names an expert below it, so
/// each entry read is such a candidate. Each round takes the best open
/// prefixes, at most `beam_size` of them and only while fewer than
/// `beam_size` found experts rank before them, and looks all of them up in
/// one call; their active successors become open prefixes (and candidates).
/// An expert that ranks before every open prefix is final; the search stops
/// once `beam_size` experts are final or nothing is open. The first round
/// looks up the root prefix, which lists the first dimension. If the root is
/// not found (lookup failed, or a server that does not declare it), the
/// first-dimension prefixes are probed best first, `beam_size` per round, as
/// hivemind does. The number of rounds depends on the scores: typically a
/// handful when they are random.
///
/// Ranking: higher score first; NaN scores rank lowest; ties go to the
/// smaller coordinates (compared dimension by dimension).
///
/// Not thread-safe: the negative cache is unsynchronized state. Searches run
/// in one actor at a time.
class beam_searcher {
 public:
  /// Searches the grid of uids `uid_prefix` + `grid_size.size()`
  /// coordinates, coordinate `d` in [0, grid_size[d]). `uid_prefix` is a
  /// valid prefix such as `ffn.`. An invalid configuration (bad prefix, empty
  /// grid, non-positive size, empty lookup) makes every search fail with
  /// `errc::invalid_argument`.
  beam_searcher(std::string uid_prefix, std::vector<int> grid_size,
                successor_lookup lookup, bool negative_caching = true);

  /// Same, with all options.
  beam_searcher(std::string uid_prefix, std::vector<int> grid_size,
                successor_lookup lookup, beam_search_options options);

  /// The prefix every searched uid starts with.
  [[nodiscard]] const std::string& uid_prefix() const noexcept {
    return uid_prefix_;
  }

  /// Number of coordinates per grid dimension.
  [[nodiscard]] const std::vector<int>& grid_size() const noexcept {
    return grid_size_;
  }

  /// The configuration error, or none if the searcher is usable.
  [[nodiscard]] const caf::error& config_error() const noexcept {
    return config_error_;
  }

  /// Returns up to `beam_size` active first-dimension prefixes (`ffn.3.`)
  /// with the highest `grid_scores[0]`, best first. `grid_scores[d][i]` is
  /// the score of coordinate `i` in dimension `d` for one sample. In a
  /// one-dimensional grid the prefixes name the experts (`ffn.3.` for
  /// `ffn.3`). Fails with `errc::invalid_argument` if `grid_scores` does not
  /// match the grid or `beam_size` is 0.
  [[nodiscard]] caf::expected<std::vector<beam_entry>>
  get_initial_beam(const std::vector<std::vector<float>>& grid_scores,
                   size_t beam_size);

  /// Looks up `prefixes` in one batch (minus those negative-cached) and
  /// returns the active ones with their valid successors: coordinate within
  /// the grid, record naming a grid expert below the prefix. Prefixes that
  /// are not prefixes of this grid are ignored.
  [[nodiscard]] std::map<std::string, std::map<int, expert_info>>
  get_active_successors(const std::vector<std::string>& prefixes);

  /// Returns up to `beam_size` active experts with the highest total score,
  /// best first, for one sample's `grid_scores` (as in `get_initial_beam`).
  /// Calls the lookup once per round (see the class comment), asking at most
  /// `beam_size` prefixes per call. Experts for which `skip` is true are
  /// passed over as if they were not declared (the search stays exact over
  /// the others).
  [[nodiscard]] caf::expected<std::vector<expert_info>>
  find_best_experts(const std::vector<std::vector<float>>& grid_scores,
                    size_t beam_size, const expert_filter& skip = {});

  /// `find_best_experts` for each sample of `grid_scores[sample][dim][i]`,
  /// with one lookup per round for the union of the prefixes the unfinished
  /// samples expand. Each sample's result equals what `find_best_experts`
  /// would return for it.
  [[nodiscard]] caf::expected<std::vector<std::vector<expert_info>>>
  batch_find_best_experts(
      const std::vector<std::vector<std::vector<float>>>& grid_scores,
      size_t beam_size, const expert_filter& skip = {});

  /// Number of prefixes currently remembered as inactive (expired entries
  /// may still be counted).
  [[nodiscard]] size_t negative_cache_size() const noexcept {
    return negative_cache_.size();
  }

  /// Forgets all prefixes remembered as inactive.
  void clear_negative_cache() noexcept { negative_cache_.clear(); }

  /// Bound on remembered inactive prefixes; past it expired entries are
  /// dropped, then all (entries).
  static constexpr size_t max_negative_cache_entries = size_t{1} << 16;

 private:
  struct search_state;
  struct sample_state;
  struct astar_sample;

  caf::error check_scores(const std::vector<std::vector<float>>& scores,
                          size_t beam_size) const;
  void resolve(search_state& state, const std::vector<std::string>& prefixes);
  void start_beams(search_state& state, std::vector<sample_state>& samples,
                   size_t beam_size);
  std::vector<std::vector<expert_info>>
  run(const std::vector<const std::vector<std::vector<float>>*>& samples,
      size_t beam_size, const expert_filter& skip);
  void remember_inactive(const std::string& prefix, double now);
  double now() const;

  std::string uid_prefix_;
  std::vector<int> grid_size_;
  successor_lookup lookup_;
  beam_search_options options_;
  caf::error config_error_;
  // Inactive prefix -> time until which it is skipped.
  std::unordered_map<std::string, double> negative_cache_;
};

/// The total score of the expert at `coordinates` (one per dimension): the
/// sum, in dimension order and in double precision, of
/// `grid_scores[d][coordinates[d]]`. This is the score `beam_searcher` ranks
/// by. Expects coordinates within the scores' bounds.
[[nodiscard]] double
expert_score(const std::vector<std::vector<float>>& grid_scores,
             const std::vector<int>& coordinates);

} // namespace colony::moe
