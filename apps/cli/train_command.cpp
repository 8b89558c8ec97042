// `colony train CONFIG.toml`: a node that joins the swarm (and may host
// experts of its own), runs the config's `[trainer]`, shows progress, writes
// the metrics CSV and the learning curve, and exits with the final test
// accuracy printed.

#include "actors/control/control_service.hpp"
#include "actors/trainer/trainer.hpp"
#include "apps/cli/commands.hpp"
#include "apps/cli/config_flags.hpp"
#include "apps/cli/node_launch.hpp"
#include "apps/node/node.hpp"
#include "apps/output/learning_curve.hpp"
#include "apps/output/metrics_csv.hpp"
#include "apps/output/progress_display.hpp"
#include "messages/error.hpp"
#include "runtime/signals.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

namespace colony::apps {

namespace {

struct train_args {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string address_file;
  config_flags flags;
  std::string label;
  bool no_progress = false;
};

progress_view view_of(const std::string& label,
                      const trainer::trainer_options& o,
                      const trainer::training_record& r,
                      std::optional<double> accuracy) {
  progress_view v;
  v.label = label;
  v.step = r.step;
  v.total_steps = o.max_steps;
  v.elapsed_s = r.time_s;
  v.total_s = static_cast<double>(o.max_time.count()) / 1000;
  v.train_loss = r.train_loss;
  v.samples_per_s = r.samples_per_s;
  v.live_experts = r.live_experts;
  v.failed_calls = r.failed_calls;
  v.test_accuracy = accuracy;
  if (o.collaborative) {
    v.epoch = r.epoch;
    v.swarm_samples_per_s = r.swarm_samples_per_s;
  }
  return v;
}

/// Feeds the trainer's reports to the display and the CSV until its result
/// arrives. A first SIGINT/SIGTERM asks the trainer to stop (it still
/// evaluates); a second one abandons it.
std::optional<trainer::training_result> follow_trainer(
    caf::scoped_actor& self, const caf::actor& trainer_actor,
    const trainer::trainer_options& options, const std::string& label,
    progress_display& display, metrics_csv_writer* csv, spdlog::logger& log,
    std::vector<trainer::training_record>& records, const caf::actor& control) {
  std::optional<trainer::training_result> result;
  std::optional<double> accuracy;
  int signals = 0;
  while (!result) {
    self->receive(
        [&](trainer::training_record& r) {
          if (r.test_accuracy)
            accuracy = r.test_accuracy;
          if (csv != nullptr)
            if (auto err = csv->append(r))
              log.warn("cannot write metrics: {}", error_reason(err));
          if (control)
            self->send(control, control::training_report_atom::value, r, false);
          records.push_back(r);
          display.update({view_of(label, options, r, accuracy)},
                         r.test_accuracy.has_value());
        },
        [&](trainer::training_result& r) {
          if (control && !records.empty()) {
            auto last = records.back();
            last.test_accuracy = r.test_accuracy;
            last.test_loss = r.test_loss;
            self->send(control, control::training_report_atom::value, last,
                       true);
          }
          result = std::move(r);
        },
        caf::after(std::chrono::milliseconds(200)) >> [] {});
    if (result)
      break;
    if (auto sig = wait_for_shutdown_signal(0)) {
      if (++signals == 1) {
        log.info("received signal {}: stopping training after this step", sig);
        self->send(trainer_actor, trainer::trainer_stop_atom::value);
      } else {
        log.warn("received signal {} again: abandoning training", sig);
        self->send_exit(trainer_actor, caf::exit_reason::kill);
        return std::nullopt;
      }
    }
  }
  return result;
}

int train(const train_args& args) {
  block_shutdown_signals(); // before any thread exists
  node_config config;
  command_config_sources sources;
  sources.config_path = args.config_path;
  sources.flags = &args.flags;
  sources.sets = args.overrides;
  if (auto rc = load_command_config(sources, config))
    return rc;
  if (!config.has_trainer) {
    std::cerr << "colony: " << args.config_path
              << " has no [trainer] section (see configs/trainer.toml)"
              << std::endl;
    return usage_error_status;
  }
  const auto& options = config.trainer;
  if (options.collaborative && options.collaboration.auxiliary) {
    std::cerr << "colony: trainer.auxiliary: an auxiliary peer trains "
                 "nothing; start it with `colony run "
              << args.config_path << "`" << std::endl;
    return usage_error_status;
  }
  // Remote blocks find their experts through the DHT.
  if (!options.local_experts)
    config.dht_enabled = true;
  std::unique_ptr<metrics_csv_writer> csv;
  if (!options.metrics_csv.empty()) {
    auto writer = metrics_csv_writer::open(options.metrics_csv);
    if (!writer) {
      std::cerr << "colony: " << error_reason(writer.error()) << std::endl;
      return 1;
    }
    csv = std::make_unique<metrics_csv_writer>(std::move(*writer));
  }
  auto started = node::start(config);
  if (!started) {
    std::cerr << "colony: cannot start node: " << describe(started.error())
              << std::endl;
    return 1;
  }
  auto& n = **started;
  if (auto rc = join_swarm(n))
    return rc;
  if (!config.experts.empty())
    if (auto err = n.host_experts()) {
      n.log().error("cannot start experts: {}", error_reason(err));
      return 1;
    }
  if (auto rc = announce_address(n, args.address_file))
    return rc;
  caf::scoped_actor self{n.system()};
  trainer::trainer_config tc;
  tc.options = options;
  tc.swarm = {&n.system(),   n.transport(), n.dht(),
              n.shared_me(), n.address(),   n.shared_log()};
  tc.listener = caf::actor_cast<caf::actor>(self);
  tc.log = n.shared_log();
  auto trainer_actor = trainer::spawn_trainer(n.system(), std::move(tc));
  progress_display display(stdout, !args.no_progress && stdout_is_terminal());
  std::vector<trainer::training_record> records;
  auto result =
      follow_trainer(self, trainer_actor, options, args.label, display,
                     csv.get(), n.log(), records, n.control());
  display.finish();
  if (!result)
    return 130;
  if (!options.plot.empty()) {
    if (!gnuplot_available()) {
      n.log().warn("gnuplot is not installed: no plot (apt-get install "
                   "gnuplot-nox)");
    } else {
      learning_curve_options plot_options;
      plot_options.title = "colony: Fashion-MNIST, " + options.layer +
                           " layer, " + std::to_string(options.grids.size()) +
                           " blocks";
      std::string run_label = args.label.empty() ? "trainer" : args.label;
      if (auto err = plot_learning_curve({{run_label, records}}, options.plot,
                                         plot_options))
        n.log().warn("cannot plot the learning curve: {}", error_reason(err));
    }
  }
  std::printf("%s%stest accuracy %.2f%% on %llu samples after %llu steps "
              "(%llu samples) in %.1f s\n",
              args.label.c_str(), args.label.empty() ? "" : ": ",
              100 * result->test_accuracy,
              static_cast<unsigned long long>(result->test_samples),
              static_cast<unsigned long long>(result->steps),
              static_cast<unsigned long long>(result->samples),
              result->seconds);
  std::fflush(stdout);
  if (!result->error.empty()) {
    n.log().error("training failed: {}", result->error);
    return 1;
  }
  return 0;
}

} // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<train_args>();
  auto* cmd = app.add_subcommand(
      "train", "train a DMoE classifier on Fashion-MNIST from a config's "
               "[trainer] section");
  cmd->add_option("config", args->config_path, "node config with [trainer]")
      ->required();
  cmd->add_option("--set", args->overrides,
                  "override a config key: section.key=value (repeatable)");
  cmd->add_option("--address-file", args->address_file,
                  "write HOST:PORT here once the node has joined the swarm");
  args->flags.add(
      cmd,
      {{"--metrics-csv", "trainer.metrics_csv", "write progress records here"},
       {"--plot", "trainer.plot",
        "draw the learning curve into this PNG (needs gnuplot)"}});
  cmd->add_option("--label", args->label, "name of this trainer in output");
  cmd->add_flag("--no-progress", args->no_progress,
                "plain progress lines even on a terminal");
  cmd->callback([args] { exit_with(train(*args)); });
}

} // namespace colony::apps
