#include "apps/harness/harness_scenario.hpp"

#include "messages/error.hpp"
#include "runtime/config/config_issues.hpp"
#include "runtime/config/toml_input.hpp"
#include "runtime/config/value_rules.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

namespace colony::apps {

const char* to_string(fault_action action) noexcept {
  switch (action) {
  case fault_action::kill:
    return "kill";
  case fault_action::freeze:
    return "freeze";
  case fault_action::thaw:
    return "thaw";
  case fault_action::restart:
    return "restart";
  case fault_action::delay:
    return "delay";
  case fault_action::drop:
    return "drop";
  case fault_action::partition:
    return "partition";
  case fault_action::heal:
    return "heal";
  case fault_action::garbage:
    return "garbage";
  case fault_action::poison:
    return "poison";
  case fault_action::start:
    return "start";
  }
  return "?";
}

const char* to_string(invariant_kind kind) noexcept {
  switch (kind) {
  case invariant_kind::no_crash:
    return "no_crash";
  case invariant_kind::loss_falls:
    return "loss_falls";
  case invariant_kind::final_accuracy:
    return "final_accuracy";
  case invariant_kind::accuracy_vs_baseline:
    return "accuracy_vs_baseline";
  case invariant_kind::dht_get_success:
    return "dht_get_success";
  case invariant_kind::rss_growth:
    return "rss_growth";
  case invariant_kind::trainer_progress:
    return "trainer_progress";
  case invariant_kind::averaging_exact:
    return "averaging_exact";
  case invariant_kind::averaging_rounds:
    return "averaging_rounds";
  case invariant_kind::epoch_progress:
    return "epoch_progress";
  case invariant_kind::epoch_recovery:
    return "epoch_recovery";
  case invariant_kind::parameters_agree:
    return "parameters_agree";
  case invariant_kind::joiner_catches_up:
    return "joiner_catches_up";
  case invariant_kind::swarm_loss_falls:
    return "swarm_loss_falls";
  }
  return "?";
}

std::string node_selector::describe() const {
  if (!names.empty()) {
    std::string text;
    for (const auto& n : names)
      text += (text.empty() ? "" : ", ") + n;
    return text;
  }
  if (!role)
    return "nobody";
  std::string text = to_string(*role);
  if (fraction) {
    std::ostringstream out;
    out << *fraction * 100 << "% of " << text << " nodes";
    return out.str();
  }
  if (count)
    return std::to_string(*count) + " " + text + " node(s)";
  return "every " + text + " node";
}

bool harness_scenario::needs_baseline() const {
  return std::any_of(invariants.begin(), invariants.end(), [](const auto& i) {
    return i.kind == invariant_kind::accuracy_vs_baseline;
  });
}

std::vector<std::string> harness_scenario::held_back() const {
  std::vector<std::string> names;
  for (const auto& f : faults)
    if (f.action == fault_action::start)
      for (const auto& n : f.targets.names)
        if (std::find(names.begin(), names.end(), n) == names.end())
          names.push_back(n);
  return names;
}

std::vector<std::string> member_names(const swarm_spec& swarm) {
  std::vector<std::string> names;
  for (auto role : {swarm_role::dht, swarm_role::server, swarm_role::trainer}) {
    size_t index = 0;
    for (const auto& n : swarm.nodes)
      if (n.role == role)
        for (size_t i = 0; i < n.count; ++i)
          names.push_back(std::string{to_string(role)} + "-" +
                          std::to_string(++index));
  }
  return names;
}

namespace {

constexpr fault_action all_actions[] = {
    fault_action::kill,      fault_action::freeze, fault_action::thaw,
    fault_action::restart,   fault_action::delay,  fault_action::drop,
    fault_action::partition, fault_action::heal,   fault_action::garbage,
    fault_action::poison,    fault_action::start};

constexpr invariant_kind all_invariants[] = {
    invariant_kind::no_crash,          invariant_kind::loss_falls,
    invariant_kind::final_accuracy,    invariant_kind::accuracy_vs_baseline,
    invariant_kind::dht_get_success,   invariant_kind::rss_growth,
    invariant_kind::trainer_progress,  invariant_kind::averaging_exact,
    invariant_kind::averaging_rounds,  invariant_kind::epoch_progress,
    invariant_kind::epoch_recovery,    invariant_kind::parameters_agree,
    invariant_kind::joiner_catches_up, invariant_kind::swarm_loss_falls};

const char* const garbage_kind_names[] = {
    "random_bytes", "truncated_frame", "oversized_length", "wrong_handshake"};

const char* const poison_mode_names[] = {"nan", "wrong_shape", "off"};

std::optional<double> number_of(const toml::node& value) {
  if (const auto* f = value.as_floating_point())
    return f->get();
  if (const auto* i = value.as_integer())
    return static_cast<double>(i->get());
  return std::nullopt;
}

/// A non-negative finite number, at most `max`; reports otherwise.
std::optional<double> read_number(const toml::node& value,
                                  const std::string& key, config_issues& p,
                                  double max = INFINITY) {
  auto x = number_of(value);
  if (!x) {
    p.add_at(value.source(),
             key + ": expected a number, got " + toml_type_name(value));
    return std::nullopt;
  }
  auto checked = check_number(*x, max);
  if (!checked) {
    p.add_at(value.source(), key + ": " + error_reason(checked.error()));
    return std::nullopt;
  }
  return *checked;
}

/// An integer of at least `min`; reports otherwise.
std::optional<uint64_t> read_count(const toml::node& value,
                                   const std::string& key, config_issues& p,
                                   int64_t min = 0) {
  const auto* i = value.as_integer();
  if (i == nullptr) {
    p.add_at(value.source(),
             key + ": expected an integer, got " + toml_type_name(value));
    return std::nullopt;
  }
  auto checked =
      check_count(i->get(), min, std::numeric_limits<int64_t>::max());
  if (!checked) {
    p.add_at(value.source(), key + ": " + error_reason(checked.error()));
    return std::nullopt;
  }
  return static_cast<uint64_t>(*checked);
}

std::optional<std::vector<std::string>> read_strings(const toml::node& value,
                                                     const std::string& key,
                                                     config_issues& p) {
  std::vector<std::string> out;
  if (const auto* s = value.as_string()) {
    out.push_back(s->get());
    return out;
  }
  const auto* list = value.as_array();
  bool ok = list != nullptr;
  if (ok)
    for (auto&& item : *list) {
      if (const auto* s = item.as_string())
        out.push_back(s->get());
      else
        ok = false;
    }
  if (!ok) {
    p.add_at(value.source(),
             key + ": expected a string or an array of strings");
    return std::nullopt;
  }
  return out;
}

std::optional<swarm_role> role_named(std::string_view name) {
  for (auto r : {swarm_role::dht, swarm_role::server, swarm_role::trainer})
    if (name == to_string(r))
      return r;
  return std::nullopt;
}

/// `target`-like value: one role name, or node names.
void read_selector(const toml::node& value, const std::string& key,
                   const std::vector<std::string>& members, node_selector& into,
                   config_issues& p) {
  auto names = read_strings(value, key, p);
  if (!names)
    return;
  if (names->size() == 1)
    if (auto role = role_named(names->front())) {
      into.role = role;
      return;
    }
  for (const auto& n : *names)
    if (std::find(members.begin(), members.end(), n) == members.end()) {
      std::string known;
      for (const auto& m : members)
        known += (known.empty() ? "" : ", ") + m;
      p.add_at(value.source(),
               key + ": no node or role named '" + n +
                   "' (roles: dht, server, trainer; nodes: " + known + ")");
      return;
    }
  into.names = std::move(*names);
}

void read_scenario_table(const toml::table& table, harness_scenario& s,
                         config_issues& p) {
  for (auto&& [key, value] : table) {
    auto name = std::string{key.str()};
    auto full = "scenario." + name;
    if (name == "name" || name == "description") {
      const auto* text = value.as_string();
      if (text == nullptr) {
        p.add_at(value.source(), full + ": expected a string");
        continue;
      }
      (name == "name" ? s.name : s.description) = text->get();
    } else if (name == "duration") {
      if (auto x = read_number(value, full, p, 86400.0))
        s.duration_s = *x;
    } else if (name == "sample_period") {
      if (auto x = read_number(value, full, p, 60.0)) {
        if (*x < 0.1)
          p.add_at(value.source(), full + ": at least 0.1 seconds");
        else
          s.sample_period_s = *x;
      }
    } else if (name == "seed") {
      if (auto x = read_count(value, full, p))
        s.seed = *x;
    } else if (name == "start_timeout") {
      if (auto x = read_number(value, full, p, 3600.0))
        s.start_timeout_s = *x;
    } else {
      p.add_at(key.source(),
               "unknown key '" + name +
                   "' in [scenario] (name, description, duration, "
                   "sample_period, seed, start_timeout)");
    }
  }
}

void read_fault(const toml::table& table,
                const std::vector<std::string>& members, fault_spec& f,
                config_issues& p) {
  f.origin = p.place(table.source()).text();
  bool has_action = false;
  bool has_target = false;
  for (auto&& [key, value] : table) {
    auto name = std::string{key.str()};
    auto full = "faults." + name;
    if (name == "action") {
      const auto* text = value.as_string();
      auto it = std::find_if(
          std::begin(all_actions), std::end(all_actions), [&](auto a) {
            return text != nullptr && text->get() == to_string(a);
          });
      if (it == std::end(all_actions)) {
        p.add_at(value.source(), full +
                                     ": expected one of kill, freeze, thaw, "
                                     "restart, delay, drop, partition, heal, "
                                     "garbage, poison, start");
      } else {
        f.action = *it;
      }
      has_action = true;
    } else if (name == "at") {
      f.at_s = read_number(value, full, p, 86400.0);
      if (!f.at_s)
        f.at_s = 0; // reported; keeps "no time" from being reported too
    } else if (name == "at_step") {
      f.at_step = read_count(value, full, p);
      if (!f.at_step)
        f.at_step = 0;
    } else if (name == "target") {
      read_selector(value, full, members, f.targets, p);
      has_target = true;
    } else if (name == "fraction" || name == "peers_fraction") {
      auto x = read_number(value, full, p, 1.0);
      (name == "fraction" ? f.targets : f.peers).fraction = x;
    } else if (name == "count" || name == "peers_count") {
      auto n = read_count(value, full, p, 1);
      if (n)
        (name == "count" ? f.targets : f.peers).count = *n;
    } else if (name == "peers") {
      read_selector(value, full, members, f.peers, p);
    } else if (name == "delay_ms" || name == "jitter_ms") {
      if (auto x = read_count(value, full, p))
        (name == "delay_ms" ? f.delay : f.jitter) =
            std::chrono::milliseconds(*x);
    } else if (name == "drop_rate") {
      if (auto x = read_number(value, full, p, 1.0))
        f.drop_rate = *x;
    } else if (name == "kinds") {
      if (auto kinds = read_strings(value, full, p)) {
        for (const auto& k : *kinds)
          if (std::find(std::begin(garbage_kind_names),
                        std::end(garbage_kind_names),
                        k) == std::end(garbage_kind_names))
            p.add_at(value.source(), full + ": unknown kind '" + k +
                                         "' (random_bytes, truncated_frame, "
                                         "oversized_length, wrong_handshake)");
        f.garbage_kinds = std::move(*kinds);
      }
    } else if (name == "repeat") {
      if (auto n = read_count(value, full, p, 1))
        f.repeat = *n;
    } else if (name == "mode") {
      const auto* text = value.as_string();
      if (text == nullptr ||
          std::find(std::begin(poison_mode_names), std::end(poison_mode_names),
                    text->get()) == std::end(poison_mode_names))
        p.add_at(value.source(), full + ": expected nan, wrong_shape or off");
      else
        f.poison_mode = text->get();
    } else if (name == "experts") {
      if (auto uids = read_strings(value, full, p))
        f.poison_experts = std::move(*uids);
    } else {
      p.add_at(
          key.source(),
          "unknown key '" + name +
              "' in [[faults]] (action, at, at_step, target, fraction, "
              "count, delay_ms, jitter_ms, drop_rate, peers, "
              "peers_fraction, peers_count, kinds, repeat, mode, experts)");
    }
  }
  if (!has_action)
    p.add_at(table.source(), "[[faults]] needs an action");
  if (!has_target)
    p.add_at(table.source(),
             "[[faults]] needs a target (a role or node names)");
  if (f.at_s && f.at_step)
    p.add_at(table.source(), "[[faults]] takes at or at_step, not both");
  if (!f.at_s && !f.at_step)
    p.add_at(table.source(), "[[faults]] needs at (seconds) or at_step");
  if (f.action == fault_action::partition && !f.peers.role &&
      f.peers.names.empty())
    p.add_at(table.source(), "a partition needs peers (a role or node names)");
  if (f.action == fault_action::drop && f.drop_rate <= 0)
    p.add_at(table.source(), "a drop needs drop_rate above 0");
  if (f.action == fault_action::delay && f.delay.count() == 0 &&
      f.jitter.count() == 0)
    p.add_at(table.source(), "a delay needs delay_ms or jitter_ms");
  // A held-back node is named: a role would hold back all of its nodes.
  if (f.action == fault_action::start && has_target && f.targets.names.empty())
    p.add_at(table.source(), "a start needs node names as its target");
  if (f.garbage_kinds.empty())
    f.garbage_kinds.assign(std::begin(garbage_kind_names),
                           std::end(garbage_kind_names));
}

void read_invariant(const toml::table& table, invariant_spec& inv,
                    config_issues& p) {
  inv.origin = p.place(table.source()).text();
  bool has_kind = false;
  bool has_threshold = false;
  for (auto&& [key, value] : table) {
    auto name = std::string{key.str()};
    auto full = "invariants." + name;
    if (name == "kind") {
      const auto* text = value.as_string();
      auto it = std::find_if(
          std::begin(all_invariants), std::end(all_invariants), [&](auto k) {
            return text != nullptr && text->get() == to_string(k);
          });
      if (it == std::end(all_invariants))
        p.add_at(value.source(),
                 full + ": expected one of no_crash, loss_falls, "
                        "final_accuracy, accuracy_vs_baseline, "
                        "dht_get_success, rss_growth, trainer_progress, "
                        "averaging_exact, averaging_rounds, epoch_progress, "
                        "epoch_recovery, parameters_agree, "
                        "joiner_catches_up, swarm_loss_falls");
      else
        inv.kind = *it;
      has_kind = true;
    } else if (name == "min" || name == "max_drop_points" ||
               name == "max_percent" || name == "min_steps") {
      if (auto x = read_number(value, full, p))
        inv.threshold = *x;
      has_threshold = true;
    } else if (name == "tolerance") {
      if (auto x = read_number(value, full, p, 10.0))
        inv.tolerance = *x;
    } else if (name == "after") {
      inv.after_s = read_number(value, full, p);
    } else if (name == "warmup") {
      if (auto x = read_number(value, full, p))
        inv.warmup_s = *x;
    } else if (name == "within") {
      if (auto x = read_number(value, full, p))
        inv.within_s = *x;
    } else if (name == "heal_epochs") {
      if (auto n = read_count(value, full, p))
        inv.heal_epochs = *n;
    } else {
      p.add_at(key.source(), "unknown key '" + name +
                                 "' in [[invariants]] (kind, min, "
                                 "max_drop_points, max_percent, min_steps, "
                                 "tolerance, after, warmup, within, "
                                 "heal_epochs)");
    }
  }
  if (!has_kind) {
    p.add_at(table.source(), "[[invariants]] needs a kind");
    return;
  }
  // The collaborative kinds have defaults for their minimums.
  bool needs_threshold = inv.kind != invariant_kind::no_crash &&
                         inv.kind != invariant_kind::loss_falls &&
                         inv.kind != invariant_kind::epoch_progress &&
                         inv.kind != invariant_kind::epoch_recovery &&
                         inv.kind != invariant_kind::parameters_agree &&
                         inv.kind != invariant_kind::joiner_catches_up &&
                         inv.kind != invariant_kind::swarm_loss_falls;
  if (needs_threshold && !has_threshold)
    p.add_at(table.source(), std::string{"invariant "} + to_string(inv.kind) +
                                 " needs its bound (min, max_drop_points, "
                                 "max_percent or min_steps)");
  if ((inv.kind == invariant_kind::final_accuracy ||
       inv.kind == invariant_kind::dht_get_success) &&
      inv.threshold > 1)
    p.add_at(table.source(), std::string{"invariant "} + to_string(inv.kind) +
                                 ": min is a fraction in [0, 1]");
}

} // namespace

caf::expected<harness_scenario>
parse_harness_scenario(std::string_view toml_text, std::string_view source_name,
                       const std::string& base_dir) {
  config_issues p{std::string{source_name}};
  auto root = parse_toml(toml_text, p.source(), p);
  if (!root)
    return p.to_error();
  harness_scenario s;
  s.source_path = p.source();
  s.swarm = read_swarm_spec(toml_text, source_name, base_dir,
                            {"scenario", "faults", "invariants"}, p);
  auto members = member_names(s.swarm);
  if (const auto* table = root->get("scenario")) {
    if (const auto* t = table->as_table())
      read_scenario_table(*t, s, p);
    else
      p.add_at(table->source(), "scenario must be a table ([scenario])");
  }
  if (s.name.empty())
    s.name = std::filesystem::path{p.source()}.stem().string();
  if (const auto* faults = root->get("faults")) {
    if (!faults->is_array_of_tables()) {
      p.add_at(faults->source(), "faults must be written [[faults]]");
    } else {
      for (auto&& entry : *faults->as_array()) {
        fault_spec f;
        read_fault(*entry.as_table(), members, f, p);
        // [scenario] was read above, wherever it is in the file.
        if (f.at_s && *f.at_s > s.duration_s)
          p.add_at(entry.source(), "a fault at " + number_text(*f.at_s) +
                                       " s lies after the scenario's "
                                       "duration (" +
                                       number_text(s.duration_s) + " s)");
        s.faults.push_back(std::move(f));
      }
    }
  }
  if (const auto* invariants = root->get("invariants")) {
    if (!invariants->is_array_of_tables()) {
      p.add_at(invariants->source(),
               "invariants must be written [[invariants]]");
    } else {
      for (auto&& entry : *invariants->as_array()) {
        invariant_spec inv;
        read_invariant(*entry.as_table(), inv, p);
        s.invariants.push_back(std::move(inv));
      }
    }
  }
  if (!p.empty())
    return p.to_error();
  return s;
}

caf::expected<harness_scenario> load_harness_scenario(const std::string& path) {
  auto text = read_config_file(path);
  if (!text)
    return std::move(text.error());
  auto dir = std::filesystem::path{path}.parent_path().string();
  return parse_harness_scenario(*text, path, dir.empty() ? "." : dir);
}

} // namespace colony::apps
