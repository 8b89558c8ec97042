#include "apps/bench/raw_tcp_baseline.hpp"
#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"
#include "runtime/ping_client.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace colony::apps {

namespace {

struct bench_transport_args {
  size_t small_count = 3000;
  size_t bulk_mib = 8;
  size_t bulk_count = 40;
  size_t rounds = 5;
  bool json = false;
};

int run_bench(const bench_transport_args& args) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() /
             ("colony-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto cfg_path = (dir / "server.toml").string();
  auto addr_path = (dir / "server.addr").string();
  {
    std::ofstream(cfg_path)
        << "[node]\nlisten = \"127.0.0.1:0\"\nlog_level = \"warn\"\n";
  }
  // The server is a real node in its own process, as in a swarm.
  auto server = child_process::spawn(
      {self_executable(), "run", cfg_path, "--address-file", addr_path},
      (dir / "server.log").string());
  if (!server) {
    std::cerr << describe(server.error()) << std::endl;
    return 1;
  }
  auto address = wait_for_file_line(addr_path, std::chrono::seconds(20));
  if (!address) {
    std::cerr << "server did not start: " << describe(address.error())
              << std::endl;
    return 1;
  }
  node_config cfg;
  cfg.client_mode = true;
  cfg.log_level = "warn";
  auto client = node::start(cfg);
  if (!client) {
    std::cerr << describe(client.error()) << std::endl;
    return 1;
  }
  auto& sys = (*client)->system();
  auto& tr = (*client)->transport();
  auto timeout = std::chrono::milliseconds(10000);
  std::optional<ping_client> pinger;
  pinger.emplace(sys, tr);
  // Small requests: an empty ping, as small as a call gets.
  auto small = make_ping_request(0);
  for (int i = 0; i < 200; ++i) // warm-up: connect, handshake, caches
    if (!pinger->ping(*address, small, timeout)) {
      std::cerr << "ping failed during warm-up" << std::endl;
      return 1;
    }
  // Rounds alternate colony and raw TCP so that noise from other work on
  // the machine hits both alike; ratios are taken per round.
  std::vector<double> colony_rtts, echo_rtts, raw_rtts, rtt_ratios;
  auto per_round = std::max<size_t>(args.small_count / args.rounds, 1);
  for (size_t r = 0; r < args.rounds; ++r) {
    std::vector<double> round;
    for (size_t i = 0; i < per_round; ++i) {
      auto res = pinger->ping(*address, small, timeout);
      auto echo = pinger->ping(*address, small, timeout, "echo");
      if (!res || !echo) {
        std::cerr << "ping failed" << std::endl;
        return 1;
      }
      round.push_back(res->rtt_ms);
      echo_rtts.push_back(echo->rtt_ms);
    }
    auto raw = raw_tcp_ping_pong(small.size() + 64, per_round);
    rtt_ratios.push_back(quantile(round, 0.5) / quantile(raw, 0.5));
    colony_rtts.insert(colony_rtts.end(), round.begin(), round.end());
    raw_rtts.insert(raw_rtts.end(), raw.begin(), raw.end());
  }
  // Bulk: a request carrying the bytes of an 8 MiB float32 tensor.
  auto bytes = args.bulk_mib << 20;
  auto bulk = make_ping_request(bytes);
  std::vector<double> colony_bulk, raw_bulk, bulk_ratios;
  auto bulk_per_round = std::max<size_t>(args.bulk_count / args.rounds, 1);
  for (size_t r = 0; r < args.rounds; ++r) {
    std::vector<double> round;
    for (size_t i = 0; i < bulk_per_round; ++i) {
      auto res = pinger->ping(*address, bulk, timeout);
      if (!res || res->received_bytes != bytes) {
        std::cerr << "bulk call failed" << std::endl;
        return 1;
      }
      round.push_back(res->rtt_ms);
    }
    auto raw = raw_tcp_bulk(bytes, bulk_per_round);
    // Throughput ratio = raw time / colony time.
    bulk_ratios.push_back(quantile(raw, 0.5) / quantile(round, 0.5));
    colony_bulk.insert(colony_bulk.end(), round.begin(), round.end());
    raw_bulk.insert(raw_bulk.end(), raw.begin(), raw.end());
  }
  pinger.reset(); // the scoped actor must go before its system
  client->reset();
  server->stop();
  fs::remove_all(dir);

  auto p50 = quantile(colony_rtts, 0.5), p99 = quantile(colony_rtts, 0.99);
  auto raw_p50 = quantile(raw_rtts, 0.5), raw_p99 = quantile(raw_rtts, 0.99);
  auto gbps = [&](double ms) {
    return static_cast<double>(bytes) / 1e6 / ms;
  };
  auto thr = gbps(quantile(colony_bulk, 0.5));
  auto raw_thr = gbps(quantile(raw_bulk, 0.5));
  if (args.json) {
    std::printf(
        "{\"bench\":\"transport\",\"small_request\":{\"count\":%zu,"
        "\"p50_us\":%.1f,\"p99_us\":%.1f,\"raw_tcp_p50_us\":%.1f,"
        "\"raw_tcp_p99_us\":%.1f,\"p50_ratio_to_raw\":%.2f,"
        "\"echo_service_p50_us\":%.1f},"
        "\"bulk\":{\"bytes\":%zu,\"count\":%zu,\"median_ms\":%.3f,"
        "\"throughput_gbps\":%.3f,\"raw_tcp_median_ms\":%.3f,"
        "\"raw_tcp_throughput_gbps\":%.3f,\"throughput_ratio_to_raw\":%.2f}}\n",
        colony_rtts.size(), p50 * 1e3, p99 * 1e3, raw_p50 * 1e3, raw_p99 * 1e3,
        quantile(rtt_ratios, 0.5), quantile(echo_rtts, 0.5) * 1e3, bytes,
        colony_bulk.size(), quantile(colony_bulk, 0.5), thr,
        quantile(raw_bulk, 0.5), raw_thr, quantile(bulk_ratios, 0.5));
  } else {
    std::printf("small request RTT   colony p50 %.1f us p99 %.1f us | raw TCP "
                "p50 %.1f us p99 %.1f us | median ratio %.2fx\n",
                p50 * 1e3, p99 * 1e3, raw_p50 * 1e3, raw_p99 * 1e3,
                quantile(rtt_ratios, 0.5));
    std::printf("echo via service actor p50 %.1f us\n",
                quantile(echo_rtts, 0.5) * 1e3);
    std::printf("%zu MiB one-way      colony %.2f GB/s | raw TCP %.2f GB/s | "
                "median ratio %.2fx\n",
                args.bulk_mib, thr, raw_thr, quantile(bulk_ratios, 0.5));
  }
  return 0;
}

} // namespace

void add_bench_transport_command(CLI::App& bench) {
  auto args = std::make_shared<bench_transport_args>();
  auto* cmd = bench.add_subcommand(
      "transport", "RTT and bulk throughput against raw TCP on loopback");
  cmd->add_option("--count", args->small_count, "small requests to time");
  cmd->add_option("--bulk-mib", args->bulk_mib, "MiB per bulk transfer");
  cmd->add_option("--bulk-count", args->bulk_count, "bulk transfers to time");
  cmd->add_option("--rounds", args->rounds,
                  "alternating colony/raw rounds (ratios are per round)");
  cmd->add_flag("--json", args->json, "print one JSON line");
  cmd->callback([args] { exit_with(run_bench(*args)); });
}

} // namespace colony::apps
