#include "apps/harness/averaging_invariants.hpp"
#include "apps/harness/figure_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace colony::apps {

namespace {

/// Most members a subset search covers (2^n subsets of the unchanged).
constexpr size_t max_searched_members = 20;

/// averaging_rounds' `within` (s) when the scenario gives none.
constexpr double default_round_wait_s = 30;

/// Default bound of a span sum's error when the scenario gives none.
constexpr double default_sum_tolerance = 1e-3;

} // namespace

bool span_is_exact(const std::vector<double>& pre,
                   const std::vector<double>& post,
                   const std::vector<double>& weight, double tolerance) {
  auto n = pre.size();
  std::vector<size_t> changed;
  std::vector<size_t> unchanged;
  for (size_t i = 0; i < n; ++i)
    (std::abs(post[i] - pre[i]) > tolerance ? changed : unchanged).push_back(i);
  if (changed.empty())
    return true; // every member kept its values
  auto value = post[changed.front()];
  for (auto i : changed)
    if (std::abs(post[i] - value) > tolerance)
      return false; // members that averaged disagree
  if (unchanged.size() > max_searched_members)
    return false;
  double base_sum = 0;
  double base_weight = 0;
  for (auto i : changed) {
    base_sum += weight[i] * pre[i];
    base_weight += weight[i];
  }
  // Which of the unchanged members contributed is unknown (their own
  // deltas may not have come back): any subset may have.
  for (size_t mask = 0; mask < (size_t{1} << unchanged.size()); ++mask) {
    double sum = base_sum;
    double w = base_weight;
    for (size_t b = 0; b < unchanged.size(); ++b)
      if ((mask >> b) & 1) {
        sum += weight[unchanged[b]] * pre[unchanged[b]];
        w += weight[unchanged[b]];
      }
    if (w > 0 && std::abs(sum / w - value) <= tolerance)
      return true;
  }
  return false;
}

invariant_result averaging_exact(const invariant_spec& spec,
                                 const harness_run& run) {
  invariant_result r;
  r.threshold = spec.threshold;
  auto tolerance = spec.tolerance > 0 ? spec.tolerance : default_sum_tolerance;
  // Every member's line of every group, by group id.
  std::map<std::string, std::vector<const averaging_round_record*>> groups;
  for (const auto& n : run.nodes)
    for (const auto& record : n.rounds)
      if (record.ok)
        groups[record.group].push_back(&record);
  size_t complete = 0;
  size_t partial = 0;
  size_t spans = 0;
  size_t broken = 0;
  std::string first_broken;
  for (const auto& [id, records] : groups) {
    const auto& members = records.front()->members;
    auto size = members.size();
    std::vector<const averaging_round_record*> by_index(size, nullptr);
    for (const auto* record : records)
      if (record->members == members && record->index < size &&
          record->pre.size() == size && record->post.size() == size)
        by_index[record->index] = record;
    bool all = std::all_of(by_index.begin(), by_index.end(),
                           [](const auto* p) { return p != nullptr; });
    (all ? complete : partial) += 1;
    for (size_t s = 0; s < size; ++s) {
      std::vector<double> pre;
      std::vector<double> post;
      std::vector<double> weight;
      for (const auto* record : by_index)
        if (record != nullptr) {
          pre.push_back(record->pre[s]);
          post.push_back(record->post[s]);
          weight.push_back(record->weight);
        }
      bool ok;
      if (all) {
        ok = span_is_exact(pre, post, weight, tolerance);
      } else {
        // Someone's pre values are unknown: only agreement is checked.
        ok = true;
        std::optional<double> value;
        for (size_t i = 0; i < pre.size(); ++i)
          if (std::abs(post[i] - pre[i]) > tolerance) {
            if (value && std::abs(post[i] - *value) > tolerance)
              ok = false;
            value = post[i];
          }
      }
      ++spans;
      if (!ok) {
        ++broken;
        if (first_broken.empty())
          first_broken = "group " + id + " span " + std::to_string(s);
      }
    }
  }
  r.measured = static_cast<double>(complete);
  r.holds = broken == 0 && static_cast<double>(complete) >= spec.threshold;
  r.detail = std::to_string(complete) + " groups checked exactly, " +
             std::to_string(partial) + " with a member's line missing; " +
             std::to_string(spans) + " spans, " + std::to_string(broken) +
             " not exact" +
             (first_broken.empty() ? "" : " (first: " + first_broken + ")") +
             figure_text("; tolerance %g on span sums", tolerance);
  return r;
}

invariant_result averaging_rounds(const invariant_spec& spec,
                                  const harness_run& run) {
  invariant_result r;
  auto within = spec.within_s.value_or(default_round_wait_s);
  r.threshold = within;
  r.holds = true;
  // Successful rounds, in seconds since training started.
  std::vector<double> successes;
  for (const auto& n : run.nodes)
    for (const auto& record : n.rounds)
      if (record.ok && record.members.size() >= 2)
        successes.push_back(record.t - run.training_started_at);
  std::sort(successes.begin(), successes.end());
  double last_fault = 0;
  std::string detail;
  for (const auto& f : run.faults) {
    last_fault = std::max(last_fault, f.t);
    auto next = std::upper_bound(successes.begin(), successes.end(), f.t);
    auto gap = next == successes.end() ? run.training_s - f.t : *next - f.t;
    if (next == successes.end() || gap > within) {
      r.holds = false;
      detail += figure_text("no round within %.0f s of the fault at %.1f s; ",
                            within, f.t);
    }
    r.measured = std::max(r.measured, gap);
  }
  size_t nodes = 0;
  for (const auto& n : run.nodes) {
    if (n.rounds.empty() || n.killed)
      continue;
    ++nodes;
    size_t after = 0;
    for (const auto& record : n.rounds)
      if (record.ok && record.t - run.training_started_at > last_fault)
        ++after;
    if (static_cast<double>(after) < spec.threshold) {
      r.holds = false;
      detail += n.name + " averaged " + std::to_string(after) +
                " times after the last fault; ";
    }
  }
  if (nodes == 0) {
    r.holds = false;
    detail += "no averaging node logged a round; ";
  }
  r.detail =
      detail + figure_text("longest wait for a round after a fault: %.1f s "
                           "(bound %.0f s); %g successful rounds in all",
                           r.measured, within,
                           static_cast<double>(successes.size()));
  return r;
}

} // namespace colony::apps
