// `colony harness SCENARIO.toml`: the fault-injection harness. Starts the
// scenario's swarm as real processes on loopback, applies its faults on
// time, samples every node through its control service, checks the
// invariants, writes the JSON report and the plot, prints a summary, and
// exits 0 only if every invariant holds.

#include "apps/cli/commands.hpp"
#include "apps/harness/harness_invariants.hpp"
#include "apps/harness/harness_report.hpp"
#include "apps/harness/harness_runner.hpp"
#include "apps/node/node_config.hpp"
#include "apps/output/learning_curve.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

namespace colony::apps {

namespace {

struct harness_args {
  std::string scenario_path;
  std::string out_dir;
  bool skip_baseline = false;
};

void say(const std::string& text) {
  auto now = std::time(nullptr);
  char stamp[16];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", std::localtime(&now));
  std::printf("[%s] %s\n", stamp, text.c_str());
  std::fflush(stdout);
}

/// Every node config of the scenario must load before anything starts.
bool configs_load(const harness_scenario& s) {
  bool ok = true;
  for (const auto& n : s.swarm.nodes) {
    auto cfg = load_node_config(n.config, n.overrides);
    if (!cfg) {
      std::cerr << "colony: config error:\n"
                << error_reason(cfg.error()) << std::endl;
      ok = false;
    } else if (n.role == swarm_role::trainer && !cfg->has_trainer) {
      std::cerr << "colony: " << n.config
                << " has no [trainer] section, but role is trainer"
                << std::endl;
      ok = false;
    }
  }
  return ok;
}

int run_harness_command(const harness_args& args) {
  block_shutdown_signals(); // children get their own (unblocked) mask
  auto scenario = load_harness_scenario(args.scenario_path);
  if (!scenario) {
    std::cerr << "colony: " << error_reason(scenario.error()) << std::endl;
    return 2; // missing, unreadable or invalid scenario: a usage error
  }
  if (!configs_load(*scenario))
    return 2;
  auto out_dir =
      args.out_dir.empty()
          ? (std::filesystem::path{"harness-out"} / scenario->name).string()
          : args.out_dir;
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  harness_options options;
  options.colony_binary = self_executable();
  options.say = say;
  say("scenario " + scenario->name + ": " + scenario->description);
  std::optional<std::vector<double>> baseline;
  if (scenario->needs_baseline() && !args.skip_baseline) {
    say("fault-free run first (for accuracy_vs_baseline)");
    options.out_dir = (std::filesystem::path{out_dir} / "baseline").string();
    options.inject_faults = false;
    auto reference = run_harness(*scenario, options);
    if (reference.interrupted)
      return 130;
    std::vector<double> accuracies;
    for (const auto& n : reference.nodes)
      if (n.role == swarm_role::trainer && n.final_accuracy)
        accuracies.push_back(*n.final_accuracy);
    if (!reference.failure.empty())
      say("the fault-free run failed: " + reference.failure);
    else
      baseline = std::move(accuracies);
    say("fault-free run done");
  }
  options.out_dir = out_dir;
  options.inject_faults = true;
  auto run = run_harness(*scenario, options);
  run.baseline_accuracy = baseline;
  run.invariants = check_invariants(*scenario, run);
  auto report = (std::filesystem::path{out_dir} / "report.json").string();
  if (auto err = write_harness_report(run, report))
    std::cerr << "colony: " << error_reason(err) << std::endl;
  auto png = (std::filesystem::path{out_dir} / "harness.png").string();
  // Only trainers have learning curves to plot.
  bool trainers = std::any_of(run.nodes.begin(), run.nodes.end(), [](auto& n) {
    return n.role == swarm_role::trainer;
  });
  if (trainers && !gnuplot_available()) {
    say("gnuplot is not installed: no plot (apt-get install gnuplot-nox)");
  } else if (trainers) {
    if (auto err = plot_harness_run(run, png))
      say("cannot plot: " + error_reason(err));
  }
  std::printf("%s", harness_summary(run).c_str());
  std::printf("report: %s\n", report.c_str());
  std::fflush(stdout);
  if (run.interrupted)
    return 130;
  return run.all_hold() ? 0 : 1;
}

} // namespace

void add_harness_command(CLI::App& app) {
  auto args = std::make_shared<harness_args>();
  auto* cmd = app.add_subcommand(
      "harness", "run a fault-injection scenario against a local swarm and "
                 "check its invariants (configs/harness/)");
  cmd->add_option("scenario", args->scenario_path, "scenario (TOML)")
      ->required();
  cmd->add_option("--out", args->out_dir,
                  "directory for logs, report.json and harness.png "
                  "(default harness-out/NAME)");
  cmd->add_flag("--no-baseline", args->skip_baseline,
                "skip the fault-free run that accuracy_vs_baseline needs "
                "(that invariant then fails)");
  cmd->callback([args] { exit_with(run_harness_command(*args)); });
}

} // namespace colony::apps
