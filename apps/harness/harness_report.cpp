#include "apps/harness/harness_report.hpp"

#include "apps/output/json_text.hpp"
#include "apps/output/learning_curve.hpp"
#include "messages/error.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace colony::apps {

namespace {

using apps::json_string;

/// A JSON number; NaN and infinities (not JSON) become null.
std::string num(double x) {
  if (!std::isfinite(x))
    return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", x);
  return buf;
}

std::string num(uint64_t x) {
  return std::to_string(x);
}

std::string strings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + json_string(items[i]);
  return out + "]";
}

std::string ints(const std::vector<int>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + std::to_string(items[i]);
  return out + "]";
}

void write_sample(std::ostream& out, const node_sample& s) {
  out << "{\"t\": " << num(s.t)
      << ", \"answered\": " << (s.answered ? "true" : "false");
  if (!s.answered) {
    out << ", \"error\": " << json_string(s.error) << "}";
    return;
  }
  const auto& st = s.status;
  out << ", \"rss_bytes\": " << num(st.rss_bytes)
      << ", \"warnings\": " << num(st.warnings)
      << ", \"errors\": " << num(st.errors)
      << ", \"connections\": " << st.connections;
  if (st.has_dht)
    out << ", \"dht_gets\": " << num(st.dht_gets)
        << ", \"dht_gets_found\": " << num(st.dht_gets_found)
        << ", \"dht_stores\": " << num(st.dht_stores)
        << ", \"dht_stores_accepted\": " << num(st.dht_stores_accepted)
        << ", \"routing_table_size\": " << st.routing_table_size;
  if (st.experts_served > 0)
    out << ", \"experts_served\": " << st.experts_served
        << ", \"experts_poisoned\": " << st.experts_poisoned;
  if (st.faults.any() || st.fault_counts.messages_delayed > 0 ||
      st.fault_counts.messages_dropped > 0 ||
      st.fault_counts.frames_partitioned > 0)
    out << ", \"messages_delayed\": " << num(st.fault_counts.messages_delayed)
        << ", \"messages_dropped\": " << num(st.fault_counts.messages_dropped)
        << ", \"frames_partitioned\": "
        << num(st.fault_counts.frames_partitioned);
  if (st.training) {
    const auto& t = *st.training;
    out << ", \"step\": " << num(t.step)
        << ", \"train_loss\": " << num(t.train_loss)
        << ", \"samples_per_s\": " << num(t.samples_per_s)
        << ", \"live_experts\": " << t.live_experts
        << ", \"failed_calls\": " << num(t.failed_calls)
        << ", \"test_accuracy\": "
        << (t.test_accuracy ? num(*t.test_accuracy) : std::string{"null"});
  }
  out << "}";
}

} // namespace

std::string harness_report_json(const harness_run& run) {
  std::ostringstream out;
  out << "{\n  \"scenario\": " << json_string(run.scenario)
      << ",\n  \"source\": " << json_string(run.source_path)
      << ",\n  \"started_at\": " << num(run.started_at)
      << ",\n  \"training_s\": " << num(run.training_s)
      << ",\n  \"interrupted\": " << (run.interrupted ? "true" : "false")
      << ",\n  \"failure\": "
      << (run.failure.empty() ? std::string{"null"} : json_string(run.failure))
      << ",\n  \"passed\": " << (run.all_hold() ? "true" : "false");
  if (run.baseline_accuracy) {
    out << ",\n  \"baseline_accuracy\": [";
    for (size_t i = 0; i < run.baseline_accuracy->size(); ++i)
      out << (i ? ", " : "") << num((*run.baseline_accuracy)[i]);
    out << "]";
  }
  out << ",\n  \"faults\": [";
  for (size_t i = 0; i < run.faults.size(); ++i) {
    const auto& f = run.faults[i];
    out << (i ? "," : "") << "\n    {\"t\": " << num(f.t)
        << ", \"action\": " << json_string(to_string(f.action))
        << ", \"targets\": " << strings(f.targets)
        << ", \"detail\": " << json_string(f.detail)
        << ", \"ok\": " << (f.ok ? "true" : "false")
        << ", \"error\": " << json_string(f.error) << "}";
  }
  out << "\n  ],\n  \"invariants\": [";
  for (size_t i = 0; i < run.invariants.size(); ++i) {
    const auto& inv = run.invariants[i];
    out << (i ? "," : "") << "\n    {\"kind\": " << json_string(inv.kind)
        << ", \"holds\": " << (inv.holds ? "true" : "false")
        << ", \"measured\": " << num(inv.measured)
        << ", \"threshold\": " << num(inv.threshold)
        << ", \"detail\": " << json_string(inv.detail) << "}";
  }
  out << "\n  ],\n  \"nodes\": [";
  for (size_t i = 0; i < run.nodes.size(); ++i) {
    const auto& n = run.nodes[i];
    out << (i ? "," : "") << "\n    {\"name\": " << json_string(n.name)
        << ", \"role\": " << json_string(to_string(n.role))
        << ", \"address\": " << json_string(n.address)
        << ", \"log\": " << json_string(n.log_path)
        << ", \"killed\": " << (n.killed ? "true" : "false")
        << ", \"exits\": " << ints(n.exits)
        << ", \"crashes\": " << n.crashes.size()
        << ", \"answered_at_end\": " << (n.answered_at_end ? "true" : "false");
    if (n.role == swarm_role::trainer)
      out << ", \"final_accuracy\": "
          << (n.final_accuracy ? num(*n.final_accuracy) : std::string{"null"})
          << ", \"final_step\": " << num(n.final_step);
    if (!n.epochs.empty()) {
      // Collaborative trainers: each epoch reached, [t, epoch, loaded the
      // state, parameter norm], t in seconds since training started.
      out << ",\n     \"epochs\": [";
      for (size_t k = 0; k < n.epochs.size(); ++k) {
        const auto& d = n.epochs[k];
        out << (k ? ", " : "") << "[" << num(d.t - run.training_started_at)
            << ", " << num(d.epoch) << ", " << (d.loaded_state ? 1 : 0) << ", "
            << num(d.norm) << "]";
      }
      out << "]";
    }
    out << ",\n     \"timeline\": [";
    for (size_t k = 0; k < n.samples.size(); ++k) {
      out << (k ? ",\n       " : "\n       ");
      write_sample(out, n.samples[k]);
    }
    out << "]}";
  }
  out << "\n  ]\n}\n";
  return out.str();
}

caf::error write_harness_report(const harness_run& run,
                                const std::string& path) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << harness_report_json(run);
  out.close();
  if (!out)
    return make_error(errc::io_error, "cannot write report " + path);
  return caf::none;
}

caf::error plot_harness_run(const harness_run& run,
                            const std::string& png_path) {
  std::vector<std::pair<std::string, std::vector<trainer::training_record>>>
      runs;
  for (const auto& n : run.nodes) {
    if (n.role != swarm_role::trainer)
      continue;
    std::vector<trainer::training_record> records;
    std::optional<uint64_t> last_step;
    std::optional<double> last_accuracy;
    for (const auto& s : n.samples) {
      if (!s.answered || !s.status.training)
        continue;
      const auto& t = *s.status.training;
      if (last_step && t.step == *last_step)
        continue; // no new report since the previous sample
      trainer::training_record r;
      r.time_s = s.t;
      r.step = t.step;
      r.train_loss = t.train_loss;
      r.samples_per_s = t.samples_per_s;
      // Plot an accuracy only where it changed: one point per evaluation.
      if (t.test_accuracy && t.test_accuracy != last_accuracy)
        r.test_accuracy = t.test_accuracy;
      last_accuracy = t.test_accuracy;
      last_step = t.step;
      records.push_back(r);
    }
    runs.emplace_back(n.name, std::move(records));
  }
  learning_curve_options options;
  options.title = "colony harness: " + run.scenario;
  options.show_throughput = true;
  for (const auto& f : run.faults) {
    std::string label = to_string(f.action);
    if (!f.targets.empty())
      label += " " + f.targets.front() + (f.targets.size() > 1 ? "+" : "");
    options.markers.emplace_back(f.t, label);
  }
  return plot_learning_curve(runs, png_path, options);
}

std::string harness_summary(const harness_run& run) {
  std::ostringstream out;
  char line[512];
  out << "scenario " << run.scenario << ": " << run.nodes.size() << " nodes, "
      << run.faults.size() << " faults, " << num(run.training_s)
      << " s of training\n";
  std::snprintf(line, sizeof(line), "  %-12s %-8s %-7s %-8s %-10s %-9s %s\n",
                "node", "role", "exits", "crashes", "max RSS", "warn/err",
                "final");
  out << line;
  for (const auto& n : run.nodes) {
    uint64_t rss = 0;
    uint64_t warnings = 0;
    uint64_t errors = 0;
    for (const auto& s : n.samples)
      if (s.answered) {
        rss = std::max(rss, s.status.rss_bytes);
        warnings = s.status.warnings;
        errors = s.status.errors;
      }
    std::string final_text;
    if (n.role == swarm_role::trainer) {
      char acc[64];
      if (n.final_accuracy)
        std::snprintf(acc, sizeof(acc), "%.2f%% at step %llu",
                      100 * *n.final_accuracy,
                      static_cast<unsigned long long>(n.final_step));
      else
        std::snprintf(acc, sizeof(acc), "no evaluation");
      final_text = acc;
      if (!n.epochs.empty())
        final_text += ", epoch " + std::to_string(n.epochs.back().epoch);
    } else {
      final_text = n.killed ? "killed" : (n.answered_at_end ? "up" : "silent");
    }
    char rss_text[32];
    std::snprintf(rss_text, sizeof(rss_text), "%.0f MiB",
                  static_cast<double>(rss) / (1 << 20));
    std::snprintf(
        line, sizeof(line), "  %-12s %-8s %-7zu %-8zu %-10s %-9s %s\n",
        n.name.c_str(), to_string(n.role), n.exits.size(), n.crashes.size(),
        rss_text,
        (std::to_string(warnings) + "/" + std::to_string(errors)).c_str(),
        final_text.c_str());
    out << line;
  }
  for (const auto& f : run.faults) {
    std::string targets;
    for (const auto& t : f.targets)
      targets += (targets.empty() ? "" : ",") + t;
    std::snprintf(line, sizeof(line), "  fault %6.1f s  %-9s %s%s\n", f.t,
                  to_string(f.action), targets.c_str(),
                  f.ok ? "" : (" FAILED: " + f.error).c_str());
    out << line;
  }
  for (const auto& inv : run.invariants) {
    out << "  " << (inv.holds ? "PASS" : "FAIL") << " " << inv.kind
        << ": measured " << num(inv.measured) << ", bound "
        << num(inv.threshold) << " (" << inv.detail << ")\n";
  }
  if (!run.failure.empty())
    out << "  FAILED: " << run.failure << "\n";
  if (run.interrupted)
    out << "  INTERRUPTED\n";
  out << (run.all_hold() ? "PASSED" : "FAILED") << "\n";
  return out.str();
}

} // namespace colony::apps
