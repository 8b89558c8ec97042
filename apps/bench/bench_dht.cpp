#include "actors/dht/dht_client.hpp"
#include "actors/dht/dht_messages.hpp"
#include "apps/bench/dht_swarm.hpp"
#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"

#include <caf/all.hpp>

#include <cstdio>
#include <iostream>
#include <numeric>
#include <random>

namespace colony::apps {

namespace {

struct bench_dht_args {
  size_t peers = 256;
  size_t keys = 500;
  double failure_rate = 0;
  size_t bootstrap_peers = 3;
  uint64_t seed = 1;
  double idle_timeout = 2.0;
  bool json = false;
};

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
      .count();
}

struct op_stats {
  size_t ok = 0;
  size_t total = 0;
  std::vector<double> ms;

  double mean() const {
    return ms.empty() ? 0
                      : std::accumulate(ms.begin(), ms.end(), 0.0) /
                            static_cast<double>(ms.size());
  }
};

int run_bench(const bench_dht_args& args) {
  auto cfg = make_system_config();
  caf::actor_system system{*cfg};
  dht::dht_options opts;
  opts.refresh_period = std::chrono::milliseconds(0);
  transport_options topts;
  // Many nodes share one process's file descriptors: quiet connections go.
  topts.idle_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(args.idle_timeout * 1000));
  auto swarm = std::make_unique<dht_swarm>(system, opts, topts, "bench");
  std::mt19937_64 rng{args.seed};
  // Start-up: each node joins through a few random earlier peers.
  auto t0 = clock_type::now();
  for (size_t i = 0; i < args.peers; ++i) {
    std::vector<std::string> initial;
    for (size_t j = 0; j < std::min(i, args.bootstrap_peers); ++j)
      initial.push_back(swarm->at(rng() % i).transport.address);
    auto added = swarm->add(initial);
    if (!added) {
      std::cerr << "node " << i
                << " failed to join: " << describe(added.error()) << std::endl;
      return 1;
    }
  }
  auto startup_s = ms_since(t0) / 1000;
  // Nodes to kill, at random moments spread over the store/get phase.
  std::vector<size_t> victims(args.peers);
  std::iota(victims.begin(), victims.end(), 0);
  std::shuffle(victims.begin(), victims.end(), rng);
  victims.resize(
      static_cast<size_t>(args.failure_rate * static_cast<double>(args.peers)));
  std::vector<size_t> kill_at; // operation index at which to kill
  auto total_ops = 2 * args.keys;
  for (size_t v = 0; v < victims.size(); ++v)
    kill_at.push_back(rng() % total_ops);
  auto random_alive = [&] {
    for (;;) {
      auto i = rng() % swarm->size();
      if (swarm->at(i).alive)
        return i;
    }
  };
  auto kill_due = [&](size_t op) {
    for (size_t v = 0; v < victims.size(); ++v)
      if (kill_at[v] == op)
        swarm->kill(victims[v]);
  };
  dht::dht_stats before{};
  for (size_t i = 0; i < swarm->size(); ++i)
    if (auto s = dht::dht_client{system, swarm->at(i).dht}.stats(
            std::chrono::seconds(5))) {
      before.lookups += s->lookups;
      before.requests_sent += s->requests_sent;
      before.lookup_hops += s->lookup_hops;
    }
  auto timeout = opts.wait_timeout * 10;
  op_stats stores, gets;
  std::vector<std::string> values(args.keys);
  for (size_t k = 0; k < args.keys; ++k) {
    kill_due(k);
    values[k] = "value-" + std::to_string(rng());
    dht::dht_client client{system, swarm->at(random_alive()).dht};
    auto t = clock_type::now();
    auto ok = client.store(dht::store_request{"key-" + std::to_string(k),
                                              {},
                                              false,
                                              values[k],
                                              dht::dht_time() + 600},
                           timeout);
    stores.ms.push_back(ms_since(t));
    stores.total++;
    stores.ok += ok && *ok;
  }
  for (size_t k = 0; k < args.keys; ++k) {
    kill_due(args.keys + k);
    dht::dht_client client{system, swarm->at(random_alive()).dht};
    auto t = clock_type::now();
    auto got = client.get("key-" + std::to_string(k), false, timeout);
    gets.ms.push_back(ms_since(t));
    gets.total++;
    gets.ok += got && got->found && got->value == values[k];
  }
  dht::dht_stats after{};
  for (size_t i = 0; i < swarm->size(); ++i)
    if (swarm->at(i).alive)
      if (auto s = dht::dht_client{system, swarm->at(i).dht}.stats(
              std::chrono::seconds(5))) {
        after.lookups += s->lookups;
        after.requests_sent += s->requests_sent;
        after.lookup_hops += s->lookup_hops;
      }
  auto lookups =
      after.lookups > before.lookups ? after.lookups - before.lookups : 0;
  auto requests = after.requests_sent > before.requests_sent
                      ? after.requests_sent - before.requests_sent
                      : 0;
  double requests_per_lookup = lookups == 0 ? 0
                                            : static_cast<double>(requests) /
                                                  static_cast<double>(lookups);
  auto hops = after.lookup_hops > before.lookup_hops
                  ? after.lookup_hops - before.lookup_hops
                  : 0;
  double hops_per_lookup =
      lookups == 0 ? 0
                   : static_cast<double>(hops) / static_cast<double>(lookups);
  auto rate = [](const op_stats& s) {
    return s.total == 0
               ? 0.0
               : static_cast<double>(s.ok) / static_cast<double>(s.total);
  };
  if (args.json) {
    std::printf(
        "{\"bench\":\"dht\",\"peers\":%zu,\"keys\":%zu,\"failure_rate\":%.3f,"
        "\"killed\":%zu,\"startup_s\":%.2f,"
        "\"store\":{\"success_rate\":%.4f,\"mean_ms\":%.2f,\"p50_ms\":%.2f,"
        "\"p99_ms\":%.2f},"
        "\"get\":{\"success_rate\":%.4f,\"mean_ms\":%.2f,\"p50_ms\":%.2f,"
        "\"p99_ms\":%.2f},"
        "\"requests_per_lookup\":%.2f,\"hops_per_lookup\":%.2f,"
        "\"hivemind_published_1024_peers\":{\"startup_s\":105,"
        "\"store_mean_ms\":14.9,\"get_mean_ms\":6.6,\"success_rate\":1.0}}\n",
        args.peers, args.keys, args.failure_rate, victims.size(), startup_s,
        rate(stores), stores.mean(), median(stores.ms),
        quantile(stores.ms, 0.99), rate(gets), gets.mean(), median(gets.ms),
        quantile(gets.ms, 0.99), requests_per_lookup, hops_per_lookup);
  } else {
    std::printf("%zu peers started in %.2f s; %zu killed during the run\n",
                args.peers, startup_s, victims.size());
    std::printf("store: %.2f%% ok, mean %.2f ms, p99 %.2f ms\n",
                100 * rate(stores), stores.mean(), quantile(stores.ms, 0.99));
    std::printf("get:   %.2f%% ok, mean %.2f ms, p99 %.2f ms\n",
                100 * rate(gets), gets.mean(), quantile(gets.ms, 0.99));
    std::printf("requests per lookup: %.2f, hops per lookup: %.2f\n",
                requests_per_lookup, hops_per_lookup);
  }
  swarm.reset();
  return 0;
}

} // namespace

void add_bench_dht_command(CLI::App& bench) {
  auto args = std::make_shared<bench_dht_args>();
  auto* cmd = bench.add_subcommand(
      "dht", "a swarm of DHT nodes on loopback: start-up, store/get latency "
             "and success, with nodes killed at random");
  cmd->add_option("--peers", args->peers, "DHT nodes");
  cmd->add_option("--keys", args->keys, "keys stored, then read back");
  cmd->add_option("--failure-rate", args->failure_rate,
                  "fraction of nodes killed during the run")
      ->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--bootstrap-peers", args->bootstrap_peers,
                  "earlier peers each node joins through");
  cmd->add_option("--seed", args->seed, "random seed");
  cmd->add_option("--idle-timeout", args->idle_timeout,
                  "seconds before a quiet connection closes");
  cmd->add_flag("--json", args->json, "print one JSON line");
  cmd->callback([args] { exit_with(run_bench(*args)); });
}

} // namespace colony::apps
