// `colony bench moshpit`: Moshpit averaging at scale in one process. P
// averagers, each with its own identity and transport on loopback (the
// real wire), share a few DHT nodes (an averager only stores and looks up
// through its DHT actor, so D nodes carry P averagers' keys); their initial
// group bits place them on a grid of side `--group-size`
// (apps/bench/moshpit_grid.hpp). Each round every peer steps once, except
// a random `--drop` share that skips the round; the figure is the number of
// rounds until the peers' RMS distance to their mean falls below
// `--target` times what it was at the start, and the median wall time of a
// round. The baseline is the grid's ideal: d rounds for g^d peers.

#include "actors/averaging/averager.hpp"
#include "actors/averaging/averaging_atoms.hpp"
#include "actors/averaging/averaging_step.hpp"
#include "apps/bench/dht_swarm.hpp"
#include "apps/bench/moshpit_grid.hpp"
#include "apps/bench/sample_statistics.hpp"
#include "apps/cli/commands.hpp"
#include "apps/node/node.hpp"
#include "messages/error.hpp"
#include "runtime/logging.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <caf/all.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

namespace colony::apps {

namespace {

struct moshpit_args {
  size_t peers = 256;
  size_t group_size = 16;
  uint64_t floats = 10'000;
  double drop = 0;
  size_t rounds_max = 30;
  double target = 1e-6;
  // hivemind's default; 3 s splits groups of 16 when the machine is loaded.
  double min_matchmaking_time = 5.0;
  size_t dht_nodes = 16;
  uint64_t seed = 1;
  bool json = false;
};

using clock_type = std::chrono::steady_clock;

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

/// P averagers on D shared DHT nodes in one actor system.
class moshpit_swarm {
 public:
  moshpit_swarm(caf::actor_system& system, const moshpit_args& a,
                const moshpit_grid& grid)
      : system_(system), a_(a), grid_(grid),
        dhts_(system, swarm_dht_options(), transport_opts(), "bench-moshpit") {
    // nop
  }

  ~moshpit_swarm() {
    for (auto& averager : averagers_)
      caf::anon_send_exit(averager, caf::exit_reason::user_shutdown);
    for (auto& transport : own_transports_)
      caf::anon_send_exit(transport, caf::exit_reason::user_shutdown);
  }

  /// Starts the DHT nodes, then the averagers. Blocking.
  caf::error start() {
    auto dht_count = std::min(a_.dht_nodes, a_.peers);
    for (size_t i = 0; i < dht_count; ++i) {
      std::vector<std::string> initial;
      if (i > 0)
        initial.push_back(dhts_.at(0).transport.address);
      auto added = dhts_.add(initial);
      if (!added)
        return std::move(added.error());
    }
    for (size_t i = 0; i < a_.peers; ++i)
      if (auto err = add_averager(i))
        return err;
    return {};
  }

  [[nodiscard]] const std::vector<caf::actor>& averagers() const noexcept {
    return averagers_;
  }
  [[nodiscard]] const std::vector<at::Tensor>& tensors() const noexcept {
    return tensors_;
  }

 private:
  static dht::dht_options swarm_dht_options() {
    dht::dht_options o;
    o.refresh_period = std::chrono::milliseconds(0);
    return o;
  }

  static transport_options transport_opts() {
    transport_options o;
    // Hundreds of transports share one I/O thread: fewer heartbeats.
    o.heartbeat_interval = std::chrono::milliseconds(5000);
    o.peer_timeout = std::chrono::milliseconds(30000);
    return o;
  }

  caf::error add_averager(size_t i) {
    auto& host = dhts_.at(i % dhts_.size());
    std::shared_ptr<const identity> me;
    std::string address;
    caf::actor transport;
    if (i < dhts_.size()) {
      me = host.me;
      address = host.transport.address;
      transport = host.transport.actor;
    } else {
      auto id = identity::generate();
      if (!id)
        return std::move(id.error());
      me = std::make_shared<const identity>(std::move(*id));
      transport_config tcfg;
      tcfg.options = transport_opts();
      tcfg.swarm_id = "bench-moshpit";
      tcfg.me = me;
      tcfg.log = make_node_logger(me->peer_id().short_id(), log_level_);
      auto tr = spawn_transport(system_, std::move(tcfg));
      if (!tr)
        return std::move(tr.error());
      address = tr->address;
      transport = tr->actor;
      own_transports_.push_back(transport);
    }
    auto gen = at::detail::createCPUGenerator(a_.seed * 1'000'003 + i);
    auto tensor = at::randn({static_cast<int64_t>(a_.floats)}, gen,
                            at::TensorOptions(at::kFloat));
    averaging::averager_config ac;
    ac.tensors = {tensor};
    ac.transport = transport;
    ac.dht = host.dht;
    ac.self = averaging::peer_contact{me->peer_id(), address};
    auto& o = ac.options;
    o.prefix = "moshpit";
    o.target_group_size = a_.group_size;
    o.min_group_size = 2;
    o.initial_group_bits = initial_bits(grid_, i);
    o.min_matchmaking_time = millis(a_.min_matchmaking_time);
    o.next_chunk_timeout = std::chrono::milliseconds(5000);
    o.allow_state_sharing = false;
    ac.log = make_node_logger(me->peer_id().short_id(), log_level_);
    ac.seed = a_.seed * 7919 + i + 1;
    auto averager = averaging::spawn_averager(system_, std::move(ac));
    if (!averager)
      return std::move(averager.error());
    averagers_.push_back(*averager);
    tensors_.push_back(tensor);
    return {};
  }

  caf::actor_system& system_;
  const moshpit_args& a_;
  moshpit_grid grid_;
  dht_swarm dhts_;
  spdlog::level::level_enum log_level_ = spdlog::level::err;
  std::vector<caf::actor> own_transports_;
  std::vector<caf::actor> averagers_;
  std::vector<at::Tensor> tensors_;
};

/// RMS distance of the peers' tensors to their mean (float64).
double rms_deviation(const std::vector<at::Tensor>& tensors) {
  auto all = at::stack(tensors).to(at::kDouble);
  auto mean = all.mean(0, /*keepdim=*/true);
  return std::sqrt((all - mean).pow(2).sum().item<double>() /
                   static_cast<double>(tensors.size()));
}

/// One round's outcome.
struct round_record {
  double wall_s = 0;
  double deviation = 0;
  size_t stepped = 0;
  size_t averaged = 0;
  size_t groups = 0;
};

/// Steps every peer not in `skip` at once and waits for all of them.
round_record run_round(caf::actor_system& system, const moshpit_swarm& swarm,
                       const std::vector<bool>& skip, caf::timespan deadline) {
  round_record r;
  caf::scoped_actor self{system};
  auto t0 = clock_type::now();
  using handle = decltype(self->request(swarm.averagers().front(), deadline,
                                        averaging::step_atom::value,
                                        averaging::step_request{}));
  std::vector<handle> pending;
  for (size_t i = 0; i < swarm.averagers().size(); ++i) {
    if (skip[i])
      continue;
    // One search per round: a peer left without a group waits for the next.
    averaging::step_request request;
    pending.push_back(self->request(swarm.averagers()[i], deadline,
                                    averaging::step_atom::value,
                                    std::move(request)));
  }
  std::set<std::string> groups;
  for (auto& h : pending)
    h.receive(
        [&](const averaging::step_result& result) {
          ++r.averaged;
          groups.emplace(result.group.id.begin(), result.group.id.end());
        },
        [&](const caf::error&) {});
  r.wall_s = seconds_since(t0);
  r.stepped = pending.size();
  r.groups = groups.size();
  return r;
}

template <class T, class F>
std::string json_array(const std::vector<T>& items, F field) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < items.size(); ++i)
    out << (i ? "," : "") << field(items[i]);
  out << "]";
  return out.str();
}

int run_bench(const moshpit_args& a) {
  auto grid = make_moshpit_grid(a.peers, a.group_size);
  if (!grid) {
    std::cerr << "colony bench moshpit: " << describe(grid.error())
              << std::endl;
    return usage_error_status;
  }
  if (a.group_size > a.peers) {
    std::cerr << "colony bench moshpit: --group-size exceeds --peers"
              << std::endl;
    return usage_error_status;
  }
  auto cfg = make_system_config();
  caf::actor_system system{*cfg};
  auto setup_t0 = clock_type::now();
  auto swarm = std::make_unique<moshpit_swarm>(system, a, *grid);
  if (auto err = swarm->start()) {
    std::cerr << "colony bench moshpit: " << describe(err) << std::endl;
    return 1;
  }
  auto setup_s = seconds_since(setup_t0);
  auto initial = rms_deviation(swarm->tensors());
  std::mt19937_64 rng{a.seed};
  std::vector<round_record> rounds;
  std::optional<size_t> converged_at;
  auto deadline = caf::timespan{millis(4 * a.min_matchmaking_time + 120)};
  auto dropped = static_cast<size_t>(std::floor(a.drop * double(a.peers)));
  for (size_t round = 1; round <= a.rounds_max; ++round) {
    std::vector<size_t> order(a.peers);
    std::iota(order.begin(), order.end(), size_t{0});
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<bool> skip(a.peers, false);
    for (size_t k = 0; k < dropped; ++k)
      skip[order[k]] = true;
    auto r = run_round(system, *swarm, skip, deadline);
    r.deviation = rms_deviation(swarm->tensors()) / initial;
    if (!a.json)
      std::cerr << "round " << round << ": " << r.averaged << "/" << r.stepped
                << " averaged in " << r.groups << " groups, " << r.wall_s
                << " s, relative deviation " << r.deviation << std::endl;
    rounds.push_back(r);
    if (r.deviation <= a.target) {
      converged_at = round;
      break;
    }
  }
  std::vector<double> walls;
  for (const auto& r : rounds)
    walls.push_back(r.wall_s);
  std::cout << "{\"bench\":\"moshpit\",\"peers\":" << a.peers
            << ",\"group_size\":" << a.group_size
            << ",\"grid_dims\":" << grid->dims
            << ",\"key_bits\":" << grid->key_bits << ",\"floats\":" << a.floats
            << ",\"drop\":" << a.drop << ",\"dropped_per_round\":" << dropped
            << ",\"dht_nodes\":" << std::min(a.dht_nodes, a.peers)
            << ",\"min_matchmaking_time_s\":" << a.min_matchmaking_time
            << ",\"target_deviation\":" << a.target
            << ",\"converged\":" << (converged_at ? "true" : "false")
            << ",\"rounds\":";
  if (converged_at)
    std::cout << *converged_at;
  else
    std::cout << "null";
  std::cout
      << ",\"ideal_rounds\":" << grid->dims
      << ",\"round_s_median\":" << median(walls) << ",\"setup_s\":" << setup_s
      << ",\"deviation\":"
      << json_array(rounds, [](const round_record& r) { return r.deviation; })
      << ",\"round_s\":"
      << json_array(rounds, [](const round_record& r) { return r.wall_s; })
      << ",\"averaged\":"
      << json_array(rounds, [](const round_record& r) { return r.averaged; })
      << ",\"groups\":"
      << json_array(rounds, [](const round_record& r) { return r.groups; })
      << "}" << std::endl;
  swarm.reset();
  return 0;
}

} // namespace

void add_bench_moshpit_command(CLI::App& bench) {
  auto a = std::make_shared<moshpit_args>();
  auto* cmd = bench.add_subcommand(
      "moshpit", "Moshpit averaging of many peers in one process: rounds to "
                 "the global mean");
  cmd->add_option("--peers", a->peers, "averagers")
      ->check(CLI::Range(size_t{2}, size_t{4096}));
  cmd->add_option("--group-size", a->group_size,
                  "target group size, a power of two (the grid's side)")
      ->check(CLI::Range(size_t{2}, size_t{1024}));
  cmd->add_option("--floats", a->floats, "float32 elements per averager")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 28));
  cmd->add_option("--drop", a->drop,
                  "share of the peers that skip each round (drawn anew)")
      ->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--rounds-max", a->rounds_max, "rounds at most")
      ->check(CLI::Range(size_t{1}, size_t{1000}));
  cmd->add_option("--target", a->target,
                  "RMS distance to the mean, relative to the start, that "
                  "counts as converged")
      ->check(CLI::Range(1e-12, 1.0));
  cmd->add_option("--min-matchmaking-time", a->min_matchmaking_time,
                  "seconds a step looks for its group")
      ->check(CLI::Range(0.1, 60.0));
  cmd->add_option("--dht-nodes", a->dht_nodes, "DHT nodes the averagers share")
      ->check(CLI::Range(size_t{1}, size_t{4096}));
  cmd->add_option("--seed", a->seed, "seeds tensors, drops and groups");
  cmd->add_flag("--json", a->json, "print only the JSON line");
  cmd->callback([a] { exit_with(run_bench(*a)); });
}

} // namespace colony::apps
