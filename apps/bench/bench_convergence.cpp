// `colony bench convergence`: does training through a swarm reach what the
// same model reaches without one? In one run, for the same number of steps
// and the same seed:
//   local      the architecture with every expert in this process (baseline)
//   swarm      a DHT bootstrap, two expert servers and one trainer, each a
//              `colony` process on loopback
//   swarm_drop the same, with the servers dropping a share of the expert
//              requests at random (the trainer's calls time out)
// and reports each final test accuracy (all 10,000 test images) and the
// differences to the baseline.

#include "actors/trainer/trainer_options.hpp"
#include "apps/bench/local_training.hpp"
#include "apps/cli/commands.hpp"
#include "apps/output/json_text.hpp"
#include "apps/output/metrics_csv.hpp"
#include "apps/swarm/swarm_launcher.hpp"
#include "messages/error.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace colony::apps {

namespace {

struct convergence_args {
  uint64_t steps = 600;
  double drop_rate = 0.1;
  std::vector<uint64_t> seeds{1, 2};
  int64_t hidden_dim = 128;
  size_t batch_size = 128;
  /// Short, so that a dropped call costs little time; a slow answer may
  /// count as failed, which the failed-call share then shows.
  double timeout_after_k_min = 0.05;
  std::string keep_dir;
  bool json = false;
};

struct convergence_outcome {
  double accuracy = 0;
  double seconds = 0;
  double failed_calls = 0; // mean share over the run's records
  uint64_t steps = 0;
};

/// The model every run trains: two blocks over 4x4 grids of ffn experts,
/// the top 4 per sample.
std::string trainer_section(const convergence_args& a, uint64_t seed) {
  std::ostringstream s;
  s << "[trainer]\n"
    << "hidden_dim = " << a.hidden_dim << "\n"
    << "grids = [\"ffn0.[0:4].[0:4]\", \"ffn1.[0:4].[0:4]\"]\n"
    << "k_best = 4\n"
    << "batch_size = " << a.batch_size << "\n"
    << "timeout_after_k_min = " << a.timeout_after_k_min << "\n"
    << "max_steps = " << a.steps << "\n"
    << "eval_every = 0\n"
    << "report_every = 10\n"
    << "seed = " << seed << "\n";
  return s.str();
}

trainer::trainer_options local_options(const convergence_args& a,
                                       uint64_t seed) {
  trainer::trainer_options o;
  o.hidden_dim = a.hidden_dim;
  o.grids = {"ffn0.[0:4].[0:4]", "ffn1.[0:4].[0:4]"};
  o.k_best = 4;
  o.batch_size = a.batch_size;
  o.max_steps = a.steps;
  o.seed = seed;
  o.local_experts = true;
  return o;
}

caf::expected<convergence_outcome> run_local(const convergence_args& a,
                                             uint64_t seed) {
  auto local = train_locally(local_options(a, seed), a.steps);
  if (!local)
    return local.error();
  convergence_outcome out;
  out.accuracy = local->accuracy;
  out.steps = local->steps;
  out.seconds = local->seconds;
  return out;
}

caf::expected<convergence_outcome> run_swarm(const convergence_args& a,
                                             uint64_t seed,
                                             const std::string& dir,
                                             double drop) {
  std::filesystem::create_directories(dir);
  const std::string node = "[node]\nlisten = \"127.0.0.1:0\"\n"
                           "log_level = \"warn\"\ncompute_threads = 1\n";
  std::ostringstream server;
  server << node << "[dht]\nenabled = true\n";
  for (const auto* grid : {"ffn0.[0:4].[0:4]", "ffn1.[0:4].[0:4]"})
    server << "[[experts]]\nexpert_pattern = \"" << grid << "\"\n"
           << "num_experts = 8\nhidden_dim = " << a.hidden_dim << "\n"
           << "drop_rate = " << drop << "\n";
  if (auto err = write_text_file(dir + "/dht.toml", node))
    return err;
  if (auto err = write_text_file(dir + "/server.toml", server.str()))
    return err;
  if (auto err = write_text_file(dir + "/trainer.toml",
                                 node + trainer_section(a, seed)))
    return err;
  swarm_spec spec;
  spec.nodes.push_back({swarm_role::dht, dir + "/dht.toml", 1, {}});
  spec.nodes.push_back({swarm_role::server, dir + "/server.toml", 2, {}});
  spec.nodes.push_back({swarm_role::trainer, dir + "/trainer.toml", 1, {}});
  auto began = std::chrono::steady_clock::now();
  swarm_launcher launcher(self_executable(), dir);
  if (auto err = launcher.start(spec))
    return err;
  swarm_member* trainer = nullptr;
  for (auto& m : launcher.members())
    if (m.role == swarm_role::trainer)
      trainer = &m;
  // Bounded: a run that hangs must not hang the benchmark.
  auto limit =
      std::chrono::seconds(60) + std::chrono::milliseconds(a.steps * 2000);
  auto status = trainer->process.wait_for(
      std::chrono::duration_cast<std::chrono::milliseconds>(limit));
  if (status != 0)
    return make_error(
        errc::io_error,
        "the trainer " +
            (status < 0 ? std::string{"did not finish"}
                        : "exited with status " + std::to_string(status)) +
            "; its log ends with:\n" + tail_of_file(trainer->log_path));
  auto rows = read_metrics_csv(trainer->metrics_csv);
  if (!rows)
    return rows.error();
  convergence_outcome out;
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began)
          .count();
  double failed = 0;
  size_t counted = 0;
  for (const auto& r : *rows) {
    if (r.test_accuracy)
      out.accuracy = *r.test_accuracy;
    out.steps = r.step;
    failed += r.failed_calls;
    ++counted;
  }
  out.failed_calls = counted > 0 ? failed / static_cast<double>(counted) : 0;
  return out;
}

std::string convergence_json(const convergence_outcome& o) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer),
                "{\"test_accuracy\": %.4f, \"steps\": %llu, \"seconds\": "
                "%.1f, \"failed_calls\": %.4f}",
                o.accuracy, static_cast<unsigned long long>(o.steps), o.seconds,
                o.failed_calls);
  return buffer;
}

/// The three runs of one seed.
struct seed_outcome {
  uint64_t seed = 0;
  convergence_outcome local;
  convergence_outcome swarm;
  convergence_outcome dropped;
};

double mean_of(const std::vector<seed_outcome>& runs,
               double (*pick)(const seed_outcome&)) {
  double sum = 0;
  for (const auto& r : runs)
    sum += pick(r);
  return runs.empty() ? 0 : sum / static_cast<double>(runs.size());
}

int bench_convergence(const convergence_args& a) {
  auto dir = a.keep_dir;
  bool temporary = dir.empty();
  if (temporary)
    dir = (std::filesystem::temp_directory_path() /
           ("colony-convergence-" + std::to_string(::getpid())))
              .string();
  auto say = [&](const std::string& text) {
    if (!a.json)
      std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  };
  char drop_text[32];
  std::snprintf(drop_text, sizeof(drop_text), "%.0f%%", 100 * a.drop_rate);
  std::vector<seed_outcome> runs;
  for (auto seed : a.seeds) {
    seed_outcome o;
    o.seed = seed;
    auto tag = "seed " + std::to_string(seed) + ": ";
    say(tag + "local, " + std::to_string(a.steps) +
        " steps, every expert here");
    auto local = run_local(a, seed);
    if (!local) {
      std::cerr << "colony: local run failed: " << error_reason(local.error())
                << std::endl;
      return 1;
    }
    o.local = *local;
    say(tag + "swarm: 1 DHT node, 2 expert servers, 1 trainer");
    auto sub = dir + "/seed" + std::to_string(seed);
    auto swarm = run_swarm(a, seed, sub + "/swarm", 0);
    if (!swarm) {
      std::cerr << "colony: swarm run failed: " << error_reason(swarm.error())
                << std::endl;
      return 1;
    }
    o.swarm = *swarm;
    say(tag + "swarm_drop: the same, servers dropping " + drop_text +
        " of the requests");
    auto dropped = run_swarm(a, seed, sub + "/swarm_drop", a.drop_rate);
    if (!dropped) {
      std::cerr << "colony: swarm run with drops failed: "
                << error_reason(dropped.error()) << std::endl;
      return 1;
    }
    o.dropped = *dropped;
    runs.push_back(o);
  }
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  auto local_acc =
      mean_of(runs, [](const seed_outcome& o) { return o.local.accuracy; });
  auto swarm_acc =
      mean_of(runs, [](const seed_outcome& o) { return o.swarm.accuracy; });
  auto drop_acc =
      mean_of(runs, [](const seed_outcome& o) { return o.dropped.accuracy; });
  if (a.json) {
    std::string per_seed;
    for (const auto& o : runs)
      per_seed += std::string{per_seed.empty() ? "" : ", "} +
                  "{\"seed\": " + std::to_string(o.seed) +
                  ", \"local\": " + convergence_json(o.local) +
                  ", \"swarm\": " + convergence_json(o.swarm) +
                  ", \"swarm_drop\": " + convergence_json(o.dropped) + "}";
    std::printf(
        "{\"bench\": \"convergence\", \"steps\": %llu, \"batch_size\": %zu, "
        "\"drop_rate\": %.3f, \"runs\": [%s], \"mean_test_accuracy\": "
        "{\"local\": %.4f, \"swarm\": %.4f, \"swarm_drop\": %.4f}, "
        "\"swarm_minus_local_points\": %.2f, \"drop_minus_swarm_points\": "
        "%.2f}\n",
        static_cast<unsigned long long>(a.steps), a.batch_size, a.drop_rate,
        per_seed.c_str(), local_acc, swarm_acc, drop_acc,
        100 * (swarm_acc - local_acc), 100 * (drop_acc - swarm_acc));
  } else {
    std::printf("%-5s %-11s %9s %8s %9s %13s\n", "seed", "run", "accuracy",
                "steps", "time", "failed calls");
    auto row = [](uint64_t seed, const char* name,
                  const convergence_outcome& o) {
      std::printf("%-5llu %-11s %8.2f%% %8llu %8.1fs %12.1f%%\n",
                  static_cast<unsigned long long>(seed), name, 100 * o.accuracy,
                  static_cast<unsigned long long>(o.steps), o.seconds,
                  100 * o.failed_calls);
    };
    for (const auto& o : runs) {
      row(o.seed, "local", o.local);
      row(o.seed, "swarm", o.swarm);
      row(o.seed, "swarm_drop", o.dropped);
    }
    std::printf("mean accuracy: local %.2f%%, swarm %.2f%%, swarm_drop "
                "%.2f%%\nswarm - local: %+.2f points; swarm_drop - swarm: "
                "%+.2f points\n",
                100 * local_acc, 100 * swarm_acc, 100 * drop_acc,
                100 * (swarm_acc - local_acc), 100 * (drop_acc - swarm_acc));
  }
  std::fflush(stdout);
  return 0;
}

} // namespace

void add_bench_convergence_command(CLI::App& bench) {
  auto args = std::make_shared<convergence_args>();
  auto* cmd = bench.add_subcommand(
      "convergence", "Fashion-MNIST accuracy through a local swarm (with and "
                     "without dropped requests) vs the same model locally");
  cmd->add_option("--steps", args->steps, "training steps of each run")
      ->capture_default_str();
  cmd->add_option("--drop-rate", args->drop_rate,
                  "share of requests the servers drop in the third run")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seeds", args->seeds,
                  "seeds; each runs all three variants, and the report "
                  "gives per-seed and mean accuracies")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--hidden-dim", args->hidden_dim, "model width")
      ->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "samples per step")
      ->capture_default_str();
  cmd->add_option("--timeout-after-k-min", args->timeout_after_k_min,
                  "seconds the trainer waits for the other experts once one "
                  "answered (swarm runs)")
      ->capture_default_str();
  cmd->add_option("--keep", args->keep_dir,
                  "keep configs, logs and metrics of the runs here");
  cmd->add_flag("--json", args->json, "one JSON line");
  cmd->callback([args] { exit_with(bench_convergence(*args)); });
}

} // namespace colony::apps
