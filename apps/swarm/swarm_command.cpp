// `colony swarm SWARM.toml`: the main job. Starts a local swarm of `colony`
// processes on loopback (DHT bootstrap, expert servers, trainers), shows the
// trainers' progress side by side, waits until every trainer is done, then
// prints their test accuracies, plots their learning curves and stops the
// swarm.

#include "apps/cli/commands.hpp"
#include "apps/node/node_config.hpp"
#include "apps/output/learning_curve.hpp"
#include "apps/output/metrics_csv.hpp"
#include "apps/output/progress_display.hpp"
#include "apps/swarm/parameter_files.hpp"
#include "apps/swarm/swarm_launcher.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

namespace colony::apps {

namespace {

struct swarm_args {
  std::string spec_path;
  std::string out_dir = "swarm-out";
  std::vector<std::string> role_overrides;
  bool no_progress = false;
};

/// One trainer as the swarm follows it.
struct followed_trainer {
  swarm_member* member = nullptr;
  trainer::trainer_options options; // from its config, for totals
  metrics_csv_reader reader;
  std::vector<trainer::training_record> records;
  std::optional<double> accuracy;
};

caf::expected<std::pair<swarm_role, std::string>>
parse_role_override(const std::string& text) {
  auto colon = text.find(':');
  auto role = text.substr(0, colon);
  if (colon != std::string::npos) {
    auto rest = text.substr(colon + 1);
    if (role == "dht")
      return std::make_pair(swarm_role::dht, rest);
    if (role == "server")
      return std::make_pair(swarm_role::server, rest);
    if (role == "trainer")
      return std::make_pair(swarm_role::trainer, rest);
  }
  return make_error(errc::bad_config,
                    "--set " + text +
                        ": expected ROLE:section.key=value with ROLE dht, "
                        "server or trainer");
}

/// For a collaborative run: each trainer's last epoch, and how far apart
/// their final parameters are (equal when they stopped at one epoch).
void report_collaboration(const std::vector<followed_trainer>& trainers) {
  std::vector<std::string> files;
  std::string epochs;
  for (const auto& t : trainers) {
    if (!t.options.collaborative)
      continue;
    auto epoch = t.records.empty() ? 0 : t.records.back().epoch;
    epochs += (epochs.empty() ? "" : " / ") + std::to_string(epoch);
    if (t.member->exit_status.value_or(1) == 0)
      files.push_back(t.member->final_parameters);
  }
  if (epochs.empty())
    return;
  std::printf("collaborative epochs: %s\n", epochs.c_str());
  if (files.size() < 2)
    return;
  auto d = max_parameter_difference(files);
  if (d)
    std::printf("trainers' final parameters: largest difference %.3g\n", *d);
  else
    std::printf("trainers' final parameters not compared: %s\n",
                error_reason(d.error()).c_str());
}

progress_view view_of(const followed_trainer& t) {
  progress_view v;
  v.label = t.member->name;
  v.total_steps = t.options.max_steps;
  v.total_s = static_cast<double>(t.options.max_time.count()) / 1000;
  v.test_accuracy = t.accuracy;
  if (!t.records.empty()) {
    const auto& r = t.records.back();
    v.step = r.step;
    v.elapsed_s = r.time_s;
    v.train_loss = r.train_loss;
    v.samples_per_s = r.samples_per_s;
    v.live_experts = r.live_experts;
    v.failed_calls = r.failed_calls;
    if (t.options.collaborative)
      v.epoch = r.epoch; // the swarm's throughput is not in the CSV
  }
  return v;
}

int run_swarm(const swarm_args& args) {
  block_shutdown_signals(); // children get their own (unblocked) mask
  auto spec = load_swarm_spec(args.spec_path);
  if (!spec) {
    std::cerr << "colony: " << error_reason(spec.error()) << std::endl;
    return 2; // missing, unreadable or invalid spec: a usage error
  }
  std::vector<std::pair<swarm_role, std::string>> extra;
  for (const auto& text : args.role_overrides) {
    auto parsed = parse_role_override(text);
    if (!parsed) {
      std::cerr << "colony: " << error_reason(parsed.error()) << std::endl;
      return 2;
    }
    extra.push_back(*parsed);
  }
  // Check every config (with its overrides) before starting anything.
  // The [trainer] of each spec entry (entries may share a config file and
  // differ in their overrides).
  std::map<const swarm_node_spec*, trainer::trainer_options> trainer_options;
  for (const auto& n : spec->nodes) {
    auto overrides = n.overrides;
    for (const auto& [role, o] : extra)
      if (role == n.role)
        overrides.push_back(o);
    auto cfg = load_node_config(n.config, overrides);
    if (!cfg) {
      std::cerr << "colony: config error:\n"
                << error_reason(cfg.error()) << std::endl;
      return 2;
    }
    if (n.role == swarm_role::trainer) {
      if (!cfg->has_trainer) {
        std::cerr << "colony: " << n.config
                  << " has no [trainer] section, but role is trainer"
                  << std::endl;
        return 2;
      }
      trainer_options[&n] = cfg->trainer;
    }
  }
  bool interactive = !args.no_progress && stdout_is_terminal();
  swarm_launcher launcher(self_executable(), args.out_dir);
  std::printf("starting the swarm of %s (logs in %s/)\n",
              args.spec_path.c_str(), args.out_dir.c_str());
  std::fflush(stdout);
  auto err = launcher.start(
      *spec, extra, [&](const swarm_member& m, size_t done, size_t total) {
        std::printf("  [%zu/%zu] %s%s%s\n", done, total, m.name.c_str(),
                    m.address.empty() ? "" : " listening on ",
                    m.address.c_str());
        std::fflush(stdout);
      });
  if (err) {
    std::cerr << "colony: the swarm did not start: " << error_reason(err)
              << std::endl;
    return 1;
  }
  // Trainer configs in start order (a spec entry with count n gives n).
  std::vector<followed_trainer> trainers;
  {
    std::vector<const swarm_node_spec*> entries;
    for (const auto& n : spec->nodes)
      if (n.role == swarm_role::trainer)
        for (size_t i = 0; i < n.count; ++i)
          entries.push_back(&n);
    size_t next = 0;
    for (auto& m : launcher.members())
      if (m.role == swarm_role::trainer) {
        followed_trainer t;
        t.member = &m;
        t.options = trainer_options[entries.at(next++)];
        t.reader = metrics_csv_reader(m.metrics_csv);
        trainers.push_back(std::move(t));
      }
  }
  progress_display display(stdout, interactive);
  int status = 0;
  bool interrupted = false;
  for (;;) {
    bool any_new = false;
    for (auto& t : trainers) {
      for (auto& r : t.reader.read_new()) {
        if (r.test_accuracy)
          t.accuracy = r.test_accuracy;
        t.records.push_back(r);
        any_new = true;
      }
    }
    if (any_new) {
      std::vector<progress_view> views;
      for (const auto& t : trainers)
        views.push_back(view_of(t));
      display.update(views, false);
    }
    launcher.poll_exited();
    bool trainers_done = true;
    for (const auto& t : trainers)
      trainers_done = trainers_done && t.member->exit_status.has_value();
    if (trainers_done)
      break;
    // A server or DHT node that dies while trainers run is a failure of
    // the run (the harness is where nodes die on purpose).
    for (const auto& m : launcher.members())
      if (m.role != swarm_role::trainer && m.exit_status) {
        display.finish();
        std::cerr << "colony: " << m.name << " exited with status "
                  << *m.exit_status << " during training; its log ends "
                  << "with:\n"
                  << tail_of_file(m.log_path);
        return 1;
      }
    if (auto sig = wait_for_shutdown_signal(250)) {
      if (interrupted)
        break;
      interrupted = true;
      // Trainers stop after their current step and still evaluate.
      for (auto& t : trainers)
        if (!t.member->exit_status)
          t.member->process.signal(SIGTERM);
      (void)sig;
    }
  }
  // The final rows written just before exit.
  for (auto& t : trainers)
    for (auto& r : t.reader.read_new()) {
      if (r.test_accuracy)
        t.accuracy = r.test_accuracy;
      t.records.push_back(r);
    }
  display.finish();
  std::printf("\n%-12s %8s %10s %12s %10s\n", "trainer", "steps", "time",
              "samples/s", "accuracy");
  for (const auto& t : trainers) {
    const auto* last = t.records.empty() ? nullptr : &t.records.back();
    double mean_rate = last && last->time_s > 0
                           ? static_cast<double>(last->samples) / last->time_s
                           : 0;
    std::printf("%-12s %8llu %9.1fs %12.0f %9.2f%%\n", t.member->name.c_str(),
                static_cast<unsigned long long>(last ? last->step : 0),
                last ? last->time_s : 0.0, mean_rate,
                t.accuracy ? 100 * *t.accuracy : 0.0);
    if (t.member->exit_status.value_or(1) != 0) {
      std::cerr << "colony: " << t.member->name << " exited with status "
                << t.member->exit_status.value_or(-1) << "; its log "
                << t.member->log_path << " ends with:\n"
                << tail_of_file(t.member->log_path);
      status = 1;
    }
  }
  report_collaboration(trainers);
  std::printf("metrics: %s/trainer-N.csv\n", args.out_dir.c_str());
  if (gnuplot_available()) {
    std::vector<std::pair<std::string, std::vector<trainer::training_record>>>
        runs;
    for (const auto& t : trainers)
      runs.emplace_back(t.member->name, t.records);
    learning_curve_options plot_options;
    plot_options.title = "colony: Fashion-MNIST over a local swarm";
    auto png = args.out_dir + "/learning_curve.png";
    if (auto perr = plot_learning_curve(runs, png, plot_options))
      std::cerr << "colony: cannot plot: " << error_reason(perr) << std::endl;
    else
      std::printf("learning curve: %s\n", png.c_str());
  } else {
    std::printf("no plot: gnuplot is not installed\n");
  }
  std::fflush(stdout);
  launcher.stop_all();
  return interrupted ? 130 : status;
}

} // namespace

void add_swarm_command(CLI::App& app) {
  auto args = std::make_shared<swarm_args>();
  auto* cmd = app.add_subcommand(
      "swarm", "run a local swarm of colony processes from a spec (DHT, "
               "expert servers, trainers) until its trainers finish");
  cmd->add_option("spec", args->spec_path, "swarm spec (TOML, [[nodes]])")
      ->required();
  cmd->add_option("--out", args->out_dir,
                  "directory for logs, metrics and the plot")
      ->capture_default_str();
  cmd->add_option("--set", args->role_overrides,
                  "override a key for every node of a role: "
                  "ROLE:section.key=value (repeatable)");
  cmd->add_flag("--no-progress", args->no_progress,
                "plain progress lines even on a terminal");
  cmd->callback([args] { exit_with(run_swarm(*args)); });
}

} // namespace colony::apps
