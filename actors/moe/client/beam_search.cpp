#include "actors/moe/client/beam_search.hpp"

#include "actors/moe/expert_uid.hpp"
#include "messages/error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace colony::moe {

namespace {

// NaN ranks below everything, so sorting stays a strict weak order.
double rank_key(double score) noexcept {
  return std::isnan(score) ? -std::numeric_limits<double>::infinity() : score;
}

// True if (a_score, a_coords) ranks before (b_score, b_coords).
bool ranks_before(double a_score, const std::vector<int>& a_coords,
                  double b_score, const std::vector<int>& b_coords) {
  auto a = rank_key(a_score);
  auto b = rank_key(b_score);
  if (a != b)
    return a > b;
  return a_coords < b_coords;
}

// A usable dictionary entry: a grid expert below the looked-up prefix.
struct successor {
  int coordinate;
  expert_info info;
  std::vector<int> coordinates; // the expert's grid coordinates
};

// A prefix in a sample's beam.
struct beam_node {
  double score;
  std::vector<int> coordinates;
  std::string prefix;
};

// An expert a sample may return; points into the search's memo.
struct candidate {
  double score;
  const successor* expert;
};

} // namespace

// What one search (single or batch) learned from the lookup, so no prefix is
// asked twice per search. Node-based map: pointers into it stay valid.
struct beam_searcher::search_state {
  double now = 0;
  // prefix -> its valid successors, or nothing if inactive.
  std::unordered_map<std::string, std::optional<std::vector<successor>>> memo;

  const std::vector<successor>* active(const std::string& prefix) const {
    auto i = memo.find(prefix);
    return i != memo.end() && i->second ? &*i->second : nullptr;
  }
};

struct beam_searcher::sample_state {
  const std::vector<std::vector<float>>* scores = nullptr;
  std::vector<beam_node> beam;
  std::vector<candidate> candidates;
  // uid -> index in candidates: an expert seen at several levels counts once.
  std::unordered_map<std::string_view, size_t> seen;

  void add_candidate(const successor& expert) {
    auto [i, added] = seen.emplace(expert.info.uid, candidates.size());
    if (added)
      candidates.push_back(
          candidate{expert_score(*scores, expert.coordinates), &expert});
    else // the deeper level's record is the expert's own slot: prefer it
      candidates[i->second].expert = &expert;
  }
};

double expert_score(const std::vector<std::vector<float>>& grid_scores,
                    const std::vector<int>& coordinates) {
  double total = 0;
  for (size_t d = 0; d < coordinates.size(); ++d)
    total += static_cast<double>(
        grid_scores[d][static_cast<size_t>(coordinates[d])]);
  return total;
}

beam_searcher::beam_searcher(std::string uid_prefix, std::vector<int> grid_size,
                             successor_lookup lookup, bool negative_caching)
    : beam_searcher(std::move(uid_prefix), std::move(grid_size),
                    std::move(lookup), [&] {
                      beam_search_options options;
                      options.negative_caching = negative_caching;
                      return options;
                    }()) {
  // nop
}

beam_searcher::beam_searcher(std::string uid_prefix, std::vector<int> grid_size,
                             successor_lookup lookup,
                             beam_search_options options)
    : uid_prefix_(std::move(uid_prefix)), grid_size_(std::move(grid_size)),
      lookup_(std::move(lookup)), options_(std::move(options)) {
  auto bad = [this](const std::string& why) {
    config_error_ =
        make_error(errc::invalid_argument,
                   "bad beam search over '" + uid_prefix_ + "': " + why);
  };
  if (!is_valid_prefix(uid_prefix_))
    bad("not a uid prefix (expected NAME. or NAME.N.)");
  else if (grid_size_.empty())
    bad("empty grid");
  else if (std::any_of(grid_size_.begin(), grid_size_.end(),
                       [](int n) { return n <= 0; }))
    bad("grid sizes must be positive");
  else if (!lookup_)
    bad("no lookup function");
  else if (!(options_.negative_cache_ttl >= 0))
    bad("negative cache TTL must be non-negative");
}

double beam_searcher::now() const {
  if (options_.clock)
    return options_.clock();
  using seconds = std::chrono::duration<double>;
  return std::chrono::duration_cast<seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

caf::error
beam_searcher::check_scores(const std::vector<std::vector<float>>& scores,
                            size_t beam_size) const {
  if (config_error_)
    return config_error_;
  if (beam_size == 0)
    return make_error(errc::invalid_argument, "beam size must be positive");
  if (scores.size() != grid_size_.size())
    return make_error(errc::invalid_argument,
                      "grid scores have " + std::to_string(scores.size()) +
                          " dimensions, the grid has " +
                          std::to_string(grid_size_.size()));
  for (size_t d = 0; d < scores.size(); ++d)
    if (scores[d].size() != static_cast<size_t>(grid_size_[d]))
      return make_error(errc::invalid_argument,
                        "grid scores of dimension " + std::to_string(d) +
                            " have " + std::to_string(scores[d].size()) +
                            " entries, the grid has " +
                            std::to_string(grid_size_[d]));
  return caf::none;
}

void beam_searcher::remember_inactive(const std::string& prefix, double now) {
  if (negative_cache_.size() >= max_negative_cache_entries) {
    for (auto i = negative_cache_.begin(); i != negative_cache_.end();)
      i = i->second <= now ? negative_cache_.erase(i) : std::next(i);
    if (negative_cache_.size() >= max_negative_cache_entries)
      negative_cache_.clear();
  }
  negative_cache_[prefix] =
      now + (prefix == uid_prefix_ ? std::min(options_.negative_cache_ttl,
                                              options_.root_negative_cache_ttl)
                                   : options_.negative_cache_ttl);
}

void beam_searcher::resolve(search_state& state,
                            const std::vector<std::string>& prefixes) {
  std::vector<std::string> ask;
  for (auto& prefix : prefixes) {
    if (!state.memo.emplace(prefix, std::nullopt).second)
      continue; // known (or already queued) in this search
    if (options_.negative_caching) {
      if (auto i = negative_cache_.find(prefix); i != negative_cache_.end()) {
        if (i->second > state.now)
          continue; // stays inactive
        negative_cache_.erase(i);
      }
    }
    ask.push_back(prefix);
  }
  if (ask.empty())
    return;
  std::map<std::string, std::map<int, expert_info>> found;
  bool failed = false;
  try {
    found = lookup_(ask);
  } catch (...) {
    // A failed lookup says nothing about the prefixes: do not cache them.
    failed = true;
  }
  auto dims = grid_size_.size();
  for (auto& prefix : ask) {
    std::vector<successor> valid;
    if (auto i = found.find(prefix); i != found.end()) {
      // Prefix coordinates: the text between uid_prefix_ and the last dot.
      std::vector<int> head;
      if (prefix.size() > uid_prefix_.size()) {
        auto text = std::string_view{prefix}.substr(
            uid_prefix_.size(), prefix.size() - uid_prefix_.size() - 1);
        head = parse_coordinates(text).value_or(std::vector<int>{});
      }
      auto level = head.size();
      for (auto& [coordinate, info] : i->second) {
        if (level >= dims || coordinate < 0 || coordinate >= grid_size_[level])
          continue;
        if (info.uid.compare(0, uid_prefix_.size(), uid_prefix_) != 0)
          continue;
        auto coords = parse_coordinates(
            std::string_view{info.uid}.substr(uid_prefix_.size()));
        // A usable entry names a grid expert below prefix + coordinate.
        if (!coords || coords->size() != dims ||
            !std::equal(head.begin(), head.end(), coords->begin()) ||
            (*coords)[level] != coordinate)
          continue;
        bool inside = true;
        for (size_t d = 0; d < dims; ++d)
          inside = inside && (*coords)[d] < grid_size_[d];
        if (inside)
          valid.push_back(
              successor{coordinate, std::move(info), std::move(*coords)});
      }
    }
    if (!valid.empty())
      state.memo[prefix] = std::move(valid);
    else if (!failed && options_.negative_caching)
      remember_inactive(prefix, state.now);
  }
}

void beam_searcher::start_beams(search_state& state,
                                std::vector<sample_state>& samples,
                                size_t beam_size) {
  resolve(state, {uid_prefix_});
  if (auto* root = state.active(uid_prefix_)) {
    for (auto& sample : samples) {
      auto& first = (*sample.scores)[0];
      std::vector<beam_node> nodes;
      nodes.reserve(root->size());
      for (auto& expert : *root) {
        sample.add_candidate(expert);
        auto c = expert.coordinate;
        nodes.push_back(beam_node{static_cast<double>(first[c]), {c}, {}});
      }
      auto keep = std::min(beam_size, nodes.size());
      std::partial_sort(nodes.begin(), nodes.begin() + keep, nodes.end(),
                        [](const beam_node& a, const beam_node& b) {
                          return ranks_before(a.score, a.coordinates, b.score,
                                              b.coordinates);
                        });
      nodes.resize(keep);
      for (auto& node : nodes)
        node.prefix = child_prefix(uid_prefix_, node.coordinates[0]);
      sample.beam = std::move(nodes);
    }
    return;
  }
  // In a one-dimensional grid the root's successors are the experts.
  if (grid_size_.size() == 1)
    return;
  // No root dictionary: probe first-dimension prefixes best first, in
  // batches, until each beam is full or the dimension is exhausted.
  std::vector<std::vector<int>> order(samples.size());
  std::vector<size_t> next(samples.size(), 0);
  for (size_t s = 0; s < samples.size(); ++s) {
    auto& first = (*samples[s].scores)[0];
    order[s].resize(first.size());
    for (size_t i = 0; i < first.size(); ++i)
      order[s][i] = static_cast<int>(i);
    std::stable_sort(order[s].begin(), order[s].end(), [&](int a, int b) {
      return rank_key(first[a]) > rank_key(first[b]);
    });
  }
  for (;;) {
    std::vector<std::string> probe;
    std::vector<std::vector<int>> round(samples.size());
    for (size_t s = 0; s < samples.size(); ++s) {
      auto need = beam_size - samples[s].beam.size();
      while (need > 0 && next[s] < order[s].size()) {
        auto c = order[s][next[s]++];
        round[s].push_back(c);
        probe.push_back(child_prefix(uid_prefix_, c));
        --need;
      }
    }
    if (probe.empty())
      return;
    resolve(state, probe);
    for (size_t s = 0; s < samples.size(); ++s) {
      auto& first = (*samples[s].scores)[0];
      for (auto c : round[s]) {
        auto prefix = child_prefix(uid_prefix_, c);
        if (state.active(prefix))
          samples[s].beam.push_back(
              beam_node{static_cast<double>(first[c]), {c}, std::move(prefix)});
      }
    }
  }
}

namespace {

// An entry of a sample's open list: a prefix not yet expanded, keyed by an
// upper bound on the scores below it, or an expert keyed by its exact score.
struct open_item {
  double key;                // rank key: bound or exact score
  std::vector<int> coords;   // the prefix's or expert's coordinates
  const std::string* prefix; // null for experts
  size_t candidate;          // for experts: index into the sample's candidates
};

// Best first: higher key, then smaller coordinates. A prefix's coordinates
// are a proper prefix of those of every expert below it, so a prefix comes
// before every expert below it that has the same key: an expert at the front
// ranks before, or equal to, everything still below any open prefix.
struct open_order {
  bool operator()(const open_item& a, const open_item& b) const {
    if (a.key != b.key)
      return a.key > b.key;
    return a.coords < b.coords;
  }
};

} // namespace

// One sample of an exact (A*) search.
struct beam_searcher::astar_sample {
  const std::vector<std::vector<float>>* scores = nullptr;
  // Experts passed over (may be null or empty).
  const expert_filter* skip = nullptr;
  // Per dimension, the highest non-NaN score (-inf if none).
  std::vector<double> max_score;
  std::set<open_item, open_order> open;
  // Prefix strings of the open list (node-based: pointers stay valid).
  std::unordered_set<std::string> prefixes;
  struct found {
    const successor* expert;
    size_t depth; // depth of the dictionary it came from; deeper is better
  };
  std::vector<found> candidates;
  std::unordered_map<std::string_view, size_t> seen;
  std::vector<size_t> final;     // candidates, best first
  std::vector<open_item> expand; // prefixes chosen this round
  bool done = false;

  double bound(const std::vector<int>& coords) const {
    double b = 0;
    for (size_t d = 0; d < coords.size(); ++d)
      b += static_cast<double>((*scores)[d][static_cast<size_t>(coords[d])]);
    if (std::isnan(b)) // every expert below scores NaN and ranks lowest
      return -std::numeric_limits<double>::infinity();
    // Left to right, like expert_score: rounding is monotone, so the bound
    // is at least the score of every expert below.
    for (size_t d = coords.size(); d < max_score.size(); ++d)
      b += max_score[d];
    return std::isnan(b) ? std::numeric_limits<double>::infinity() : b;
  }

  void push_prefix(std::string prefix, std::vector<int> coords) {
    auto key = bound(coords);
    auto* text = &*prefixes.insert(std::move(prefix)).first;
    open.insert(open_item{key, std::move(coords), text, 0});
  }

  void add_candidate(const successor& expert, size_t depth) {
    if (skip && *skip && (*skip)(expert.info.uid))
      return;
    auto [i, added] = seen.emplace(expert.info.uid, candidates.size());
    if (!added) {
      if (depth > candidates[i->second].depth)
        candidates[i->second] = found{&expert, depth};
      return;
    }
    candidates.push_back(found{&expert, depth});
    open.insert(open_item{rank_key(expert_score(*scores, expert.coordinates)),
                          expert.coordinates, nullptr, i->second});
  }

  // Finalizes experts at the front of the open list, then picks up to
  // `beam_size` prefixes to expand: in order, while fewer than `k` known
  // experts rank before them.
  void select(size_t k, size_t beam_size) {
    expand.clear();
    while (final.size() < k && !open.empty() && !open.begin()->prefix) {
      final.push_back(open.begin()->candidate);
      open.erase(open.begin());
    }
    if (final.size() >= k || open.empty()) {
      done = true;
      return;
    }
    size_t ahead = final.size();
    for (auto i = open.begin(); i != open.end();) {
      if (!i->prefix) {
        if (++ahead >= k)
          break;
        ++i;
        continue;
      }
      expand.push_back(*i);
      i = open.erase(i);
      if (expand.size() >= beam_size)
        break;
    }
  }
};

std::vector<std::vector<expert_info>> beam_searcher::run(
    const std::vector<const std::vector<std::vector<float>>*>& sample_scores,
    size_t beam_size, const expert_filter& skip) {
  search_state state;
  state.now = now();
  auto dims = grid_size_.size();
  std::vector<astar_sample> samples(sample_scores.size());
  for (size_t s = 0; s < samples.size(); ++s) {
    auto& sample = samples[s];
    sample.scores = sample_scores[s];
    sample.skip = &skip;
    for (auto& dim : *sample.scores) {
      auto best = -std::numeric_limits<double>::infinity();
      for (auto x : dim)
        if (!std::isnan(x))
          best = std::max(best, static_cast<double>(x));
      sample.max_score.push_back(best);
    }
    sample.push_prefix(uid_prefix_, {});
  }
  for (;;) {
    // One round: every unfinished sample picks its best open prefixes; the
    // union is looked up in one call.
    std::vector<std::string> ask;
    for (auto& sample : samples) {
      if (sample.done)
        continue;
      sample.select(beam_size, beam_size);
      for (auto& item : sample.expand)
        ask.push_back(*item.prefix);
    }
    if (ask.empty())
      break;
    resolve(state, ask);
    for (auto& sample : samples) {
      for (auto& item : sample.expand) {
        auto& prefix = *item.prefix;
        auto depth = item.coords.size();
        auto* successors = state.active(prefix);
        if (!successors) {
          // Root missing: probe the first dimension's prefixes, best first
          // (hivemind's fallback). A one-dimensional grid has none.
          if (depth == 0 && dims > 1)
            for (int c = 0; c < grid_size_[0]; ++c)
              sample.push_prefix(child_prefix(prefix, c), {c});
          continue;
        }
        for (auto& expert : *successors) {
          // Every entry names an expert below it: an exact candidate.
          sample.add_candidate(expert, depth);
          if (depth + 1 < dims) {
            auto coords = item.coords;
            coords.push_back(expert.coordinate);
            sample.push_prefix(child_prefix(prefix, expert.coordinate),
                               std::move(coords));
          }
        }
      }
      sample.expand.clear();
    }
  }
  std::vector<std::vector<expert_info>> results;
  results.reserve(samples.size());
  for (auto& sample : samples) {
    std::vector<expert_info> best;
    best.reserve(sample.final.size());
    for (auto i : sample.final)
      best.push_back(sample.candidates[i].expert->info);
    results.push_back(std::move(best));
  }
  return results;
}

caf::expected<std::vector<beam_entry>> beam_searcher::get_initial_beam(
    const std::vector<std::vector<float>>& grid_scores, size_t beam_size) {
  if (auto err = check_scores(grid_scores, beam_size))
    return err;
  std::vector<sample_state> samples(1);
  samples[0].scores = &grid_scores;
  search_state state;
  state.now = now();
  start_beams(state, samples, beam_size);
  std::vector<beam_entry> result;
  result.reserve(samples[0].beam.size());
  for (auto& node : samples[0].beam)
    result.push_back(beam_entry{node.score, std::move(node.prefix)});
  return result;
}

std::map<std::string, std::map<int, expert_info>>
beam_searcher::get_active_successors(const std::vector<std::string>& prefixes) {
  std::map<std::string, std::map<int, expert_info>> result;
  if (config_error_)
    return result;
  std::vector<std::string> ours;
  for (auto& prefix : prefixes) {
    // Only prefixes of this grid above the experts' level.
    if (prefix.compare(0, uid_prefix_.size(), uid_prefix_) != 0 ||
        !is_valid_prefix(prefix))
      continue;
    auto depth = std::count(prefix.begin() + uid_prefix_.size(), prefix.end(),
                            uid_delimiter);
    if (static_cast<size_t>(depth) < grid_size_.size())
      ours.push_back(prefix);
  }
  search_state state;
  state.now = now();
  resolve(state, ours);
  for (auto& [prefix, successors] : state.memo) {
    if (!successors)
      continue;
    auto& out = result[prefix];
    for (auto& expert : *successors)
      out.emplace(expert.coordinate, expert.info);
  }
  return result;
}

caf::expected<std::vector<expert_info>> beam_searcher::find_best_experts(
    const std::vector<std::vector<float>>& grid_scores, size_t beam_size,
    const expert_filter& skip) {
  if (auto err = check_scores(grid_scores, beam_size))
    return err;
  return std::move(run({&grid_scores}, beam_size, skip).front());
}

caf::expected<std::vector<std::vector<expert_info>>>
beam_searcher::batch_find_best_experts(
    const std::vector<std::vector<std::vector<float>>>& grid_scores,
    size_t beam_size, const expert_filter& skip) {
  std::vector<const std::vector<std::vector<float>>*> samples;
  for (size_t s = 0; s < grid_scores.size(); ++s) {
    if (auto err = check_scores(grid_scores[s], beam_size))
      return make_error(errc::invalid_argument, "sample " + std::to_string(s) +
                                                    ": " + error_reason(err));
    samples.push_back(&grid_scores[s]);
  }
  if (samples.empty())
    return std::vector<std::vector<expert_info>>{};
  return run(samples, beam_size, skip);
}

} // namespace colony::moe
