#include "apps/bench/raw_tcp_baseline.hpp"
#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"
#include "runtime/ping_client.hpp"
#include "runtime/transport/frame_cipher.hpp"

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

/// A server node in its own process and a client node in this one, both
/// sealing their streams or both in plain text.
struct transport_pair {
  std::optional<child_process> server;
  std::unique_ptr<node> client;
  std::optional<ping_client> pinger;
  std::string address;

  ~transport_pair() { stop(); }

  void stop() {
    pinger.reset(); // the scoped actor must go before its system
    client.reset();
    if (server)
      server->stop();
    server.reset();
  }
};

caf::error start_pair(transport_pair& pair, const std::filesystem::path& dir,
                      bool encryption) {
  auto name = std::string(encryption ? "sealed" : "plain");
  auto cfg_path = (dir / (name + ".toml")).string();
  auto addr_path = (dir / (name + ".addr")).string();
  {
    std::ofstream(cfg_path)
        << "[node]\nlisten = \"127.0.0.1:0\"\nlog_level = \"warn\"\n"
        << "[transport]\nencryption = " << (encryption ? "true" : "false")
        << "\n";
  }
  // The server is a real node in its own process, as in a swarm.
  auto server = child_process::spawn(
      {self_executable(), "run", cfg_path, "--address-file", addr_path},
      (dir / (name + ".log")).string());
  if (!server)
    return std::move(server.error());
  pair.server.emplace(std::move(*server));
  auto address = wait_for_file_line(addr_path, std::chrono::seconds(20));
  if (!address)
    return make_error(errc::io_error,
                      "server did not start: " + describe(address.error()));
  pair.address = *address;
  node_config cfg;
  cfg.client_mode = true;
  cfg.log_level = "warn";
  cfg.transport.encryption = encryption;
  auto client = node::start(cfg);
  if (!client)
    return std::move(client.error());
  pair.client = std::move(*client);
  pair.pinger.emplace(pair.client->system(), pair.client->transport());
  return caf::none;
}

/// Round-trip times (ms) of `n` calls of `request` to `service`.
caf::expected<std::vector<double>> time_calls(transport_pair& pair,
                                              const envelope& request, size_t n,
                                              size_t expect_bytes,
                                              const std::string& service) {
  auto timeout = std::chrono::milliseconds(10000);
  std::vector<double> rtts;
  for (size_t i = 0; i < n; ++i) {
    auto res = pair.pinger->ping(pair.address, request, timeout, service);
    if (!res)
      return std::move(res.error());
    if (res->received_bytes != expect_bytes)
      return make_error(errc::malformed, "short answer");
    rtts.push_back(res->rtt_ms);
  }
  return rtts;
}

int run_bench(const bench_transport_args& args) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() /
             ("colony-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  transport_pair sealed, plain;
  for (auto [pair, encryption] :
       {std::pair{&sealed, true}, std::pair{&plain, false}})
    if (auto err = start_pair(*pair, dir, encryption)) {
      std::cerr << describe(err) << std::endl;
      return 1;
    }
  // Small requests: an empty ping, as small as a call gets.
  auto small = make_ping_request(0);
  for (auto* pair : {&sealed, &plain}) // warm-up: connect, handshake, caches
    if (!time_calls(*pair, small, 200, 0, "ping")) {
      std::cerr << "ping failed during warm-up" << std::endl;
      return 1;
    }
  // Rounds alternate sealed colony, plain colony and raw TCP so that noise
  // from other work on the machine hits all alike; ratios are per round.
  std::vector<double> colony_rtts, plain_rtts, echo_rtts, raw_rtts, rtt_ratios,
      sealed_rtt_ratios;
  auto per_round = std::max<size_t>(args.small_count / args.rounds, 1);
  for (size_t r = 0; r < args.rounds; ++r) {
    auto round = time_calls(sealed, small, per_round, 0, "ping");
    auto plain_round = time_calls(plain, small, per_round, 0, "ping");
    auto echo = time_calls(sealed, small, per_round, 0, "echo");
    if (!round || !plain_round || !echo) {
      std::cerr << "ping failed" << std::endl;
      return 1;
    }
    auto raw = raw_tcp_ping_pong(small.size() + 64, per_round);
    rtt_ratios.push_back(quantile(*round, 0.5) / quantile(raw, 0.5));
    sealed_rtt_ratios.push_back(quantile(*round, 0.5) /
                                quantile(*plain_round, 0.5));
    colony_rtts.insert(colony_rtts.end(), round->begin(), round->end());
    plain_rtts.insert(plain_rtts.end(), plain_round->begin(),
                      plain_round->end());
    echo_rtts.insert(echo_rtts.end(), echo->begin(), echo->end());
    raw_rtts.insert(raw_rtts.end(), raw.begin(), raw.end());
  }
  // Bulk: a request carrying the bytes of an 8 MiB float32 tensor.
  auto bytes = args.bulk_mib << 20;
  auto bulk = make_ping_request(bytes);
  std::vector<double> colony_bulk, plain_bulk, raw_bulk, bulk_ratios,
      sealed_bulk_ratios;
  auto bulk_per_round = std::max<size_t>(args.bulk_count / args.rounds, 1);
  for (size_t r = 0; r < args.rounds; ++r) {
    auto round = time_calls(sealed, bulk, bulk_per_round, bytes, "ping");
    auto plain_round = time_calls(plain, bulk, bulk_per_round, bytes, "ping");
    if (!round || !plain_round) {
      std::cerr << "bulk call failed" << std::endl;
      return 1;
    }
    auto raw = raw_tcp_bulk(bytes, bulk_per_round);
    // Throughput ratio = the other's time / this one's time.
    bulk_ratios.push_back(quantile(raw, 0.5) / quantile(*round, 0.5));
    sealed_bulk_ratios.push_back(quantile(*plain_round, 0.5) /
                                 quantile(*round, 0.5));
    colony_bulk.insert(colony_bulk.end(), round->begin(), round->end());
    plain_bulk.insert(plain_bulk.end(), plain_round->begin(),
                      plain_round->end());
    raw_bulk.insert(raw_bulk.end(), raw.begin(), raw.end());
  }
  sealed.stop();
  plain.stop();
  fs::remove_all(dir);

  auto p50 = quantile(colony_rtts, 0.5), p99 = quantile(colony_rtts, 0.99);
  auto plain_p50 = quantile(plain_rtts, 0.5);
  auto raw_p50 = quantile(raw_rtts, 0.5), raw_p99 = quantile(raw_rtts, 0.99);
  auto gbps = [&](double ms) {
    return static_cast<double>(bytes) / 1e6 / ms;
  };
  auto thr = gbps(quantile(colony_bulk, 0.5));
  auto plain_thr = gbps(quantile(plain_bulk, 0.5));
  auto raw_thr = gbps(quantile(raw_bulk, 0.5));
  auto suite =
      to_string(cpu_has_fast_aes_gcm() ? cipher_suite::aes256_gcm
                                       : cipher_suite::chacha20_poly1305);
  if (args.json) {
    std::printf(
        "{\"bench\":\"transport\",\"cipher\":\"%s\",\"small_request\":{"
        "\"count\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
        "\"plain_p50_us\":%.1f,\"p50_ratio_to_plain\":%.2f,"
        "\"raw_tcp_p50_us\":%.1f,\"raw_tcp_p99_us\":%.1f,"
        "\"p50_ratio_to_raw\":%.2f,\"echo_service_p50_us\":%.1f},"
        "\"bulk\":{\"bytes\":%zu,\"count\":%zu,\"median_ms\":%.3f,"
        "\"throughput_gbps\":%.3f,\"plain_throughput_gbps\":%.3f,"
        "\"throughput_ratio_to_plain\":%.2f,\"raw_tcp_median_ms\":%.3f,"
        "\"raw_tcp_throughput_gbps\":%.3f,\"throughput_ratio_to_raw\":%.2f}}"
        "\n",
        suite.c_str(), colony_rtts.size(), p50 * 1e3, p99 * 1e3,
        plain_p50 * 1e3, quantile(sealed_rtt_ratios, 0.5), raw_p50 * 1e3,
        raw_p99 * 1e3, quantile(rtt_ratios, 0.5),
        quantile(echo_rtts, 0.5) * 1e3, bytes, colony_bulk.size(),
        quantile(colony_bulk, 0.5), thr, plain_thr,
        quantile(sealed_bulk_ratios, 0.5), quantile(raw_bulk, 0.5), raw_thr,
        quantile(bulk_ratios, 0.5));
  } else {
    std::printf("stream cipher       %s\n", suite.c_str());
    std::printf("small request RTT   sealed p50 %.1f us p99 %.1f us | plain "
                "p50 %.1f us (ratio %.2fx) | raw TCP p50 %.1f us p99 %.1f us "
                "(ratio %.2fx)\n",
                p50 * 1e3, p99 * 1e3, plain_p50 * 1e3,
                quantile(sealed_rtt_ratios, 0.5), raw_p50 * 1e3, raw_p99 * 1e3,
                quantile(rtt_ratios, 0.5));
    std::printf("echo via service actor p50 %.1f us (sealed)\n",
                quantile(echo_rtts, 0.5) * 1e3);
    std::printf("%zu MiB one-way      sealed %.2f GB/s | plain %.2f GB/s "
                "(ratio %.2fx) | raw TCP %.2f GB/s (ratio %.2fx)\n",
                args.bulk_mib, thr, plain_thr,
                quantile(sealed_bulk_ratios, 0.5), raw_thr,
                quantile(bulk_ratios, 0.5));
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
