// `colony bench throughput`: hivemind's benchmark_throughput scaled to a
// small machine. One expert server process, C client processes calling
// random experts with batches of B rows; the baseline is the same expert's
// computation run in-process (same backend code, no actors, no wire).

#include "actors/moe/client/expert_client.hpp"
#include "actors/moe/server/expert_backend.hpp"
#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "apps/output/json_text.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"
#include "runtime/compute_threads.hpp"

#include <ATen/ops/randn.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace colony::apps {

namespace {

using clock_type = std::chrono::steady_clock;

/// Rounds of each throughput comparison.
constexpr int throughput_rounds = 3;

/// Rounds of the B=1 latency comparison.
constexpr int latency_rounds = 5;

/// Pause between the baseline's B=1 calls: about a round trip's overhead.
constexpr std::chrono::microseconds latency_pause{200};

struct throughput_args {
  size_t experts = 4;
  int64_t hidden_dim = 1024;
  size_t clients = 2;
  std::vector<int64_t> batch_sizes{1, 256, 1024};
  double seconds = 6;
  size_t compute_threads = 0;
  bool json = false;
};

struct client_args {
  std::string address;
  std::vector<std::string> uids;
  int64_t hidden_dim = 1024;
  int64_t batch = 1;
  bool backward = false;
  double seconds = 6;
  double warmup = 1;
  /// Pause between calls (diagnosis: latency of a server that idled).
  long pause_us = 0;
};

/// What one measurement produced: rows per second and call latencies.
struct measured {
  double samples_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  size_t calls = 0;
  size_t failures = 0;
};

std::string uid_of(size_t i) {
  return "ffn." + std::to_string(i);
}

// -- the client process -------------------------------------------------------

int run_client(const client_args& a) {
  node_config cfg;
  cfg.client_mode = true;
  cfg.log_level = "warn";
  cfg.compute_threads = 1;
  auto n = node::start(cfg);
  if (!n) {
    std::cerr << describe(n.error()) << std::endl;
    return 1;
  }
  moe::expert_client client{(*n)->system(), (*n)->transport()};
  auto x = at::randn({a.batch, a.hidden_dim});
  auto g = at::randn({a.batch, a.hidden_dim});
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick{0, a.uids.size() - 1};
  auto timeout = std::chrono::seconds(60);
  std::vector<double> latencies;
  size_t rows = 0, failures = 0;
  auto start = clock_type::now();
  auto measure_from = start + std::chrono::duration_cast<clock_type::duration>(
                                  std::chrono::duration<double>(a.warmup));
  auto end = measure_from + std::chrono::duration_cast<clock_type::duration>(
                                std::chrono::duration<double>(a.seconds));
  while (true) {
    if (a.pause_us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(a.pause_us));
    auto t0 = clock_type::now();
    if (t0 >= end)
      break;
    auto& uid = a.uids[pick(rng)];
    bool ok = static_cast<bool>(client.forward(a.address, uid, {x}, timeout));
    if (ok && a.backward)
      ok =
          static_cast<bool>(client.backward(a.address, uid, {x}, {g}, timeout));
    auto t1 = clock_type::now();
    if (t0 < measure_from)
      continue;
    if (!ok) {
      ++failures;
      continue;
    }
    rows += static_cast<size_t>(a.batch);
    latencies.push_back(
        std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::cout << "{\"rows\":" << rows << ",\"seconds\":" << a.seconds
            << ",\"calls\":" << latencies.size() << ",\"failures\":" << failures
            << ",\"p50_ms\":" << (latencies.empty() ? 0 : median(latencies))
            << ",\"p99_ms\":"
            << (latencies.empty() ? 0 : quantile(latencies, 0.99)) << "}"
            << std::endl;
  return 0;
}

// -- the benchmark ------------------------------------------------------------

/// Reads `"key":number` from a JSON line the client printed.
double number_in_json(const std::string& line, const std::string& key) {
  auto pos = line.find("\"" + key + "\":");
  if (pos == std::string::npos)
    return 0;
  return std::stod(line.substr(pos + key.size() + 3));
}

measured run_swarm(const throughput_args& a, const std::string& address,
                   const std::filesystem::path& dir, int64_t batch,
                   bool backward) {
  std::vector<child_process> procs;
  std::vector<std::string> logs;
  std::string uids;
  for (size_t i = 0; i < a.experts; ++i)
    uids += (i ? "," : "") + uid_of(i);
  for (size_t c = 0; c < a.clients; ++c) {
    auto log = (dir / ("client" + std::to_string(c) + ".out")).string();
    std::ostringstream secs;
    secs << a.seconds;
    auto proc = child_process::spawn(
        {self_executable(), "bench", "throughput-client", "--address", address,
         "--uids", uids, "--hidden-dim", std::to_string(a.hidden_dim),
         "--batch-size", std::to_string(batch), "--seconds", secs.str(),
         backward ? "--backward" : "--forward-only"},
        log);
    if (!proc)
      throw std::runtime_error(describe(proc.error()));
    procs.push_back(std::move(*proc));
    logs.push_back(log);
  }
  measured m;
  std::vector<double> p50s, p99s;
  for (size_t c = 0; c < procs.size(); ++c) {
    auto rc = procs[c].wait_for(std::chrono::milliseconds(
        static_cast<long>(a.seconds * 1000) + 120000));
    std::ifstream in(logs[c]);
    std::string line, last;
    while (std::getline(in, line))
      if (line.rfind("{\"rows\"", 0) == 0)
        last = line;
    if (rc != 0 || last.empty())
      throw std::runtime_error("client " + std::to_string(c) + " failed; see " +
                               logs[c]);
    m.samples_per_s += number_in_json(last, "rows") / a.seconds;
    m.calls += static_cast<size_t>(number_in_json(last, "calls"));
    m.failures += static_cast<size_t>(number_in_json(last, "failures"));
    p50s.push_back(number_in_json(last, "p50_ms"));
    p99s.push_back(number_in_json(last, "p99_ms"));
  }
  m.p50_ms = median(p50s);
  m.p99_ms = *std::max_element(p99s.begin(), p99s.end());
  return m;
}

/// The same expert computation in this process, one call at a time:
/// forward, and for `backward` the server's backward (recomputed forward,
/// autograd, optimizer step) after it, as a client's forward+backward costs.
/// `pause` separates calls as a client's round trip separates them on the
/// server (back to back, this machine computes a B=1 call ~30% slower).
measured run_raw(const throughput_args& a, int64_t batch, bool backward,
                 double seconds, std::chrono::microseconds pause = {}) {
  // As many experts as the server hosts, called at random like the clients
  // call them: the same memory traffic, without actors or wire.
  std::vector<std::unique_ptr<moe::expert_backend>> experts;
  for (size_t i = 0; i < a.experts; ++i) {
    auto backend =
        moe::expert_backend::make(uid_of(i), "ffn", a.hidden_dim, {});
    if (!backend)
      throw std::runtime_error(describe(backend.error()));
    experts.push_back(std::move(*backend));
  }
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick{0, experts.size() - 1};
  auto x = at::randn({batch, a.hidden_dim});
  auto g = at::randn({batch, a.hidden_dim});
  auto once = [&] {
    auto& expert = experts[pick(rng)];
    expert->forward({x});
    if (backward)
      expert->backward({x, g});
  };
  for (int i = 0; i < 3; ++i)
    once();
  std::vector<double> latencies;
  auto start = clock_type::now();
  auto budget = std::chrono::duration<double>(seconds);
  while (clock_type::now() - start < budget || latencies.size() < 5) {
    if (pause.count() > 0)
      std::this_thread::sleep_for(pause);
    auto t0 = clock_type::now();
    once();
    latencies.push_back(
        std::chrono::duration<double, std::milli>(clock_type::now() - t0)
            .count());
  }
  double total =
      std::chrono::duration<double>(clock_type::now() - start).count();
  measured m;
  m.calls = latencies.size();
  m.samples_per_s =
      static_cast<double>(batch * static_cast<int64_t>(m.calls)) / total;
  m.p50_ms = median(latencies);
  m.p99_ms = quantile(latencies, 0.99);
  return m;
}

/// An expert server process for one measurement.
struct server_process {
  child_process proc;
  std::string address;
};

/// Starts `colony server` with the bench's experts; `max_batch` rows per
/// batch, so that with `max_batch` = B every call is a batch of its own,
/// as in the baseline.
server_process start_server(const throughput_args& a,
                            const std::filesystem::path& dir,
                            int64_t max_batch) {
  auto addr_path = (dir / "server.addr").string();
  std::filesystem::remove(addr_path);
  std::vector<std::string> argv{self_executable(), "server", "--expert-uids"};
  for (size_t i = 0; i < a.experts; ++i)
    argv.push_back(uid_of(i));
  argv.insert(argv.end(),
              {"--hidden-dim", std::to_string(a.hidden_dim), "--max-batch-size",
               std::to_string(max_batch), "--address-file", addr_path, "--set",
               "node.compute_threads=" + std::to_string(a.compute_threads),
               "--set", "node.log_level=warn"});
  auto log = (dir / "server.log").string();
  auto proc = child_process::spawn(argv, log);
  if (!proc)
    throw std::runtime_error(describe(proc.error()));
  auto address = wait_for_file_line(addr_path, std::chrono::seconds(60));
  if (!address)
    throw std::runtime_error("server did not start; see " + log);
  return {std::move(*proc), *address};
}

void print_result(std::ostream& out, bool& first, const char* mode,
                  int64_t batch, size_t clients, const measured& swarm,
                  const measured& raw, double ratio, bool json) {
  out << (first ? "" : ",") << "{\"mode\":\"" << mode
      << "\",\"batch\":" << batch << ",\"clients\":" << clients
      << ",\"samples_per_s\":" << swarm.samples_per_s
      << ",\"raw_samples_per_s\":" << raw.samples_per_s
      << ",\"ratio\":" << ratio << ",\"p50_ms\":" << swarm.p50_ms
      << ",\"raw_p50_ms\":" << raw.p50_ms
      << ",\"p50_above_raw_ms\":" << swarm.p50_ms - raw.p50_ms
      << ",\"p99_ms\":" << swarm.p99_ms << ",\"calls\":" << swarm.calls
      << ",\"failures\":" << swarm.failures << "}";
  first = false;
  if (!json)
    std::cerr << mode << " B=" << batch << " clients=" << clients << ": "
              << swarm.samples_per_s << " samples/s vs raw "
              << raw.samples_per_s << " (" << ratio << "x), p50 "
              << swarm.p50_ms << " ms vs raw " << raw.p50_ms << " ms"
              << std::endl;
}

int run_bench(const throughput_args& a) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() /
             ("colony-bench-throughput-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  set_compute_threads(a.compute_threads);
  std::ostringstream out;
  out << "{\"bench\":\"throughput\",\"experts\":" << a.experts
      << ",\"hidden_dim\":" << a.hidden_dim << ",\"seconds\":" << a.seconds
      << ",\"results\":[";
  bool first = true;
  try {
    for (auto batch : a.batch_sizes) {
      auto server = start_server(a, dir, batch);
      // Latency: one client, one call at a time, against the same call
      // computed in this process (raw first, while the server idles).
      if (batch == 1) {
        // Rounds alternate the two, so that noise hits both alike; the
        // figure is the median of the per-round differences.
        auto one = a;
        one.clients = 1;
        one.seconds = 1.5;
        std::vector<double> above, swarm_p50, raw_p50;
        measured raw, swarm;
        for (int round = 0; round < latency_rounds; ++round) {
          raw = run_raw(a, batch, false, one.seconds, latency_pause);
          swarm = run_swarm(one, server.address, dir, batch, false);
          above.push_back(swarm.p50_ms - raw.p50_ms);
          swarm_p50.push_back(swarm.p50_ms);
          raw_p50.push_back(raw.p50_ms);
        }
        swarm.p50_ms = median(swarm_p50);
        raw.p50_ms = median(raw_p50);
        print_result(out, first, "forward_latency", batch, 1, swarm, raw,
                     swarm.samples_per_s / raw.samples_per_s, a.json);
        out << ",{\"mode\":\"forward_latency_rounds\",\"p50_above_raw_ms\":"
            << median(above) << ",\"rounds\":" << latency_rounds << "}";
        if (!a.json)
          std::cerr << "B=1 round trip above raw compute, median of "
                    << latency_rounds << " rounds: " << median(above) << " ms"
                    << std::endl;
      }
      for (bool backward : {false, true}) {
        // Rounds alternate baseline and swarm; the ratio is the median of
        // the per-round ratios.
        std::vector<double> ratios, swarm_rates, raw_rates, p50s, raw_p50s;
        measured raw, swarm;
        for (int round = 0; round < throughput_rounds; ++round) {
          raw = run_raw(a, batch, backward, a.seconds);
          swarm = run_swarm(a, server.address, dir, batch, backward);
          ratios.push_back(swarm.samples_per_s / raw.samples_per_s);
          swarm_rates.push_back(swarm.samples_per_s);
          raw_rates.push_back(raw.samples_per_s);
          p50s.push_back(swarm.p50_ms);
          raw_p50s.push_back(raw.p50_ms);
        }
        swarm.samples_per_s = median(swarm_rates);
        raw.samples_per_s = median(raw_rates);
        swarm.p50_ms = median(p50s);
        raw.p50_ms = median(raw_p50s);
        print_result(out, first, backward ? "forward_backward" : "forward",
                     batch, a.clients, swarm, raw, median(ratios), a.json);
      }
      server.proc.stop();
    }
  } catch (const std::exception& e) {
    std::cerr << "bench throughput: " << e.what() << std::endl;
    return 1;
  }
  out << "]}";
  std::cout << out.str() << std::endl;
  fs::remove_all(dir);
  return 0;
}

} // namespace

void add_bench_throughput_command(CLI::App& bench) {
  auto a = std::make_shared<throughput_args>();
  auto* cmd = bench.add_subcommand(
      "throughput", "expert server samples/s vs the same expert computed "
                    "in-process (hivemind's benchmark_throughput)");
  cmd->add_option("--experts", a->experts, "ffn experts on the server");
  cmd->add_option("--hidden-dim", a->hidden_dim, "expert width (default 1024)");
  cmd->add_option("--clients", a->clients, "client processes (default 2)");
  cmd->add_option("--batch-sizes", a->batch_sizes, "rows per call")
      ->delimiter(',');
  cmd->add_option("--seconds", a->seconds, "seconds per measurement");
  cmd->add_option("--compute-threads", a->compute_threads,
                  "LibTorch threads of the server and baseline (0: all cores)");
  cmd->add_flag("--json", a->json, "print only the JSON line");
  cmd->callback([a] { exit_with(run_bench(*a)); });

  auto c = std::make_shared<client_args>();
  auto* client = bench.add_subcommand("throughput-client",
                                      "one client of bench throughput");
  client->group(""); // internal: started by `bench throughput`
  client->add_option("--address", c->address)->required();
  client->add_option("--uids", c->uids)->delimiter(',')->required();
  client->add_option("--hidden-dim", c->hidden_dim);
  client->add_option("--batch-size", c->batch);
  client->add_option("--seconds", c->seconds);
  client->add_flag("--backward,!--forward-only", c->backward);
  client->add_option("--pause-us", c->pause_us, "pause between calls");
  client->callback([c] { exit_with(run_client(*c)); });
}

} // namespace colony::apps
