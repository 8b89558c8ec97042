// `colony bench allreduce`: P `colony average` processes on loopback average
// a float32 vector of N elements; the figure is the median all-reduce time
// (after the group formed) of the slowest member per step, the baseline
// torch.distributed all_reduce with gloo over as many processes in the same
// run (the anchor script under the system python3, if it is there).

#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/output/json_text.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"
#include "messages/tensor_codec.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace colony::apps {

namespace {

struct allreduce_args {
  size_t peers = 4;
  uint64_t floats = 25'000'000;
  std::string compression = "none";
  size_t steps = 5;
  double min_matchmaking_time = 0.5;
  std::string gloo_anchor = "../shared/anchors/allreduce_bench.py";
  std::string python = "/usr/bin/python3";
  bool plain = false; ///< transport.encryption = false on every peer
  bool json = false;
};

/// Reads `"key":number` from a JSON line; nullopt if absent.
std::optional<double> json_number(const std::string& line,
                                  const std::string& key) {
  auto pos = line.find("\"" + key + "\":");
  if (pos == std::string::npos)
    return std::nullopt;
  return std::stod(line.substr(pos + key.size() + 3));
}

std::string peer_config(const allreduce_args& a) {
  std::ostringstream c;
  c << "[node]\nlisten = \"127.0.0.1:0\"\nswarm_id = \"bench-allreduce\"\n"
    << "log_level = \"warn\"\n"
    // One compute thread, as the anchor (torch.set_num_threads(1)): P
    // processes share the cores, and OpenMP workers spinning between the
    // parts' small ops took a third of the CPU.
    << "compute_threads = 1\n"
    << "[transport]\nencryption = " << (a.plain ? "false" : "true") << "\n"
    << "[dht]\nenabled = true\n"
    << "[[averagers]]\nprefix = \"bench\"\nfloats = " << a.floats << "\n"
    << "target_group_size = " << a.peers << "\n"
    << "min_group_size = " << a.peers << "\n"
    << "min_matchmaking_time = " << a.min_matchmaking_time << "\n"
    << "step_timeout = 120\n"
    << "compression = \"" << a.compression << "\"\n";
  return c.str();
}

/// One step as every member reported it.
struct step_record {
  double allreduce_s = 0; ///< the slowest member's
  double step_s = 0;      ///< matchmaking + all-reduce, slowest member
  double matchmaking_s = 0;
  std::vector<double> bytes_sent;
  size_t members = 0;
};

struct colony_figures {
  double allreduce_s = 0;
  double step_s = 0;
  double matchmaking_s = 0;
  double bytes_sent_per_peer = 0;
  size_t steps = 0;
};

colony_figures run_colony_peers(const allreduce_args& a,
                                const std::filesystem::path& dir) {
  auto config = (dir / "peer.toml").string();
  std::ofstream(config) << peer_config(a);
  std::vector<child_process> procs;
  std::vector<std::string> reports, logs;
  std::string bootstrap;
  for (size_t i = 0; i < a.peers; ++i) {
    auto name = "peer" + std::to_string(i);
    auto report = (dir / (name + ".jsonl")).string();
    auto log = (dir / (name + ".log")).string();
    auto addr = (dir / (name + ".addr")).string();
    std::vector<std::string> argv{self_executable(),
                                  "average",
                                  config,
                                  "--steps",
                                  std::to_string(a.steps + 1),
                                  "--report",
                                  report,
                                  "--address-file",
                                  addr};
    if (i > 0)
      argv.insert(argv.end(), {"--set", "node.initial_peers=" + bootstrap});
    auto proc = child_process::spawn(argv, log);
    if (!proc)
      throw std::runtime_error(describe(proc.error()));
    procs.push_back(std::move(*proc));
    reports.push_back(report);
    logs.push_back(log);
    if (i == 0) {
      auto address = wait_for_file_line(addr, std::chrono::seconds(60));
      if (!address)
        throw std::runtime_error("peer 0 did not start:\n" + tail_of_file(log));
      bootstrap = *address;
    }
  }
  for (size_t i = 0; i < procs.size(); ++i) {
    auto rc = procs[i].wait_for(std::chrono::seconds(600));
    if (rc != 0)
      throw std::runtime_error(
          "peer " + std::to_string(i) + " exited with " + std::to_string(rc) +
          ":\n" + tail_of_file(logs[i]) + tail_of_file(reports[i]));
  }
  std::map<size_t, step_record> steps;
  for (const auto& report : reports) {
    std::ifstream in(report);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"ok\":true") == std::string::npos)
        continue;
      auto step = static_cast<size_t>(json_number(line, "step").value_or(0));
      if (step == 0)
        continue; // warm-up: it also waits for the others to start
      auto& r = steps[step];
      auto allreduce = json_number(line, "allreduce_s").value_or(0);
      auto matchmaking = json_number(line, "matchmaking_s").value_or(0);
      r.allreduce_s = std::max(r.allreduce_s, allreduce);
      r.matchmaking_s = std::max(r.matchmaking_s, matchmaking);
      r.step_s = std::max(r.step_s, allreduce + matchmaking);
      r.bytes_sent.push_back(json_number(line, "bytes_sent").value_or(0));
      r.members = std::max<size_t>(
          r.members,
          static_cast<size_t>(json_number(line, "group_size").value_or(0)));
    }
  }
  std::vector<double> allreduce, step, matchmaking, bytes;
  for (const auto& [index, r] : steps) {
    if (r.members != a.peers)
      continue; // a step in a partial group measures something else
    allreduce.push_back(r.allreduce_s);
    step.push_back(r.step_s);
    matchmaking.push_back(r.matchmaking_s);
    bytes.insert(bytes.end(), r.bytes_sent.begin(), r.bytes_sent.end());
  }
  if (allreduce.empty())
    throw std::runtime_error("no step averaged all " + std::to_string(a.peers) +
                             " peers; see " + dir.string());
  return {median(allreduce), median(step), median(matchmaking), median(bytes),
          allreduce.size()};
}

/// The gloo anchor's median all_reduce time, or the reason there is none.
std::pair<std::optional<double>, std::string>
run_gloo(const allreduce_args& a, const std::filesystem::path& dir) {
  if (!std::filesystem::exists(a.gloo_anchor))
    return {std::nullopt, "no anchor script at " + a.gloo_anchor};
  if (!std::filesystem::exists(a.python))
    return {std::nullopt, "no " + a.python};
  auto log = (dir / "gloo.log").string();
  ::setenv("NUMEL", std::to_string(a.floats).c_str(), 1);
  auto port = 20000 + ::getpid() % 20000;
  auto proc =
      child_process::spawn({a.python, a.gloo_anchor, std::to_string(a.peers),
                            std::to_string(port), std::to_string(a.steps)},
                           log);
  if (!proc)
    return {std::nullopt, describe(proc.error())};
  auto rc = proc->wait_for(std::chrono::seconds(600));
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto pos = line.find("median ");
    if (pos != std::string::npos && line.find("gloo") != std::string::npos)
      return {std::stod(line.substr(pos + 7)), line};
  }
  return {std::nullopt, "anchor exited with " + std::to_string(rc) + ":\n" +
                            tail_of_file(log)};
}

int run_bench(const allreduce_args& a) {
  namespace fs = std::filesystem;
  if (!parse_compression_type(a.compression)) {
    std::cerr << "--compression: unknown codec '" << a.compression << "'"
              << std::endl;
    return usage_error_status;
  }
  auto dir = fs::temp_directory_path() /
             ("colony-bench-allreduce-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  colony_figures colony;
  try {
    colony = run_colony_peers(a, dir);
  } catch (const std::exception& e) {
    std::cerr << "colony bench allreduce: " << e.what() << std::endl;
    return 1;
  }
  auto [gloo, gloo_note] = run_gloo(a, dir);
  if (!a.json) {
    std::cerr << "colony: all-reduce median " << colony.allreduce_s
              << " s over " << colony.steps << " steps (whole step "
              << colony.step_s << " s)" << std::endl;
    std::cerr << "gloo: " << gloo_note << std::endl;
  }
  std::cout << "{\"bench\":\"allreduce\",\"peers\":" << a.peers
            << ",\"floats\":" << a.floats
            << ",\"compression\":" << json_string(a.compression)
            << ",\"encryption\":" << (a.plain ? "false" : "true")
            << ",\"steps\":" << colony.steps
            << ",\"allreduce_s\":" << colony.allreduce_s
            << ",\"step_s\":" << colony.step_s
            << ",\"matchmaking_s\":" << colony.matchmaking_s
            << ",\"min_matchmaking_time_s\":" << a.min_matchmaking_time
            << ",\"bytes_sent_per_peer\":" << colony.bytes_sent_per_peer;
  if (gloo)
    std::cout << ",\"gloo_allreduce_s\":" << *gloo
              << ",\"ratio\":" << colony.allreduce_s / *gloo;
  else
    std::cout << ",\"gloo_allreduce_s\":null,\"ratio\":null,\"baseline_note\":"
              << json_string(gloo_note);
  std::cout << "}" << std::endl;
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}

} // namespace

void add_bench_allreduce_command(CLI::App& bench) {
  auto a = std::make_shared<allreduce_args>();
  auto* cmd = bench.add_subcommand(
      "allreduce", "all-reduce among peer processes against gloo's");
  cmd->add_option("--peers", a->peers, "averaging processes")
      ->check(CLI::Range(size_t{2}, size_t{64}));
  cmd->add_option("--floats", a->floats, "float32 elements averaged")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  cmd->add_option("--compression", a->compression,
                  "codec of the parts: none, float16, scaled_float16, "
                  "uniform_8bit, quantile_8bit");
  cmd->add_option("--steps", a->steps, "measured steps (after one warm-up)")
      ->check(CLI::Range(size_t{1}, size_t{1000}));
  cmd->add_option("--min-matchmaking-time", a->min_matchmaking_time,
                  "seconds a step looks for peers")
      ->check(CLI::Range(0.0, 60.0));
  cmd->add_option("--gloo-anchor", a->gloo_anchor,
                  "torch.distributed gloo script (baseline)");
  cmd->add_option("--python", a->python, "python with torch, for the anchor");
  cmd->add_flag("--plain", a->plain,
                "every peer with transport.encryption = false");
  cmd->add_flag("--json", a->json, "print only the JSON line");
  cmd->callback([a] { exit_with(run_bench(*a)); });
}

} // namespace colony::apps
