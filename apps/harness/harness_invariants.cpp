#include "apps/harness/harness_invariants.hpp"
#include "apps/harness/figure_text.hpp"

#include "apps/harness/averaging_invariants.hpp"
#include "apps/harness/collaborative_invariants.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace colony::apps {

bool harness_run::all_hold() const {
  return failure.empty() && !interrupted &&
         std::all_of(invariants.begin(), invariants.end(),
                     [](const auto& i) { return i.holds; });
}

std::optional<std::pair<double, double>>
first_and_last_quarter_means(const std::vector<double>& values) {
  if (values.size() < 4)
    return std::nullopt;
  auto quarter = values.size() / 4;
  auto mean = [](auto begin, auto end) {
    return std::accumulate(begin, end, 0.0) /
           static_cast<double>(std::distance(begin, end));
  };
  return std::make_pair(mean(values.begin(), values.begin() + quarter),
                        mean(values.end() - quarter, values.end()));
}

namespace {

/// When the last fault fired (0 without faults).
double last_fault_time(const harness_run& run) {
  double t = 0;
  for (const auto& f : run.faults)
    t = std::max(t, f.t);
  return t;
}

double first_fault_time(const harness_run& run) {
  if (run.faults.empty())
    return 0;
  double t = run.faults.front().t;
  for (const auto& f : run.faults)
    t = std::min(t, f.t);
  return t;
}

/// Sum of a counter's increments over a node's answered samples from
/// `from` on; a counter that goes down (the node restarted) starts over.
template <class Get>
uint64_t increments_since(const harness_node& n, double from, Get get) {
  uint64_t total = 0;
  std::optional<uint64_t> previous;
  for (const auto& s : n.samples) {
    if (!s.answered)
      continue;
    auto value = get(s.status);
    if (s.t < from) {
      previous = value; // the level when the window opens
      continue;
    }
    if (previous && value >= *previous)
      total += value - *previous;
    else if (previous) // restarted: counting began again at zero
      total += value;
    // Without a previous level, the first sample in the window is the start.
    previous = value;
  }
  return total;
}

invariant_result no_crash(const harness_run& run) {
  invariant_result r;
  std::string detail;
  size_t problems = 0;
  for (const auto& n : run.nodes) {
    for (const auto& [status, t] : n.crashes) {
      ++problems;
      detail += n.name + " exited with status " + std::to_string(status) +
                figure_text(" at %.1f s; ", t);
    }
    bool should_answer = !n.killed && n.role != swarm_role::trainer;
    if (should_answer && !n.answered_at_end && n.crashes.empty()) {
      ++problems;
      detail += n.name + " did not answer at the end; ";
    }
  }
  r.measured = static_cast<double>(problems);
  r.holds = problems == 0;
  r.detail = problems == 0 ? "every survivor ran to the end and answered"
                           : detail.substr(0, detail.size() - 2);
  return r;
}

invariant_result loss_falls(const invariant_spec& spec,
                            const harness_run& run) {
  invariant_result r;
  r.threshold = 1 + spec.tolerance;
  auto from = spec.after_s.value_or(last_fault_time(run));
  bool any = false;
  r.holds = true;
  for (const auto& n : run.nodes) {
    if (n.role != swarm_role::trainer)
      continue;
    std::vector<double> losses;
    std::optional<uint64_t> last_step;
    for (const auto& s : n.samples)
      if (s.answered && s.t >= from && s.status.training &&
          s.status.training->step > 0 &&
          (!last_step || s.status.training->step != *last_step)) {
        losses.push_back(s.status.training->train_loss);
        last_step = s.status.training->step;
      }
    auto means = first_and_last_quarter_means(losses);
    if (!means) {
      r.holds = false;
      r.detail += n.name + ": too few reports after " +
                  figure_text("%.1f s", from) + "; ";
      continue;
    }
    any = true;
    auto ratio = means->second / std::max(means->first, 1e-12);
    r.measured = std::max(r.measured, ratio);
    bool falls = ratio <= r.threshold;
    r.holds = r.holds && falls;
    r.detail +=
        n.name +
        figure_text(": loss %.4f -> %.4f", means->first, means->second) +
        figure_text(" after %.1f s; ", from);
  }
  if (!any && r.detail.empty()) {
    r.holds = false;
    r.detail = "no trainer; ";
  }
  r.detail = r.detail.substr(0, r.detail.size() - 2);
  return r;
}

invariant_result final_accuracy(const invariant_spec& spec,
                                const harness_run& run) {
  invariant_result r;
  r.threshold = spec.threshold;
  r.measured = 1;
  bool any = false;
  for (const auto& n : run.nodes) {
    if (n.role != swarm_role::trainer)
      continue;
    any = true;
    auto acc = n.final_accuracy.value_or(0);
    r.measured = std::min(r.measured, acc);
    r.detail +=
        n.name + (n.final_accuracy ? figure_text(": %.2f%%; ", 100 * acc)
                                   : std::string{": no final evaluation; "});
  }
  if (!any) {
    r.measured = 0;
    r.detail = "no trainer; ";
  }
  r.holds = any && r.measured >= spec.threshold;
  r.detail = r.detail.substr(0, r.detail.size() - 2);
  return r;
}

double mean_final_accuracy(const harness_run& run) {
  double sum = 0;
  size_t n = 0;
  for (const auto& node : run.nodes)
    if (node.role == swarm_role::trainer) {
      sum += node.final_accuracy.value_or(0);
      ++n;
    }
  return n == 0 ? 0 : sum / static_cast<double>(n);
}

invariant_result accuracy_vs_baseline(const invariant_spec& spec,
                                      const harness_run& run) {
  invariant_result r;
  r.threshold = spec.threshold;
  if (!run.baseline_accuracy || run.baseline_accuracy->empty()) {
    r.detail = "no fault-free run to compare with";
    return r;
  }
  const auto& base = *run.baseline_accuracy;
  auto base_mean = std::accumulate(base.begin(), base.end(), 0.0) /
                   static_cast<double>(base.size());
  auto mean = mean_final_accuracy(run);
  r.measured = 100 * (base_mean - mean);
  r.holds = r.measured <= spec.threshold;
  r.detail =
      figure_text("mean final accuracy %.2f%% with faults, ", 100 * mean) +
      figure_text("%.2f%% without", 100 * base_mean);
  return r;
}

invariant_result dht_get_success(const invariant_spec& spec,
                                 const harness_run& run) {
  invariant_result r;
  r.threshold = spec.threshold;
  auto from = spec.after_s.value_or(first_fault_time(run));
  uint64_t gets = 0;
  uint64_t found = 0;
  // Trainers' gets: lookups of experts that exist. A server's gets are its
  // uid sampling at start, where "not found" is the answer it hopes for.
  for (const auto& n : run.nodes) {
    if (n.role != swarm_role::trainer)
      continue;
    gets += increments_since(
        n, from, [](const control::node_status& s) { return s.dht_gets; });
    found += increments_since(n, from, [](const control::node_status& s) {
      return s.dht_gets_found;
    });
  }
  if (gets == 0) {
    r.detail = figure_text("no DHT gets after %.1f s", from);
    return r;
  }
  r.measured = static_cast<double>(found) / static_cast<double>(gets);
  r.holds = r.measured >= spec.threshold;
  r.detail = std::to_string(found) + " of " + std::to_string(gets) +
             figure_text(" keys found by trainers after %.1f s", from);
  return r;
}

invariant_result rss_growth(const invariant_spec& spec,
                            const harness_run& run) {
  invariant_result r;
  r.threshold = spec.threshold;
  r.holds = true;
  std::string worst;
  bool any = false;
  for (const auto& n : run.nodes) {
    if (n.killed)
      continue;
    std::optional<uint64_t> base;
    uint64_t peak = 0;
    for (const auto& s : n.samples) {
      if (!s.answered || s.t < spec.warmup_s || s.status.rss_bytes == 0)
        continue;
      if (!base)
        base = s.status.rss_bytes;
      peak = std::max(peak, s.status.rss_bytes);
    }
    if (!base)
      continue;
    any = true;
    auto growth = 100.0 *
                  (static_cast<double>(peak) - static_cast<double>(*base)) /
                  static_cast<double>(*base);
    if (growth >= r.measured || worst.empty()) {
      r.measured = std::max(r.measured, growth);
      worst = n.name + figure_text(": %.1f MiB -> %.1f MiB peak",
                                   static_cast<double>(*base) / (1 << 20),
                                   static_cast<double>(peak) / (1 << 20));
    }
  }
  if (!any) {
    r.holds = false;
    r.detail =
        figure_text("no samples after the %.0f s warm-up", spec.warmup_s);
    return r;
  }
  r.holds = r.measured <= spec.threshold;
  r.detail = "largest growth: " + worst;
  return r;
}

invariant_result trainer_progress(const invariant_spec& spec,
                                  const harness_run& run) {
  invariant_result r;
  r.threshold = spec.threshold;
  bool any = false;
  r.measured = 1e300;
  for (const auto& n : run.nodes) {
    if (n.role != swarm_role::trainer)
      continue;
    any = true;
    r.measured = std::min(r.measured, static_cast<double>(n.final_step));
    r.detail += n.name + ": " + std::to_string(n.final_step) + " steps; ";
  }
  if (!any) {
    r.measured = 0;
    r.detail = "no trainer; ";
  }
  r.holds = any && r.measured >= spec.threshold;
  r.detail = r.detail.substr(0, r.detail.size() - 2);
  return r;
}

} // namespace

std::vector<invariant_result> check_invariants(const harness_scenario& scenario,
                                               const harness_run& run) {
  std::vector<invariant_result> results;
  for (const auto& spec : scenario.invariants) {
    invariant_result r;
    switch (spec.kind) {
    case invariant_kind::no_crash:
      r = no_crash(run);
      break;
    case invariant_kind::loss_falls:
      r = loss_falls(spec, run);
      break;
    case invariant_kind::final_accuracy:
      r = final_accuracy(spec, run);
      break;
    case invariant_kind::accuracy_vs_baseline:
      r = accuracy_vs_baseline(spec, run);
      break;
    case invariant_kind::dht_get_success:
      r = dht_get_success(spec, run);
      break;
    case invariant_kind::rss_growth:
      r = rss_growth(spec, run);
      break;
    case invariant_kind::trainer_progress:
      r = trainer_progress(spec, run);
      break;
    case invariant_kind::averaging_exact:
      r = averaging_exact(spec, run);
      break;
    case invariant_kind::averaging_rounds:
      r = averaging_rounds(spec, run);
      break;
    case invariant_kind::epoch_progress:
      r = epoch_progress(spec, run);
      break;
    case invariant_kind::epoch_recovery:
      r = epoch_recovery(spec, run);
      break;
    case invariant_kind::parameters_agree:
      r = parameters_agree(spec, run);
      break;
    case invariant_kind::joiner_catches_up:
      r = joiner_catches_up(spec, run);
      break;
    case invariant_kind::swarm_loss_falls:
      r = swarm_loss_falls(spec, run);
      break;
    }
    r.kind = to_string(spec.kind);
    results.push_back(std::move(r));
  }
  return results;
}

} // namespace colony::apps
