// `colony bench collaborative`: do trainers that train one model together
// (the collaborative optimizer) reach what one process reaches with the
// whole batch? In one run, for each seed and the same number of optimizer
// steps (epochs):
//   single   one process, batch = target_batch_size (baseline)
//   peers=P  a DHT bootstrap and P collaborative trainers, each a `colony`
//            process on loopback with batch = target_batch_size / P
//   drop     the P = drop_peers run again, each peer failing a share of its
//            gradient rounds at random (averaging_drop_rate)
//   power_sgd the P = drop_peers run with PowerSGD gradient averaging
//   delayed  (--delayed) the P = drop_peers run with delay_grad_averaging
// The model is the trainer's with every expert in its own process
// (local_experts), so that every parameter goes through the optimizer.
// Reported: final test accuracy (all 10,000 test images) and its
// difference to the baseline, seconds spent averaging per epoch and their
// share of the wall time, gradient bytes each peer sent per epoch, the
// share of failed rounds, and the largest difference between the peers'
// final parameters.

#include "actors/trainer/trainer_options.hpp"
#include "apps/bench/local_training.hpp"
#include "apps/cli/commands.hpp"
#include "apps/output/metrics_csv.hpp"
#include "apps/swarm/parameter_files.hpp"
#include "apps/swarm/swarm_launcher.hpp"
#include "messages/error.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace colony::apps {

namespace {

struct collaborative_args {
  uint64_t epochs = 200;
  uint64_t target_batch_size = 512;
  std::vector<size_t> peers{1, 2, 4};
  std::vector<uint64_t> seeds{1, 2};
  double drop_rate = 0.1;
  size_t drop_peers = 2;
  int64_t hidden_dim = 128;
  double learning_rate = 0.003;
  double matchmaking_time = 3;
  double averaging_timeout = 30;
  std::string keep_dir;
  /// PowerSGD's rank for a run of drop_peers peers with PowerSGD (0: none).
  int64_t power_sgd_rank = 4;
  /// Add a run of drop_peers peers with delay_grad_averaging.
  bool delayed = false;
  std::string log_level = "info";
  bool json = false;
};

/// What one run measured.
struct run_outcome {
  double accuracy = 0; // mean over the run's peers
  double seconds = 0;  // wall time of the training (the slowest peer)
  uint64_t epochs = 0;
  /// Seconds the peers' training threads spent in averaging rounds per
  /// epoch, and the share of the wall time they took (means over peers);
  /// the same after the first record, which holds the wait for the other
  /// peers to start.
  double averaging_per_epoch = 0;
  double averaging_share = 0;
  double steady_averaging_share = 0;
  /// Largest difference between two peers' final parameters (P >= 2).
  std::optional<double> parameter_difference;
  /// Gradient bytes each peer sent per epoch, and the share of its
  /// gradient rounds that failed (means over peers).
  double grad_bytes_per_epoch = 0;
  double failed_rounds = 0;
};

std::string model_section(const collaborative_args& a) {
  std::ostringstream s;
  s << "hidden_dim = " << a.hidden_dim << "\n"
    << "grids = [\"ffn0.[0:4].[0:4]\", \"ffn1.[0:4].[0:4]\"]\n"
    << "local_experts = true\n"
    << "k_best = 4\n"
    << "learning_rate = " << a.learning_rate << "\n";
  return s.str();
}

caf::expected<run_outcome> run_single(const collaborative_args& a,
                                      uint64_t seed) {
  trainer::trainer_options o;
  o.hidden_dim = a.hidden_dim;
  o.grids = {"ffn0.[0:4].[0:4]", "ffn1.[0:4].[0:4]"};
  o.local_experts = true;
  o.k_best = 4;
  o.learning_rate = a.learning_rate;
  o.batch_size = a.target_batch_size;
  o.max_steps = a.epochs;
  o.seed = seed;
  auto local = train_locally(o, a.epochs);
  if (!local)
    return local.error();
  run_outcome out;
  out.accuracy = local->accuracy;
  out.epochs = local->steps;
  out.seconds = local->seconds;
  return out;
}

/// One peer's figures from its metrics CSV.
struct peer_figures {
  double accuracy = 0;
  double seconds = 0;
  uint64_t epochs = 0;
  double averaging = 0;        // seconds in rounds over the whole run
  double steady_averaging = 0; // the same after the first record
  double steady_seconds = 0;
  uint64_t rounds_averaged = 0;
  uint64_t rounds_failed = 0;
  uint64_t grad_bytes = 0;
};

/// Reads the trainer's closing line (actors/trainer/trainer.cpp):
/// `collaborative training: epoch E, A gradient rounds averaged, F failed,
/// L states loaded, S s averaging, B gradient bytes sent`.
caf::error read_closing_line(const std::string& log_path, peer_figures& f) {
  std::ifstream in{log_path};
  const std::string marker = "collaborative training: epoch ";
  for (std::string line; std::getline(in, line);) {
    auto at = line.find(marker);
    if (at == std::string::npos)
      continue;
    unsigned long long epoch = 0, averaged = 0, failed = 0, loaded = 0,
                       bytes = 0;
    double seconds = 0;
    if (std::sscanf(line.c_str() + at + marker.size(),
                    "%llu, %llu gradient rounds averaged, %llu failed, %llu "
                    "states loaded, %lf s averaging, %llu gradient bytes sent",
                    &epoch, &averaged, &failed, &loaded, &seconds,
                    &bytes) == 6) {
      f.rounds_averaged = averaged;
      f.rounds_failed = failed;
      f.grad_bytes = bytes;
      return {};
    }
  }
  return make_error(errc::malformed,
                    log_path +
                        " has no closing line of collaborative training");
}

caf::expected<peer_figures> read_peer(const swarm_member& m) {
  auto rows = read_metrics_csv(m.metrics_csv);
  if (!rows)
    return rows.error();
  if (rows->empty())
    return make_error(errc::malformed, m.metrics_csv + " has no rows");
  peer_figures f;
  uint64_t epoch = 0;
  for (size_t i = 0; i < rows->size(); ++i) {
    const auto& r = (*rows)[i];
    // averaging_s is a mean over the epochs that ended in the record's
    // window: times the epochs, the window's seconds in rounds.
    auto in_rounds = r.averaging_s * static_cast<double>(r.epoch - epoch);
    f.averaging += in_rounds;
    if (i > 0)
      f.steady_averaging += in_rounds;
    epoch = r.epoch;
    if (r.test_accuracy)
      f.accuracy = *r.test_accuracy;
  }
  f.epochs = epoch;
  f.seconds = rows->back().time_s;
  f.steady_seconds = rows->back().time_s - rows->front().time_s;
  return f;
}

/// What differs between the runs of several peers.
struct peers_variant {
  size_t peers = 2;
  double drop_rate = 0;
  bool power_sgd = false;
  /// delay_grad_averaging: each round overlaps the next epoch's compute.
  bool delayed = false;
};

caf::expected<run_outcome> run_peers(const collaborative_args& a, uint64_t seed,
                                     const peers_variant& v,
                                     const std::string& dir) {
  const auto peers = v.peers;
  const auto drop_rate = v.drop_rate;
  std::filesystem::create_directories(dir);
  const std::string node = "[node]\nlisten = \"127.0.0.1:0\"\n"
                           "log_level = \"" +
                           a.log_level +
                           "\"\ncompute_threads = 1\n"
                           "[dht]\nenabled = true\n";
  std::ostringstream trainer;
  trainer << node << "[trainer]\n"
          << model_section(a) << "batch_size = "
          << std::max<uint64_t>(1, a.target_batch_size / peers) << "\n"
          << "collaborative = true\n"
          << "run_id = \"bench" << seed << "\"\n"
          << "target_batch_size = " << a.target_batch_size << "\n"
          << "max_epochs = " << a.epochs
          << "\n"
          // The single process's initial parameters: runs differ only in
          // how they train.
          << "init_seed = " << seed << "\n"
          << "max_time = 0\n"
          << "matchmaking_time = " << a.matchmaking_time << "\n"
          << "averaging_timeout = " << a.averaging_timeout << "\n"
          << "averaging_drop_rate = " << drop_rate << "\n"
          << "delay_grad_averaging = " << (v.delayed ? "true" : "false") << "\n"
          << "grad_averager = \"" << (v.power_sgd ? "power_sgd" : "plain")
          << "\"\n"
          << "power_sgd_rank = " << std::max<int64_t>(1, a.power_sgd_rank)
          << "\n"
          << "eval_every = 0\n"
          << "report_every = 10\n";
  if (auto err = write_text_file(dir + "/dht.toml", node))
    return err;
  if (auto err = write_text_file(dir + "/trainer.toml", trainer.str()))
    return err;
  swarm_spec spec;
  spec.nodes.push_back({swarm_role::dht, dir + "/dht.toml", 1, {}});
  // Each peer its own data order; all start from the run's parameters.
  for (size_t i = 0; i < peers; ++i)
    spec.nodes.push_back(
        {swarm_role::trainer,
         dir + "/trainer.toml",
         1,
         {"trainer.seed=" + std::to_string(seed * 100 + i + 1)}});
  swarm_launcher launcher(self_executable(), dir);
  if (auto err = launcher.start(spec))
    return err;
  // Bounded: a run that hangs must not hang the benchmark.
  auto limit = std::chrono::seconds(120) +
               std::chrono::milliseconds(a.epochs * 3000) +
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::duration<double>(a.matchmaking_time *
                                                 static_cast<double>(a.epochs) *
                                                 drop_rate * 2));
  auto deadline = std::chrono::steady_clock::now() + limit;
  run_outcome out;
  std::vector<std::string> parameter_paths;
  double accuracy = 0, averaging = 0, share = 0, steady = 0;
  for (auto& m : launcher.members()) {
    if (m.role != swarm_role::trainer)
      continue;
    auto status = m.process.wait_for(
        std::max(std::chrono::milliseconds{0},
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     deadline - std::chrono::steady_clock::now())));
    if (status != 0)
      return make_error(
          errc::io_error,
          m.name + " " +
              (status < 0 ? std::string{"did not finish"}
                          : "exited with status " + std::to_string(status)) +
              "; its log ends with:\n" + tail_of_file(m.log_path));
    auto f = read_peer(m);
    if (!f)
      return f.error();
    if (auto err = read_closing_line(m.log_path, *f))
      return err;
    if (f->epochs > 0)
      out.grad_bytes_per_epoch += static_cast<double>(f->grad_bytes) /
                                  static_cast<double>(f->epochs) /
                                  static_cast<double>(peers);
    if (auto rounds = f->rounds_averaged + f->rounds_failed; rounds > 0)
      out.failed_rounds += static_cast<double>(f->rounds_failed) /
                           static_cast<double>(rounds) /
                           static_cast<double>(peers);
    accuracy += f->accuracy;
    out.seconds = std::max(out.seconds, f->seconds);
    out.epochs = std::max(out.epochs, f->epochs);
    averaging +=
        f->epochs > 0 ? f->averaging / static_cast<double>(f->epochs) : 0;
    share += f->seconds > 0 ? f->averaging / f->seconds : 0;
    steady +=
        f->steady_seconds > 0 ? f->steady_averaging / f->steady_seconds : 0;
    parameter_paths.push_back(m.final_parameters);
  }
  auto n = static_cast<double>(peers);
  out.accuracy = accuracy / n;
  out.averaging_per_epoch = averaging / n;
  out.averaging_share = share / n;
  out.steady_averaging_share = steady / n;
  if (peers >= 2) {
    auto diff = max_parameter_difference(parameter_paths);
    if (!diff)
      return diff.error();
    out.parameter_difference = *diff;
  }
  return out;
}

std::string outcome_json(const run_outcome& o) {
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer),
                "{\"test_accuracy\": %.4f, \"epochs\": %llu, \"seconds\": "
                "%.1f, \"averaging_s_per_epoch\": %.4f, \"averaging_share\": "
                "%.4f, \"steady_averaging_share\": %.4f, "
                "\"grad_bytes_per_epoch\": %.0f, \"failed_rounds\": %.4f",
                o.accuracy, static_cast<unsigned long long>(o.epochs),
                o.seconds, o.averaging_per_epoch, o.averaging_share,
                o.steady_averaging_share, o.grad_bytes_per_epoch,
                o.failed_rounds);
  std::string text = buffer;
  if (o.parameter_difference) {
    std::snprintf(buffer, sizeof(buffer), ", \"max_parameter_difference\": %g",
                  *o.parameter_difference);
    text += buffer;
  }
  return text + "}";
}

/// A run of one seed: "single", "peers=P", "drop" or "power_sgd".
struct named_run {
  std::string name;
  run_outcome outcome;
};

/// The variants of several peers, in order.
std::vector<std::pair<std::string, peers_variant>>
variants_of(const collaborative_args& a) {
  std::vector<std::pair<std::string, peers_variant>> out;
  for (auto p : a.peers)
    out.push_back({"peers=" + std::to_string(p), {p, 0, false, false}});
  if (a.drop_rate > 0)
    out.push_back({"drop", {a.drop_peers, a.drop_rate, false, false}});
  if (a.power_sgd_rank > 0)
    out.push_back({"power_sgd", {a.drop_peers, 0, true, false}});
  if (a.delayed)
    out.push_back({"delayed", {a.drop_peers, 0, false, true}});
  return out;
}

std::string variant_text(const peers_variant& v, const collaborative_args& a) {
  auto text = std::to_string(v.peers) + " peers, batch " +
              std::to_string(a.target_batch_size / v.peers) + " each";
  if (v.drop_rate > 0)
    text += ", each failing " +
            std::to_string(static_cast<int>(100 * v.drop_rate + 0.5)) +
            "% of its gradient rounds";
  if (v.power_sgd)
    text += ", PowerSGD rank " + std::to_string(a.power_sgd_rank);
  if (v.delayed)
    text += ", gradient rounds overlapping the next epoch";
  return text;
}

int bench_collaborative(const collaborative_args& a) {
  auto dir = a.keep_dir;
  bool temporary = dir.empty();
  if (temporary)
    dir = (std::filesystem::temp_directory_path() /
           ("colony-collaborative-" + std::to_string(::getpid())))
              .string();
  auto say = [&](const std::string& text) {
    if (!a.json)
      std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  };
  auto fail = [](const std::string& what, const caf::error& err) {
    std::cerr << "colony: " << what << " failed: " << error_reason(err)
              << std::endl;
    return 1;
  };
  auto variants = variants_of(a);
  // Per seed, the single run first, then the variants in order.
  std::vector<std::pair<uint64_t, std::vector<named_run>>> runs;
  for (auto seed : a.seeds) {
    std::vector<named_run> of_seed;
    auto tag = "seed " + std::to_string(seed) + ": ";
    say(tag + "single process, batch " + std::to_string(a.target_batch_size) +
        ", " + std::to_string(a.epochs) + " steps");
    auto single = run_single(a, seed);
    if (!single)
      return fail("the single-process run", single.error());
    of_seed.push_back({"single", *single});
    auto sub = dir + "/seed" + std::to_string(seed) + "/";
    for (const auto& [name, v] : variants) {
      say(tag + name + ": " + variant_text(v, a));
      auto run = run_peers(a, seed, v, sub + name);
      if (!run)
        return fail("the run " + name, run.error());
      of_seed.push_back({name, *run});
    }
    runs.emplace_back(seed, std::move(of_seed));
  }
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // Means over the seeds, per run name (same order in every seed).
  auto seeds = static_cast<double>(runs.size());
  std::vector<named_run> mean = runs.front().second;
  for (auto& m : mean)
    m.outcome = run_outcome{};
  for (const auto& [seed, of_seed] : runs)
    for (size_t i = 0; i < of_seed.size(); ++i) {
      const auto& x = of_seed[i].outcome;
      auto& m = mean[i].outcome;
      m.accuracy += x.accuracy / seeds;
      m.seconds += x.seconds / seeds;
      m.epochs = x.epochs;
      m.averaging_per_epoch += x.averaging_per_epoch / seeds;
      m.averaging_share += x.averaging_share / seeds;
      m.steady_averaging_share += x.steady_averaging_share / seeds;
      m.grad_bytes_per_epoch += x.grad_bytes_per_epoch / seeds;
      m.failed_rounds += x.failed_rounds / seeds;
      if (x.parameter_difference)
        m.parameter_difference = std::max(m.parameter_difference.value_or(0),
                                          *x.parameter_difference);
    }
  const double single_acc = mean.front().outcome.accuracy;
  if (a.json) {
    std::string per_seed;
    for (const auto& [seed, of_seed] : runs) {
      std::string fields;
      for (const auto& r : of_seed)
        fields += ", \"" + r.name + "\": " + outcome_json(r.outcome);
      per_seed += std::string{per_seed.empty() ? "" : ", "} +
                  "{\"seed\": " + std::to_string(seed) + fields + "}";
    }
    std::string means;
    for (const auto& m : mean) {
      auto text = outcome_json(m.outcome);
      char buffer[64];
      std::snprintf(buffer, sizeof(buffer), ", \"minus_single_points\": %.2f}",
                    100 * (m.outcome.accuracy - single_acc));
      text.pop_back();
      means += std::string{means.empty() ? "" : ", "} + "\"" + m.name +
               "\": " + text + buffer;
    }
    std::printf("{\"bench\": \"collaborative\", \"epochs\": %llu, "
                "\"target_batch_size\": %llu, \"drop_rate\": %.3f, "
                "\"power_sgd_rank\": %lld, \"runs\": [%s], \"mean\": {%s}}\n",
                static_cast<unsigned long long>(a.epochs),
                static_cast<unsigned long long>(a.target_batch_size),
                a.drop_rate, static_cast<long long>(a.power_sgd_rank),
                per_seed.c_str(), means.c_str());
  } else {
    std::printf("%-5s %-10s %9s %7s %8s %11s %7s %7s %9s %7s %10s\n", "seed",
                "run", "accuracy", "epochs", "time", "avg s/epoch", "share",
                "steady", "MB/epoch", "failed", "param diff");
    auto row = [](const std::string& seed, const named_run& r) {
      const auto& o = r.outcome;
      char diff[32] = "-";
      if (o.parameter_difference)
        std::snprintf(diff, sizeof(diff), "%.2g", *o.parameter_difference);
      std::printf("%-5s %-10s %8.2f%% %7llu %7.1fs %11.4f %6.1f%% %6.1f%% "
                  "%9.2f %6.1f%% %10s\n",
                  seed.c_str(), r.name.c_str(), 100 * o.accuracy,
                  static_cast<unsigned long long>(o.epochs), o.seconds,
                  o.averaging_per_epoch, 100 * o.averaging_share,
                  100 * o.steady_averaging_share, o.grad_bytes_per_epoch / 1e6,
                  100 * o.failed_rounds, diff);
    };
    for (const auto& [seed, of_seed] : runs)
      for (const auto& r : of_seed)
        row(std::to_string(seed), r);
    for (const auto& m : mean)
      row("mean", m);
    std::printf("accuracy minus single:");
    for (size_t i = 1; i < mean.size(); ++i)
      std::printf(" %s %+.2f points%s", mean[i].name.c_str(),
                  100 * (mean[i].outcome.accuracy - single_acc),
                  i + 1 < mean.size() ? "," : "");
    std::printf("\n");
  }
  std::fflush(stdout);
  return 0;
}

} // namespace

void add_bench_collaborative_command(CLI::App& bench) {
  auto args = std::make_shared<collaborative_args>();
  auto* cmd = bench.add_subcommand(
      "collaborative",
      "Fashion-MNIST accuracy and averaging time of 1, 2 and 4 collaborative "
      "trainers (and with dropped rounds) vs one process with the whole "
      "batch");
  cmd->add_option("--epochs", args->epochs,
                  "optimizer steps of every run (the peers' epochs)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
  cmd->add_option("--target-batch-size", args->target_batch_size,
                  "samples per optimizer step; each of P peers takes 1/P")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{4}, uint64_t{1} << 20));
  cmd->add_option("--peers", args->peers, "peer counts to run")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{16}));
  cmd->add_option("--seeds", args->seeds, "seeds; each runs every variant")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--drop-rate", args->drop_rate,
                  "share of each peer's gradient rounds failed in the drop "
                  "run (0: no drop run)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--drop-peers", args->drop_peers, "peers of the drop run")
      ->capture_default_str()
      ->check(CLI::Range(size_t{2}, size_t{16}));
  cmd->add_option("--power-sgd-rank", args->power_sgd_rank,
                  "rank of a PowerSGD run of drop-peers peers (0: no such run)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 16));
  cmd->add_flag("--delayed", args->delayed,
                "add a run of drop-peers peers with delay_grad_averaging "
                "(the averaging time is then the wait for the last round)");
  cmd->add_option("--hidden-dim", args->hidden_dim, "model width")
      ->capture_default_str();
  cmd->add_option("--learning-rate", args->learning_rate, "Adam's")
      ->capture_default_str();
  cmd->add_option("--matchmaking-time", args->matchmaking_time,
                  "seconds a round looks for its group")
      ->capture_default_str();
  cmd->add_option("--averaging-timeout", args->averaging_timeout,
                  "seconds bounding a round's all-reduce")
      ->capture_default_str();
  cmd->add_option("--keep", args->keep_dir,
                  "keep configs, logs and metrics of the runs here");
  cmd->add_option("--log-level", args->log_level,
                  "the peers' log level (their logs stay with --keep)")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cmd->add_flag("--json", args->json, "one JSON line");
  cmd->callback([args] { exit_with(bench_collaborative(*args)); });
}

} // namespace colony::apps
