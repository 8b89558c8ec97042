// `colony bench flood`: per-peer fairness at an expert server. An honest
// client's latency of small calls alone, then while a flooding client
// process keeps hundreds of calls in flight at the same server; the server
// bounds what each peer may have it work on (transport.max_calls_per_peer)
// and batches round-robin over peers. The baseline is the same server
// without per-peer bounds, flooded alike.

#include "actors/moe/client/expert_client.hpp"
#include "actors/moe/expert_description.hpp"
#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "apps/swarm/child_process.hpp"
#include "messages/error.hpp"
#include "messages/tensor_codec.hpp"
#include "runtime/process_memory.hpp"
#include "runtime/transport/transport_atoms.hpp"

#include <ATen/ops/randn.h>
#include <caf/all.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace colony::apps {

namespace {

using flood_clock = std::chrono::steady_clock;

/// The expert the bench calls.
constexpr const char* flood_uid = "ffn.0";

/// Deadline of each call, honest or flooding.
constexpr std::chrono::seconds flood_call_timeout{10};

struct flood_args {
  int64_t hidden_dim = 256;
  int64_t rows = 1;
  size_t concurrency = 512;
  double seconds = 5;
  size_t max_calls_per_peer = 64;
  size_t compute_threads = 0;
  bool compare_unlimited = true;
  bool json = false;
};

struct flood_client_args {
  std::string address;
  int64_t hidden_dim = 256;
  int64_t rows = 1;
  size_t concurrency = 512;
  double seconds = 5;
  std::string ready_file;
};

/// Latencies of the honest client over one measurement.
struct honest_latency {
  double p50_ms = 0;
  double p90_ms = 0;
  size_t calls = 0;
  size_t failures = 0;
};

/// CPU seconds (user + system) process `pid` used so far; 0 if unknown.
double cpu_seconds_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state is 3rd; utime 14th, stime 15th.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// -- the flooding client process -----------------------------------------

int run_flood_client(const flood_client_args& a) {
  node_config cfg;
  cfg.client_mode = true;
  cfg.log_level = "error";
  cfg.compute_threads = 1;
  auto n = node::start(cfg);
  if (!n) {
    std::cerr << describe(n.error()) << std::endl;
    return 1;
  }
  auto body = encode_tensors({at::randn({a.rows, a.hidden_dim})},
                             compression_type::none);
  if (!body) {
    std::cerr << describe(body.error()) << std::endl;
    return 1;
  }
  auto service = moe::expert_service(flood_uid, "forward");
  auto transport = (*n)->transport();
  caf::scoped_actor self{(*n)->system()};
  auto start_one = [&] {
    self->send(transport, start_call_atom::value, a.address, service, *body,
               caf::timespan{flood_call_timeout});
  };
  auto start = flood_clock::now();
  auto end = start + std::chrono::duration_cast<flood_clock::duration>(
                         std::chrono::duration<double>(a.seconds));
  size_t in_flight = a.concurrency;
  for (size_t i = 0; i < a.concurrency; ++i)
    start_one();
  size_t served = 0, refused = 0, other = 0;
  std::string other_reason;
  bool ready = false;
  bool stuck = false;
  // Every outcome starts the next call at once, until the time is up.
  auto next = [&] {
    --in_flight;
    if (!ready && !a.ready_file.empty()) {
      std::ofstream(a.ready_file) << "flooding\n";
      ready = true;
    }
    if (flood_clock::now() < end) {
      start_one();
      ++in_flight;
    }
  };
  while (in_flight > 0 && !stuck)
    self->receive([](uint64_t) {},
                  [&](call_result_atom, uint64_t, envelope&) {
                    ++served;
                    next();
                  },
                  [&](call_result_atom, uint64_t, caf::error& err) {
                    if (is_error(err, errc::overloaded)) {
                      ++refused;
                    } else {
                      ++other;
                      if (other_reason.empty())
                        other_reason = describe(err);
                    }
                    next();
                  },
                  caf::after(flood_call_timeout + std::chrono::seconds(5)) >>
                      [&] { stuck = true; });
  auto secs = seconds_since(start);
  std::cout << "{\"served\":" << served << ",\"refused\":" << refused
            << ",\"other\":" << other << ",\"seconds\":" << secs << "}"
            << std::endl;
  if (!other_reason.empty())
    std::cerr << "first other error: " << other_reason << std::endl;
  return 0;
}

// -- the benchmark ----------------------------------------------------------

/// Reads `"key":number` from a JSON line.
double flood_json_number(const std::string& line, const std::string& key) {
  auto pos = line.find("\"" + key + "\":");
  if (pos == std::string::npos)
    return 0;
  return std::stod(line.substr(pos + key.size() + 3));
}

/// The honest client: one call at a time for `seconds`.
honest_latency measure_honest(node& n, const std::string& address,
                              const flood_args& a, double seconds) {
  moe::expert_client client{n.system(), n.transport()};
  auto x = at::randn({a.rows, a.hidden_dim});
  for (int i = 0; i < 20; ++i)
    (void)client.forward(address, flood_uid, {x}, flood_call_timeout);
  std::vector<double> latencies;
  honest_latency m;
  auto start = flood_clock::now();
  while (seconds_since(start) < seconds) {
    auto t0 = flood_clock::now();
    auto out = client.forward(address, flood_uid, {x}, flood_call_timeout);
    auto ms = seconds_since(t0) * 1000;
    if (!out) {
      ++m.failures;
      continue;
    }
    latencies.push_back(ms);
  }
  m.calls = latencies.size();
  m.p50_ms = median(latencies);
  m.p90_ms = quantile(latencies, 0.9);
  return m;
}

/// One server's figures: honest latency alone and under the flood.
struct flood_run {
  honest_latency alone;
  honest_latency flooded;
  double flooder_served = 0;
  double flooder_refused = 0;
  double flooder_other = 0;
  double rss_before_mb = 0;
  double rss_after_mb = 0;
  double peak_rss_mb = 0;
  double server_cpu_s = 0;
};

constexpr double flood_mib = 1024.0 * 1024.0;

flood_run run_flood_once(const flood_args& a, const std::filesystem::path& dir,
                         node& honest, bool limited) {
  auto addr_path = (dir / "server.addr").string();
  std::filesystem::remove(addr_path);
  std::vector<std::string> argv{
      self_executable(),
      "server",
      "--expert-uids",
      flood_uid,
      "--hidden-dim",
      std::to_string(a.hidden_dim),
      "--optimizer",
      "none",
      "--address-file",
      addr_path,
      "--set",
      "node.compute_threads=" + std::to_string(a.compute_threads),
      "--set",
      "node.log_level=warn",
      "--set",
      "transport.max_calls_per_peer=" +
          std::to_string(limited ? a.max_calls_per_peer : 0),
  };
  if (!limited) {
    argv.push_back("--set");
    argv.push_back("transport.max_request_bytes_per_peer=0");
  }
  auto server_log =
      (dir / (limited ? "server.log" : "server-unlimited.log")).string();
  auto server = child_process::spawn(argv, server_log);
  if (!server)
    throw std::runtime_error(describe(server.error()));
  auto address = wait_for_file_line(addr_path, std::chrono::seconds(60));
  if (!address)
    throw std::runtime_error("server did not start; see " + server_log);
  flood_run r;
  r.alone = measure_honest(honest, *address, a, a.seconds);
  r.rss_before_mb = resident_set_bytes(server->pid()) / flood_mib;
  // The flooder floods for the honest measurement and a margin on both
  // sides; the honest client starts once the flood is under way.
  auto ready = (dir / "flooder.ready").string();
  std::filesystem::remove(ready);
  auto flooder_log = (dir / "flooder.out").string();
  std::ostringstream secs;
  secs << a.seconds + 3;
  auto flooder = child_process::spawn(
      {self_executable(), "bench", "flood-client", "--address", *address,
       "--hidden-dim", std::to_string(a.hidden_dim), "--rows",
       std::to_string(a.rows), "--concurrency", std::to_string(a.concurrency),
       "--seconds", secs.str(), "--ready-file", ready},
      flooder_log);
  if (!flooder)
    throw std::runtime_error(describe(flooder.error()));
  if (!wait_for_file_line(ready, std::chrono::seconds(30)))
    throw std::runtime_error("the flooder did not start; see " + flooder_log);
  auto cpu0 = cpu_seconds_of(server->pid());
  r.flooded = measure_honest(honest, *address, a, a.seconds);
  r.server_cpu_s = cpu_seconds_of(server->pid()) - cpu0;
  auto rc = flooder->wait_for(std::chrono::seconds(60));
  std::ifstream in(flooder_log);
  std::string line, last;
  while (std::getline(in, line))
    if (line.rfind("{\"served\"", 0) == 0)
      last = line;
  if (rc != 0 || last.empty())
    throw std::runtime_error("the flooder failed; see " + flooder_log);
  r.flooder_served = flood_json_number(last, "served");
  r.flooder_refused = flood_json_number(last, "refused");
  r.flooder_other = flood_json_number(last, "other");
  r.rss_after_mb = resident_set_bytes(server->pid()) / flood_mib;
  r.peak_rss_mb = peak_resident_set_bytes(server->pid()) / flood_mib;
  server->stop();
  return r;
}

void print_flood_run(std::ostream& out, const flood_run& r) {
  out << "\"honest_p50_ms_alone\":" << r.alone.p50_ms
      << ",\"honest_p90_ms_alone\":" << r.alone.p90_ms
      << ",\"honest_p50_ms_flood\":" << r.flooded.p50_ms
      << ",\"honest_p90_ms_flood\":" << r.flooded.p90_ms
      << ",\"ratio_p50\":" << r.flooded.p50_ms / r.alone.p50_ms
      << ",\"honest_calls_flood\":" << r.flooded.calls
      << ",\"honest_failures_flood\":" << r.flooded.failures
      << ",\"flooder_served\":" << r.flooder_served
      << ",\"flooder_refused\":" << r.flooder_refused
      << ",\"flooder_other_errors\":" << r.flooder_other
      << ",\"server_rss_mb_before\":" << r.rss_before_mb
      << ",\"server_rss_mb_after\":" << r.rss_after_mb
      << ",\"server_peak_rss_mb\":" << r.peak_rss_mb
      << ",\"server_cpu_s_during_flood\":" << r.server_cpu_s;
}

int run_flood_bench(const flood_args& a) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() /
             ("colony-bench-flood-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  node_config cfg;
  cfg.client_mode = true;
  cfg.log_level = "warn";
  cfg.compute_threads = 1;
  auto honest = node::start(cfg);
  if (!honest) {
    std::cerr << describe(honest.error()) << std::endl;
    return 1;
  }
  std::ostringstream out;
  out << "{\"bench\":\"flood\",\"hidden_dim\":" << a.hidden_dim
      << ",\"rows\":" << a.rows << ",\"concurrency\":" << a.concurrency
      << ",\"seconds\":" << a.seconds
      << ",\"max_calls_per_peer\":" << a.max_calls_per_peer << ",";
  try {
    auto limited = run_flood_once(a, dir, **honest, true);
    print_flood_run(out, limited);
    if (!a.json)
      std::cerr << "honest p50 " << limited.alone.p50_ms << " ms alone, "
                << limited.flooded.p50_ms << " ms under the flood ("
                << limited.flooded.p50_ms / limited.alone.p50_ms
                << "x); flooder served " << limited.flooder_served
                << ", refused " << limited.flooder_refused << std::endl;
    if (a.compare_unlimited) {
      auto unlimited = run_flood_once(a, dir, **honest, false);
      out << ",\"unlimited\":{";
      print_flood_run(out, unlimited);
      out << "}";
      if (!a.json)
        std::cerr << "without per-peer bounds: honest p50 "
                  << unlimited.alone.p50_ms << " ms alone, "
                  << unlimited.flooded.p50_ms << " ms under the flood ("
                  << unlimited.flooded.p50_ms / unlimited.alone.p50_ms << "x)"
                  << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench flood: " << e.what() << std::endl;
    return 1;
  }
  out << "}";
  std::cout << out.str() << std::endl;
  fs::remove_all(dir);
  return 0;
}

} // namespace

void add_bench_flood_command(CLI::App& bench) {
  auto a = std::make_shared<flood_args>();
  auto* cmd = bench.add_subcommand(
      "flood", "an honest client's latency while another floods the same "
               "expert server (per-peer limits)");
  cmd->add_option("--hidden-dim", a->hidden_dim, "expert width (default 256)");
  cmd->add_option("--rows", a->rows, "rows per call (default 1)");
  cmd->add_option("--concurrency", a->concurrency,
                  "the flooder's calls in flight (default 512)");
  cmd->add_option("--seconds", a->seconds, "seconds per measurement");
  cmd->add_option("--max-calls-per-peer", a->max_calls_per_peer,
                  "the server's transport.max_calls_per_peer (default 64)");
  cmd->add_option("--compute-threads", a->compute_threads,
                  "LibTorch threads of the server (0: all cores)");
  cmd->add_flag("--compare-unlimited,!--no-compare-unlimited",
                a->compare_unlimited,
                "also flood a server without per-peer bounds (default on)");
  cmd->add_flag("--json", a->json, "print only the JSON line");
  cmd->callback([a] { exit_with(run_flood_bench(*a)); });

  auto c = std::make_shared<flood_client_args>();
  auto* client =
      bench.add_subcommand("flood-client", "the flooder of bench flood");
  client->group(""); // internal: started by `bench flood`
  client->add_option("--address", c->address)->required();
  client->add_option("--hidden-dim", c->hidden_dim);
  client->add_option("--rows", c->rows);
  client->add_option("--concurrency", c->concurrency);
  client->add_option("--seconds", c->seconds);
  client->add_option("--ready-file", c->ready_file);
  client->callback([c] { exit_with(run_flood_client(*c)); });
}

} // namespace colony::apps
