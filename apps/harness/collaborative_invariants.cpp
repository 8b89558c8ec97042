#include "apps/harness/collaborative_invariants.hpp"
#include "apps/harness/figure_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <string>

namespace colony::apps {

namespace {

using trainer::parameter_digest;

/// Drops the trailing "; " of a detail assembled piece by piece.
std::string trimmed(std::string text) {
  if (text.size() >= 2 && text.compare(text.size() - 2, 2, "; ") == 0)
    text.resize(text.size() - 2);
  return text;
}

double since_start(const harness_run& run, const parameter_digest& d) {
  return d.t - run.training_started_at;
}

bool names(const applied_fault& f, const std::string& name) {
  return std::find(f.targets.begin(), f.targets.end(), name) != f.targets.end();
}

enum class life { not_started, running, frozen, dead };

/// What the faults (and crashes) had made of node `n` by time `t`.
life life_at(const harness_run& run, const harness_node& n, double t) {
  bool held = std::any_of(run.faults.begin(), run.faults.end(), [&](auto& f) {
    return f.action == fault_action::start && names(f, n.name);
  });
  auto state = held ? life::not_started : life::running;
  // Faults and crashes, in time order.
  std::vector<std::pair<double, int>> events; // (t, action or -1: crash)
  for (const auto& f : run.faults)
    if (f.t <= t && names(f, n.name))
      events.emplace_back(f.t, f.ok ? static_cast<int>(f.action) : -2);
  for (const auto& [status, when] : n.crashes)
    if (when <= t)
      events.emplace_back(when, -1);
  std::stable_sort(events.begin(), events.end(),
                   [](auto& a, auto& b) { return a.first < b.first; });
  for (const auto& [when, what] : events) {
    if (what == -1) {
      state = life::dead;
      continue;
    }
    if (what == -2)
      continue; // a fault that failed changed nothing
    switch (static_cast<fault_action>(what)) {
    case fault_action::kill:
      state = life::dead;
      break;
    case fault_action::freeze:
      if (state == life::running)
        state = life::frozen;
      break;
    case fault_action::thaw:
      if (state == life::frozen)
        state = life::running;
      break;
    case fault_action::restart:
    case fault_action::start:
      state = life::running;
      break;
    default:
      break;
    }
  }
  return state;
}

bool is_trainer(const harness_node& n) {
  return n.role == swarm_role::trainer;
}

/// The swarm's epoch at `t`: the largest any trainer (but `except`) had
/// logged by then.
uint64_t epoch_at(const harness_run& run, double t,
                  const harness_node* except = nullptr) {
  uint64_t epoch = 0;
  for (const auto& n : run.nodes)
    if (is_trainer(n) && &n != except)
      for (const auto& d : n.epochs)
        if (since_start(run, d) <= t)
          epoch = std::max(epoch, d.epoch);
  return epoch;
}

/// Per trainer (by index into run.nodes), its digest of each epoch: the
/// last it logged at that epoch (a restarted trainer may log one twice).
std::map<uint64_t, std::map<size_t, const parameter_digest*>>
digests_by_epoch(const harness_run& run) {
  std::map<uint64_t, std::map<size_t, const parameter_digest*>> out;
  for (size_t i = 0; i < run.nodes.size(); ++i)
    if (is_trainer(run.nodes[i]))
      for (const auto& d : run.nodes[i].epochs)
        if (since_start(run, d) <= run.training_s)
          out[d.epoch][i] = &d;
  return out;
}

/// Largest relative distance among the pairs of `at`.
double largest_distance(const std::map<size_t, const parameter_digest*>& at) {
  double worst = 0;
  for (auto a = at.begin(); a != at.end(); ++a)
    for (auto b = std::next(a); b != at.end(); ++b)
      worst =
          std::max(worst, trainer::relative_distance(*a->second, *b->second));
  return worst;
}

double first_fault_s(const harness_run& run) {
  double t = run.training_s;
  for (const auto& f : run.faults)
    t = std::min(t, f.t);
  return t;
}

double tolerance_of(const invariant_spec& spec) {
  return spec.tolerance > 0 ? spec.tolerance : default_parameter_tolerance;
}

} // namespace

std::vector<std::pair<double, uint64_t>>
global_epoch_steps(const harness_run& run) {
  std::vector<std::pair<double, uint64_t>> all;
  for (const auto& n : run.nodes)
    if (is_trainer(n))
      for (const auto& d : n.epochs)
        all.emplace_back(since_start(run, d), d.epoch);
  std::sort(all.begin(), all.end());
  std::vector<std::pair<double, uint64_t>> steps;
  uint64_t top = 0;
  for (const auto& [t, epoch] : all)
    if (epoch > top) {
      top = epoch;
      steps.emplace_back(t, epoch);
    }
  return steps;
}

double typical_epoch_s(const std::vector<std::pair<double, uint64_t>>& steps,
                       double before) {
  std::vector<double> gaps;
  std::vector<double> early;
  for (size_t i = 1; i < steps.size(); ++i) {
    // Per epoch: a jump of several (a load) spreads over them.
    auto gap = (steps[i].first - steps[i - 1].first) /
               static_cast<double>(steps[i].second - steps[i - 1].second);
    gaps.push_back(gap);
    if (steps[i].first <= before)
      early.push_back(gap);
  }
  auto& chosen = early.size() >= 3 ? early : gaps;
  if (chosen.empty())
    return 0;
  std::nth_element(chosen.begin(), chosen.begin() + chosen.size() / 2,
                   chosen.end());
  return chosen[chosen.size() / 2];
}

double epoch_bound_s(const invariant_spec& spec, const harness_run& run) {
  if (spec.within_s)
    return *spec.within_s;
  auto typical = typical_epoch_s(global_epoch_steps(run), first_fault_s(run));
  auto settings = run.collaboration.value_or(collaboration_settings{});
  return settings.matchmaking_s + settings.averaging_timeout_s + 2 * typical;
}

namespace {

/// How the bound came about, for the detail.
std::string bound_text(const invariant_spec& spec, const harness_run& run,
                       double bound) {
  if (spec.within_s)
    return figure_text("(bound %.1f s, given)", bound);
  auto settings = run.collaboration.value_or(collaboration_settings{});
  auto typical = typical_epoch_s(global_epoch_steps(run), first_fault_s(run));
  return figure_text("(bound %.1f s = matchmaking %.1f s + ", bound,
                     settings.matchmaking_s) +
         figure_text("averaging_timeout %.1f s + 2 x typical epoch %.2f s)",
                     settings.averaging_timeout_s, typical);
}

} // namespace

invariant_result epoch_progress(const invariant_spec& spec,
                                const harness_run& run) {
  invariant_result r;
  auto bound = epoch_bound_s(spec, run);
  r.threshold = bound;
  auto steps = global_epoch_steps(run);
  // The instants of new epochs inside [warmup, end], with both ends.
  std::vector<double> instants{spec.warmup_s};
  uint64_t final_epoch = 0;
  for (const auto& [t, epoch] : steps)
    if (t <= run.training_s) {
      final_epoch = epoch;
      if (t > spec.warmup_s)
        instants.push_back(t);
    }
  instants.push_back(std::max(run.training_s, spec.warmup_s));
  double longest_at = 0;
  for (size_t i = 1; i < instants.size(); ++i)
    if (instants[i] - instants[i - 1] > r.measured) {
      r.measured = instants[i] - instants[i - 1];
      longest_at = instants[i - 1];
    }
  r.holds = r.measured <= bound;
  std::string detail;
  if (!r.holds)
    detail += figure_text("no new epoch for %.1f s from %.1f s; ", r.measured,
                          longest_at);
  if (static_cast<double>(final_epoch) < spec.threshold) {
    r.holds = false;
    detail += "the swarm reached epoch " + std::to_string(final_epoch) +
              ", below " + figure_text("%g", spec.threshold) + "; ";
  }
  // Survivors end in step with the swarm.
  size_t survivors = 0;
  for (const auto& n : run.nodes) {
    if (!is_trainer(n) || life_at(run, n, run.training_s) != life::running)
      continue;
    ++survivors;
    uint64_t last = 0;
    bool any = false;
    for (const auto& d : n.epochs)
      if (since_start(run, d) <= run.training_s) {
        last = std::max(last, d.epoch);
        any = true;
      }
    if (!any || last + 1 < final_epoch) {
      r.holds = false;
      detail += n.name + " ended at epoch " +
                (any ? std::to_string(last) : std::string{"none"}) +
                ", the swarm at " + std::to_string(final_epoch) + "; ";
    }
  }
  if (survivors == 0) {
    r.holds = false;
    detail += "no trainer alive at the end; ";
  }
  r.detail = detail + "epoch " + std::to_string(final_epoch) + " reached; " +
             figure_text("longest wait for a new epoch after %.0f s: %.1f s ",
                         spec.warmup_s, r.measured) +
             bound_text(spec, run, bound);
  return r;
}

invariant_result epoch_recovery(const invariant_spec& spec,
                                const harness_run& run) {
  invariant_result r;
  auto bound = epoch_bound_s(spec, run);
  r.threshold = bound;
  r.holds = true;
  std::string detail;
  size_t checked = 0;
  for (const auto& f : run.faults) {
    if ((f.action != fault_action::kill && f.action != fault_action::freeze) ||
        !f.ok)
      continue;
    bool hits_trainer = false;
    for (const auto& n : run.nodes)
      hits_trainer = hits_trainer || (is_trainer(n) && names(f, n.name));
    if (!hits_trainer)
      continue;
    auto epoch = epoch_at(run, f.t);
    double worst = 0;
    std::string worst_name;
    size_t survivors = 0;
    for (const auto& n : run.nodes) {
      if (!is_trainer(n) || names(f, n.name))
        continue;
      // Running just before the fault and not hit by one while recovering.
      if (life_at(run, n, f.t) != life::running)
        continue;
      auto window_end = std::min(f.t + bound, run.training_s);
      if (life_at(run, n, window_end) != life::running)
        continue;
      bool hit_meanwhile = false;
      for (const auto& g : run.faults)
        hit_meanwhile = hit_meanwhile ||
                        (g.t > f.t && g.t <= window_end && names(g, n.name));
      if (hit_meanwhile)
        continue;
      std::optional<double> moved_on;
      for (const auto& d : n.epochs) {
        auto t = since_start(run, d);
        if (t > f.t && d.epoch > epoch && t <= run.training_s)
          moved_on = moved_on ? std::min(*moved_on, t) : t;
      }
      if (!moved_on && f.t + bound > run.training_s)
        continue; // the run ended before the bound: nothing to judge
      ++survivors;
      auto wait =
          moved_on ? *moved_on - f.t : std::numeric_limits<double>::infinity();
      if (wait >= worst) {
        worst = wait;
        worst_name = n.name;
      }
    }
    std::string victims;
    for (const auto& t : f.targets)
      victims += (victims.empty() ? "" : ",") + t;
    if (survivors == 0) {
      detail += std::string{to_string(f.action)} + " of " + victims +
                figure_text(" at %.1f s: no survivor to judge; ", f.t);
      continue;
    }
    ++checked;
    r.measured = std::max(r.measured, worst);
    if (worst > bound) {
      r.holds = false;
      detail += std::string{to_string(f.action)} + " of " + victims +
                figure_text(" at %.1f s: ", f.t) + worst_name +
                (std::isfinite(worst)
                     ? figure_text(" left epoch %g only after %.1f s; ",
                                   static_cast<double>(epoch), worst)
                     : figure_text(" never left epoch %g; ",
                                   static_cast<double>(epoch)));
    } else {
      detail += std::string{to_string(f.action)} + " of " + victims +
                figure_text(" at %.1f s (epoch %g): ", f.t,
                            static_cast<double>(epoch)) +
                std::to_string(survivors) +
                figure_text(" survivor(s) past it within %.1f s; ", worst);
    }
  }
  if (checked == 0) {
    r.holds = false;
    detail += "no kill or freeze of a trainer to judge; ";
  }
  r.detail = detail + bound_text(spec, run, bound);
  return r;
}

invariant_result parameters_agree(const invariant_spec& spec,
                                  const harness_run& run) {
  invariant_result r;
  auto tolerance = tolerance_of(spec);
  auto min_compared = std::max(1.0, spec.threshold);
  r.threshold = static_cast<double>(spec.heal_epochs);
  size_t compared = 0;
  size_t agreeing = 0;
  double floor = 0; // the largest distance among agreeing epochs
  double worst = 0;
  size_t streak = 0;
  size_t longest = 0;
  uint64_t streak_from = 0;
  uint64_t longest_from = 0;
  uint64_t longest_to = 0;
  for (const auto& [epoch, at] : digests_by_epoch(run)) {
    if (at.size() < 2)
      continue;
    ++compared;
    auto d = largest_distance(at);
    worst = std::max(worst, d);
    if (d <= tolerance) {
      ++agreeing;
      floor = std::max(floor, d);
      streak = 0;
      continue;
    }
    if (streak++ == 0)
      streak_from = epoch;
    if (streak > longest) {
      longest = streak;
      longest_from = streak_from;
      longest_to = epoch;
    }
  }
  r.measured = static_cast<double>(longest);
  r.holds = static_cast<double>(compared) >= min_compared &&
            longest <= spec.heal_epochs;
  r.detail =
      std::to_string(compared) + " epochs compared, " +
      std::to_string(agreeing) + " agreeing" +
      figure_text(" (largest distance among them %.3g)", floor) +
      figure_text("; largest distance %.3g, tolerance %.3g", worst, tolerance) +
      "; longest disagreement " + std::to_string(longest) + " epochs" +
      (longest > 0 ? " (" + std::to_string(longest_from) + " to " +
                         std::to_string(longest_to) + ")"
                   : std::string{}) +
      ", bound " + std::to_string(spec.heal_epochs);
  if (static_cast<double>(compared) < min_compared)
    r.detail += figure_text("; fewer than %g epochs compared", min_compared);
  return r;
}

invariant_result joiner_catches_up(const invariant_spec& spec,
                                   const harness_run& run) {
  invariant_result r;
  auto within = spec.within_s.value_or(2 * epoch_bound_s(spec, run));
  auto tolerance = tolerance_of(spec);
  auto min_agreeing = std::max(1.0, spec.threshold);
  r.threshold = within;
  r.holds = true;
  std::string detail;
  auto by_epoch = digests_by_epoch(run);
  size_t joiners = 0;
  for (size_t fi = 0; fi < run.faults.size(); ++fi) {
    const auto& f = run.faults[fi];
    if ((f.action != fault_action::start &&
         f.action != fault_action::restart) ||
        !f.ok)
      continue;
    for (size_t i = 0; i < run.nodes.size(); ++i) {
      const auto& n = run.nodes[i];
      if (!is_trainer(n) || !names(f, n.name))
        continue;
      ++joiners;
      // This life: from the fault to the node's next kill (or the end).
      double life_end = run.training_s;
      for (size_t gi = fi + 1; gi < run.faults.size(); ++gi)
        if (run.faults[gi].action == fault_action::kill &&
            names(run.faults[gi], n.name)) {
          life_end = run.faults[gi].t;
          break;
        }
      auto swarm_epoch = epoch_at(run, f.t, &n);
      std::optional<double> caught;
      std::optional<uint64_t> caught_epoch;
      bool loaded = false;
      for (const auto& d : n.epochs) {
        auto t = since_start(run, d);
        if (t < f.t || t > life_end)
          continue;
        loaded = loaded || d.loaded_state;
        if (d.epoch >= swarm_epoch && (loaded || swarm_epoch == 0)) {
          caught = t - f.t;
          caught_epoch = d.epoch;
          break;
        }
      }
      auto who = n.name + " (" + to_string(f.action) +
                 figure_text(" at %.1f s, swarm at epoch %g)", f.t,
                             static_cast<double>(swarm_epoch));
      if (!caught || *caught > within) {
        r.holds = false;
        r.measured = std::numeric_limits<double>::infinity();
        detail +=
            who +
            (caught ? figure_text(": reached it only after %.1f s; ", *caught)
                    : std::string{": never loaded the swarm's state; "});
        continue;
      }
      r.measured = std::max(r.measured, *caught);
      // From then on: agreement with the others at common epochs.
      size_t compared = 0;
      size_t agreeing = 0;
      bool last_agrees = false;
      for (const auto& [epoch, at] : by_epoch) {
        auto mine = at.find(i);
        if (epoch < *caught_epoch || mine == at.end() || at.size() < 2)
          continue;
        auto t = since_start(run, *mine->second);
        if (t < f.t || t > life_end)
          continue;
        double d = 0;
        for (const auto& [j, other] : at)
          if (j != i)
            d = std::max(d, trainer::relative_distance(*mine->second, *other));
        ++compared;
        last_agrees = d <= tolerance;
        agreeing += last_agrees ? 1 : 0;
      }
      bool ok = static_cast<double>(agreeing) >= min_agreeing && last_agrees;
      r.holds = r.holds && ok;
      detail += who +
                figure_text(": at epoch %g after %.1f s, then agreed at ",
                            static_cast<double>(*caught_epoch), *caught) +
                std::to_string(agreeing) + " of " + std::to_string(compared) +
                " epochs" + (ok ? "" : " (NOT enough, or not at the last)") +
                "; ";
    }
  }
  if (joiners == 0) {
    r.holds = false;
    detail += "no trainer was started late or restarted; ";
  }
  r.detail =
      detail + figure_text("bound %.1f s, tolerance %.3g", within, tolerance);
  return r;
}

invariant_result swarm_loss_falls(const invariant_spec& spec,
                                  const harness_run& run) {
  invariant_result r;
  r.threshold = 1 + spec.tolerance;
  auto from = spec.after_s.value_or(0);
  auto span = run.training_s - from;
  auto early_end = from + span / 4;
  auto late_begin = run.training_s - span / 4;
  std::vector<double> early;
  std::vector<double> late;
  std::map<std::string, std::vector<double>> late_of;
  for (const auto& n : run.nodes) {
    if (!is_trainer(n))
      continue;
    std::optional<uint64_t> last_step;
    for (const auto& s : n.samples) {
      if (!s.answered || !s.status.training || s.status.training->step == 0 ||
          s.t < from || s.t > run.training_s ||
          (last_step && s.status.training->step == *last_step))
        continue;
      last_step = s.status.training->step;
      auto loss = s.status.training->train_loss;
      if (s.t <= early_end)
        early.push_back(loss);
      if (s.t >= late_begin) {
        late.push_back(loss);
        late_of[n.name].push_back(loss);
      }
    }
  }
  auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) /
           static_cast<double>(v.size());
  };
  if (early.empty() || late.empty()) {
    r.detail = figure_text("too few loss reports between %.1f s and %.1f s",
                           from, run.training_s);
    return r;
  }
  auto early_mean = mean(early);
  auto late_mean = mean(late);
  r.measured = late_mean / std::max(early_mean, 1e-12);
  // Strictly: a loss that stays flat did not fall.
  r.holds = r.measured < r.threshold;
  std::string detail =
      figure_text("swarm loss %.4f in %.0f-", early_mean, from) +
      figure_text("%.0f s -> %.4f in the last quarter; ", early_end, late_mean);
  for (const auto& n : run.nodes) {
    if (!is_trainer(n) || life_at(run, n, run.training_s) != life::running)
      continue;
    auto it = late_of.find(n.name);
    if (it == late_of.end()) {
      r.holds = false;
      detail += n.name + ": no report in the last quarter; ";
      continue;
    }
    auto ratio = mean(it->second) / std::max(early_mean, 1e-12);
    r.measured = std::max(r.measured, ratio);
    if (ratio >= r.threshold) {
      r.holds = false;
      detail += n.name +
                figure_text(": %.4f in the last quarter; ", mean(it->second));
    }
  }
  r.detail = trimmed(detail);
  return r;
}

} // namespace colony::apps
