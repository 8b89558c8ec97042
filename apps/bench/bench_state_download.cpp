// `colony bench state`: a peer downloads M megabytes of averager state
// from another with `load_state_from_peers` (DHT lookup, snapshot, parts
// through the state server, every part checked), two nodes of their own
// (actor system, transport, DHT) in this process talking over loopback TCP.
// The figure is the median throughput of a download; the baseline, plain
// blocking TCP moving the same bytes on loopback in the same run. Every
// download is compared with the served tensors, bit for bit.

#include "actors/averaging/averager.hpp"
#include "actors/averaging/state_loader.hpp"
#include "apps/bench/raw_tcp_baseline.hpp"
#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <caf/all.hpp>

#include <iostream>
#include <memory>
#include <thread>

namespace colony::apps {

namespace {

struct state_args {
  double megabytes = 100;
  size_t tensors = 4;
  size_t repeats = 3;
  uint64_t part_size_kib = 512;
  uint32_t parts_in_flight = averaging::default_state_parts_in_flight;
  bool plain = false; ///< transport.encryption = false on both nodes
  bool json = false;
};

using clock_type = std::chrono::steady_clock;

node_config download_peer_config(std::vector<std::string> initial_peers,
                                 bool plain) {
  node_config cfg;
  cfg.transport.encryption = !plain;
  cfg.listen = "127.0.0.1:0";
  cfg.swarm_id = "bench-state";
  cfg.log_level = "warn";
  cfg.dht_enabled = true;
  cfg.initial_peers = std::move(initial_peers);
  return cfg;
}

/// `count` float32 tensors of `bytes` in all, normal noise.
std::vector<at::Tensor> state_tensors(uint64_t bytes, size_t count) {
  auto gen = at::detail::createCPUGenerator(42);
  auto total = static_cast<int64_t>(bytes / sizeof(float));
  auto each = total / static_cast<int64_t>(count);
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < count; ++i) {
    auto n = i + 1 == count ? total - each * int64_t(count - 1) : each;
    out.push_back(at::randn({n}, gen, at::TensorOptions(at::kFloat)));
  }
  return out;
}

/// Whether `got` holds exactly `served`: count, dtypes, shapes and bytes.
bool same_bytes(const std::vector<at::Tensor>& served,
                const std::vector<at::Tensor>& got) {
  if (served.size() != got.size())
    return false;
  for (size_t i = 0; i < served.size(); ++i) {
    const auto& a = served[i];
    const auto& b = got[i];
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes())
      return false;
    auto ac = a.contiguous();
    auto bc = b.contiguous();
    if (std::memcmp(ac.data_ptr(), bc.data_ptr(), ac.nbytes()) != 0)
      return false;
  }
  return true;
}

/// The serving node and its averager, and the downloading node.
struct state_pair {
  std::unique_ptr<node> server;
  std::unique_ptr<node> client;
  caf::actor averager;
  std::vector<at::Tensor> tensors;

  ~state_pair() {
    if (averager)
      caf::anon_send_exit(averager, caf::exit_reason::user_shutdown);
    client.reset();
    server.reset();
  }
};

caf::error start_pair(state_pair& pair, const state_args& a, uint64_t bytes) {
  auto server = node::start(download_peer_config({}, a.plain));
  if (!server)
    return std::move(server.error());
  pair.server = std::move(*server);
  pair.tensors = state_tensors(bytes, a.tensors);
  averaging::averager_config ac;
  ac.tensors = pair.tensors;
  ac.transport = pair.server->transport();
  ac.dht = pair.server->dht();
  ac.self = averaging::peer_contact{pair.server->me().peer_id(),
                                    pair.server->address()};
  ac.options.prefix = "bench";
  ac.options.allow_state_sharing = true;
  ac.options.part_size_bytes = a.part_size_kib << 10;
  ac.log = pair.server->shared_log();
  auto averager = averaging::spawn_averager(pair.server->system(), ac);
  if (!averager)
    return std::move(averager.error());
  pair.averager = *averager;
  auto client =
      node::start(download_peer_config({pair.server->address()}, a.plain));
  if (!client)
    return std::move(client.error());
  pair.client = std::move(*client);
  if (auto joined = pair.client->join_dht(); !joined)
    return std::move(joined.error());
  return {};
}

caf::expected<averaging::downloaded_state> download(state_pair& pair,
                                                    const state_args& a) {
  averaging::state_loader_config c;
  c.transport = pair.client->transport();
  c.dht = pair.client->dht();
  c.self = pair.client->me().peer_id();
  c.prefix = "bench";
  c.timeout = std::chrono::seconds(300);
  c.parts_in_flight = a.parts_in_flight;
  c.expected = averaging::state_tensor_infos(pair.tensors);
  c.log = pair.client->shared_log();
  return averaging::load_state_from_peers(pair.client->system(), std::move(c));
}

int run_bench(const state_args& a) {
  auto bytes =
      static_cast<uint64_t>(a.megabytes * 1e6) / sizeof(float) * sizeof(float);
  if (bytes < a.tensors * sizeof(float)) {
    std::cerr << "colony bench state: --megabytes too small for --tensors"
              << std::endl;
    return usage_error_status;
  }
  state_pair pair;
  if (auto err = start_pair(pair, a, bytes)) {
    std::cerr << "colony bench state: " << describe(err) << std::endl;
    return 1;
  }
  // Warm-up: the declaration reaches the client's DHT view, the
  // connection is made, the allocator has seen a state this size.
  caf::expected<averaging::downloaded_state> first{caf::error{}};
  auto deadline = clock_type::now() + std::chrono::seconds(30);
  do {
    first = download(pair, a);
    if (!first)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (!first && clock_type::now() < deadline);
  if (!first) {
    std::cerr << "colony bench state: " << describe(first.error()) << std::endl;
    return 1;
  }
  bool verified = same_bytes(pair.tensors, first->tensors);
  first = caf::error{};
  std::vector<double> colony_s;
  for (size_t i = 0; i < a.repeats && verified; ++i) {
    auto t0 = clock_type::now();
    auto got = download(pair, a);
    auto took = seconds_since(t0);
    if (!got) {
      std::cerr << "colony bench state: " << describe(got.error()) << std::endl;
      return 1;
    }
    verified = same_bytes(pair.tensors, got->tensors);
    colony_s.push_back(took);
  }
  if (!verified) {
    std::cerr << "colony bench state: the downloaded state differs from the "
                 "served one"
              << std::endl;
    return 1;
  }
  std::vector<double> raw_s;
  for (double ms : raw_tcp_bulk(bytes, a.repeats))
    raw_s.push_back(ms / 1e3);
  auto mb = double(bytes) / 1e6;
  auto colony_mb_s = mb / median(colony_s);
  auto raw_mb_s = mb / median(raw_s);
  if (!a.json)
    std::cerr << "colony: " << colony_mb_s << " MB/s, raw TCP: " << raw_mb_s
              << " MB/s" << std::endl;
  std::cout << "{\"bench\":\"state\",\"bytes\":" << bytes
            << ",\"megabytes\":" << mb << ",\"tensors\":" << a.tensors
            << ",\"part_size_bytes\":" << (a.part_size_kib << 10)
            << ",\"parts_in_flight\":" << a.parts_in_flight
            << ",\"encryption\":" << (a.plain ? "false" : "true")
            << ",\"repeats\":" << a.repeats << ",\"verified\":true"
            << ",\"colony_s\":" << median(colony_s)
            << ",\"colony_mb_s\":" << colony_mb_s
            << ",\"raw_tcp_s\":" << median(raw_s)
            << ",\"raw_tcp_mb_s\":" << raw_mb_s
            << ",\"ratio\":" << colony_mb_s / raw_mb_s << "}" << std::endl;
  return 0;
}

} // namespace

void add_bench_state_command(CLI::App& bench) {
  auto a = std::make_shared<state_args>();
  auto* cmd = bench.add_subcommand(
      "state", "state download (load_state_from_peers) against raw TCP");
  cmd->add_option("--megabytes", a->megabytes, "state size (10^6 bytes)")
      ->check(CLI::Range(0.001, 4000.0));
  cmd->add_option("--tensors", a->tensors, "float32 tensors the state holds")
      ->check(CLI::Range(size_t{1}, size_t{1024}));
  cmd->add_option("--repeats", a->repeats,
                  "measured downloads (after one warm-up)")
      ->check(CLI::Range(size_t{1}, size_t{100}));
  cmd->add_option("--part-size-kib", a->part_size_kib,
                  "part size of the snapshot (KiB)")
      ->check(CLI::Range(uint64_t{4}, uint64_t{65536}));
  cmd->add_option("--parts-in-flight", a->parts_in_flight,
                  "part requests the downloader keeps in flight")
      ->check(CLI::Range(uint32_t{1}, uint32_t{64}));
  cmd->add_flag("--plain", a->plain,
                "both nodes with transport.encryption = false");
  cmd->add_flag("--json", a->json, "print only the JSON line");
  cmd->callback([a] { exit_with(run_bench(*a)); });
}

} // namespace colony::apps
